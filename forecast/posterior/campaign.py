"""The campaign level on posterior draws: the endgame after the cut-off and the holdouts left."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from forecast.posterior import endgame
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.own import state


def under(draws: PosteriorDraws, assume: Mapping[str, str]) -> PosteriorDraws:
    """The draws with the campaign level's endgame for the holdouts left under ``assume``:
    those at the cut-off less each holdout assumed to endorse (an assumed refusal is a
    veto, ``predict.success``). The same draws when that number is unchanged, or the draws carry
    no coefficients.

    The endgame's location and P(a fixed date binds) depend on the holdouts left
    (``forecast.model.campaign_level``: ``log1p(holdouts)`` is a covariate of both, and
    "none left" of the location), so a holdout assumed to endorse shortens the endgame
    as a fit with its endorsement does; the clock's shift follows the location
    (``clock_shift``).
    The derived draws are kept in the draws' cache, one per number of holdouts left.
    """
    if draws.endgame_base is None or draws.holdout is None:
        return draws
    endorsing = [draws.codes.index(c) for c, outcome in assume.items() if outcome == "endorsed"]
    left = draws.holdouts - int((draws.holdout[endorsing] > 0).sum())
    if left == draws.holdouts:
        return draws
    key = ("holdouts_left", left)
    if key not in draws._cache:
        z = endgame.covariates(left, draws.rival)
        location = draws.endgame_base + draws.endgame_coef @ z
        focal = 1.0 / (1.0 + np.exp(-(draws.focal_base + draws.focal_holdouts * z[0])))
        derived = dataclasses.replace(
            draws, endgame_location=location, endgame_focal=focal, _cache={}
        )
        derived._cache["state"] = state(draws)  # the allies' own state is unchanged
        draws._cache[key] = derived
    return draws._cache[key]


def endgame_cdf(draws: PosteriorDraws, day: np.ndarray) -> np.ndarray:
    """P(the endgame has come by ``day`` | it had not by the cut-off), per draw.

    ``day`` has shape (draw,) or (draw, k); the result has the same shape.
    """
    day = np.asarray(day, dtype=float)
    if draws.withdrawn:  # the campaign ended at the cut-off
        return np.where(day > draws.censor_day, 1.0, 0.0)
    extra = (slice(None),) + (None,) * (day.ndim - 1)
    start = endgame_start(draws)[extra]
    f_x = endgame.cdf(day - draws.emerged_offset, *endgame_parameters(draws, extra))
    value = np.clip((f_x - start) / (1.0 - start), 0.0, 1.0)
    return np.where(day > draws.censor_day, value, 0.0)


def endgame_parameters(draws: PosteriorDraws, extra: tuple = (slice(None),)) -> tuple:
    """The endgame's per-draw parameters (indexed by ``extra`` to broadcast), its
    calendar and the clock's shift, in the argument order of ``forecast.posterior.endgame``."""
    return (
        draws.endgame_location[extra],
        draws.endgame_shape[extra],
        draws.endgame_focal[extra],
        np.asarray(draws.calendar_days, dtype=float),
        *draws.focal_window,
        clock_shift(draws)[extra],
    )


def clock_shift(draws: PosteriorDraws) -> np.ndarray:
    """Per draw, the shift that carries the clock's past into the endgame at the
    holdouts left (``endgame.clock_shift``); 0 for draws stored without a clock."""
    if draws.endgame_clock is None or draws.endgame_base is None:
        return np.zeros(draws.n_draws)
    elapsed = draws.censor_day - draws.emerged_offset
    return endgame.clock_shift(
        draws.endgame_clock, draws.endgame_location, draws.endgame_base, elapsed
    )


def endgame_start(draws: PosteriorDraws) -> np.ndarray:
    """F_E at the cut-off per draw: the endgame had not come by then."""
    elapsed = np.full(draws.n_draws, draws.censor_day - draws.emerged_offset)
    start = endgame.cdf(elapsed, *endgame_parameters(draws))
    return np.minimum(start, 1.0 - 1e-12)
