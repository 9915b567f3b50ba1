"""What each ally's decision would change: P(confirmed by D) if it endorsed, and if it refused."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from forecast.posterior import predict
from forecast.posterior.campaign import endgame_cdf, under
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.grid import by_blocks, cumulative, endgame_grid, integral_to, others_product
from forecast.posterior.own import own_endorsed_by, validate_assume


def pivotal(
    draws: PosteriorDraws, day: float | np.ndarray, assume: Mapping[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """P(confirmed by each day) if each ally endorsed at the cut-off, and if it refused.

    Equal, ally by ally, to ``predict.confirmed_by(draws, day, assume | {code: outcome})``,
    but computed for every ally at once from the endgame grid ``predict.confirmed_by``
    already uses: with ally ``i`` endorsed, ``G_i`` is 1 from the cut-off on, so the
    members' product becomes ``M_{-i}``, the product over the other members (prefix and
    suffix products along the ally axis), on the grid and at each day. A member's
    standing refusal is a veto (0); a non-member's decision leaves confirmation as it is.
    A holdout's endorsement also leaves one holdout fewer, and its value is computed on
    that state's endgame (``campaign.under``).

    Parameters
    ----------
    day
        Days from the campaign start: a scalar or a 1-d array of k days.
    assume
        What-if outcomes already assumed (an ally named here keeps its assumption's value).

    Returns
    -------
    (if_endorses, if_refuses)
        Each of shape (draw, ally, k).
    """
    assume = validate_assume(draws, assume)
    days = np.atleast_1d(np.asarray(day, dtype=float))
    base = predict.confirmed_by(draws, days, assume)  # (S, k)
    n_allies = len(draws.codes)
    members = draws.member > 0
    if_endorses = np.repeat(base[:, None, :], n_allies, axis=1)
    if_refuses = if_endorses.copy()
    if_refuses[:, members, :] = 0.0
    changes = members & np.array(
        [
            code not in assume and status != "endorsed"
            for code, status in zip(draws.codes, draws.status, strict=True)
        ]
    )
    if not changes.any():
        return if_endorses, if_refuses
    # The members whose decision is open, and every other member.
    open_, rest = np.flatnonzero(changes), np.flatnonzero(members & ~changes)
    # Each what-if is conditioned on the record as ``confirmed_by`` is (``not_yet``).
    before = predict.confirmed_by_cut_off(draws)
    value = _if_endorses(under(draws, assume), days, assume, open_, rest)
    # A holdout's endorsement also leaves one holdout fewer: the endgame of that state
    # (the same for every holdout, so one more pass).
    holding = open_[draws.holdout[open_] > 0] if draws.holdout is not None else open_[:0]
    if holding.size:
        fewer = under(draws, {**assume, draws.codes[holding[0]]: "endorsed"})
        if fewer is not under(draws, assume):
            others = np.setdiff1d(np.flatnonzero(members), holding)
            value[:, np.isin(open_, holding)] = _if_endorses(fewer, days, assume, holding, others)
    if_endorses[:, open_, :] = predict.not_yet(value, before)
    return if_endorses, if_refuses


def _if_endorses(
    draws: PosteriorDraws,
    days: np.ndarray,
    assume: Mapping[str, str],
    open_: np.ndarray,
    rest: np.ndarray,
) -> np.ndarray:
    """P(confirmed by each day) if each member of ``open_`` endorsed at the cut-off,
    shape (draw, open, k): the members' product becomes the product over the others
    (``rest`` and the other open members) on the endgame's grid and at each day."""
    members = draws.member > 0

    def others(g: np.ndarray) -> np.ndarray:
        """(S, open, ...): per open member, the product of G over the other members."""
        return others_product(g[:, open_]) * np.prod(g[:, rest], axis=1, keepdims=True)

    x = days[None, :] - draws.decision_lag[:, None]  # (S, k)
    if draws.withdrawn:
        x = np.minimum(x, draws.censor_day)
    g = own_endorsed_by(draws, x, assume)  # (S, N, k)
    # Endorsed from the cut-off on (``own_endorsed_by``'s rule for an assumed endorsement).
    own = np.where(
        x[:, None, :] >= draws.censor_day,
        others(g),
        np.prod(g[:, members], axis=1, keepdims=True),
    )
    if draws.withdrawn:
        return own
    u = endgame_cdf(draws, x)
    grid = endgame_grid(draws, assume)
    integral = np.empty((draws.n_draws, open_.size, days.size))  # (S, open, k)

    def block(rows: slice) -> None:
        consent = cumulative(others(grid["g"][rows]), grid["widths"])
        integral[rows] = integral_to(consent, u[rows])

    by_blocks(block, draws.n_draws)
    p_s = predict.success(draws, assume)[:, None, None]
    u_day = endgame_cdf(draws, np.broadcast_to(days, x.shape))[:, None, :]
    return predict.consent(p_s, own, u[:, None, :], u_day, integral)
