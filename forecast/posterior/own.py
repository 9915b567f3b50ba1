"""Each ally's own decision per draw, before any endgame: ``G(x)`` and the what-ifs on it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from forecast.posterior import timing
from forecast.posterior.draws import PER_DRAW, PosteriorDraws

ASSUMPTIONS: tuple[str, ...] = ("endorsed", "opposed")


def validate_assume(draws: PosteriorDraws, assume: Mapping[str, str] | None) -> dict[str, str]:
    """The what-if outcomes per ally code, checked against the draws' allies and
    ``ASSUMPTIONS`` (``KeyError`` or ``ValueError`` naming the valid ones)."""
    assume = dict(assume or {})
    for code, outcome in assume.items():
        if code not in draws.codes:
            raise KeyError(f"unknown ally {code!r}; valid: {', '.join(sorted(draws.codes))}")
        if outcome not in ASSUMPTIONS:
            raise ValueError(f"unknown outcome {outcome!r}; valid: {', '.join(ASSUMPTIONS)}")
    return assume


def state(draws: PosteriorDraws) -> dict[str, np.ndarray]:
    """Per draw and ally: w, the survival term, and F(c) (cached on the draws)."""
    if "state" in draws._cache:
        return draws._cache["state"]
    pi = draws.p_endorse
    shape = draws.shape[:, None]
    c = draws.censor_day
    f_c = timing.cdf(draws.timing, np.asarray(c), draws.location, shape)
    surv = pi * (1.0 - f_c)
    base = (1.0 - pi) + surv  # P(no endorsement by c)
    # Posterior probability that a report of support is true (left-censored reports).
    t = np.maximum(draws.event_day, 1e-6)
    f_t = timing.cdf(draws.timing, t[None, :], draws.location, shape)
    r = draws.reliability[None, :]
    true_mass = r * pi * f_t
    denominator = true_mass + (1.0 - r) * base
    w = np.divide(true_mass, denominator, out=np.zeros_like(true_mass), where=denominator > 0)
    w = np.where(draws.event[None, :] > 0, w, 0.0)
    w = np.where((draws.event[None, :] > 0) & (r >= 1.0), 1.0, w)
    # After the cut-off every report is in the past: G(x) = w + (1 - w) * pi * (F(x) -
    # F(c)) / base, linear in F(x) with these coefficients.
    slope = (1.0 - w) * pi / base
    state = {"w": w, "base": base, "f_c": f_c, "slope": slope, "offset": w - slope * f_c}
    draws._cache["state"] = state
    return state


def own_endorsed_by(
    draws: PosteriorDraws, day: np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(ally i has decided to endorse by ``day`` on its own), per draw, before any endgame.

    Parameters
    ----------
    day
        Days from the campaign start, shape (draw,) or (draw, k) for k days per draw.

    Returns
    -------
    numpy.ndarray
        Shape (draw, ally) or (draw, ally, k).
    """
    assume = validate_assume(draws, assume)
    st = state(draws)
    day = np.asarray(day, dtype=float)
    grid = day.ndim == 2
    x = day[:, None, :] if grid else day[:, None]  # (S, 1[, K])

    def per_ally(a: np.ndarray) -> np.ndarray:
        return a[:, :, None] if grid else a

    shape = draws.shape[:, None, None] if grid else draws.shape[:, None]
    f_x = timing.cdf(draws.timing, x, per_ally(draws.location), shape)
    after = per_ally(st["offset"]) + per_ally(st["slope"]) * f_x
    if (day > draws.censor_day).all():  # the endgame's grid: every day after the cut-off
        value = after
    else:
        reported = x >= per_ally(draws.event_day[None, :])
        value = np.where(x > draws.censor_day, after, per_ally(st["w"]) * reported)
    for code, outcome in assume.items():
        i = draws.codes.index(code)
        if outcome == "opposed":
            value[:, i] = 0.0
        elif draws.status[i] != "endorsed":
            # Endorsed by the cut-off at the latest; a report dated earlier still counts
            # before it (setting 0 there would let "endorsed" lower a probability).
            value[:, i] = np.where(x[:, 0] >= draws.censor_day, 1.0, value[:, i])
    return value


def rows_of(draws: PosteriorDraws, rows: slice | np.ndarray) -> PosteriorDraws:
    """The draws of ``rows`` (a slice or indices). Their cache holds the rows of the
    per-draw state (``state``, computed once on all draws) and nothing else."""
    fields = {k: getattr(draws, k) for k in draws.__dataclass_fields__ if k != "_cache"}
    per_draw = {k: fields[k][rows] for k in PER_DRAW if fields[k] is not None}
    part = PosteriorDraws(**{**fields, **per_draw})
    part._cache["state"] = {k: v[rows] for k, v in state(draws).items()}
    return part
