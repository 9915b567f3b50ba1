"""Derived quantities from posterior draws, vectorised over draws (numpy only, no PyMC).

Per draw s and ally i, ``G_si(x)`` is the probability that the ally has endorsed on its
own by day ``x``, given everything observed at the cut-off ``c``:

    G(x) = w * 1[x >= t_report] + (1 - w) * pi * (F(x) - F(c))+ / (1 - pi + pi * S(c))

where ``w`` is the posterior probability that a reported endorsement is true (1 for a
public one, 0 with no report). The campaign level adds an endgame ``E`` (its CDF
``F_E``, conditional on no endgame by the cut-off) that brings every member in with
probability ``p_S``. With ``M = prod over members of G``, consent by day ``x`` is

    M(x) (1 - F_E(x)) + p_S F_E(x) + (1 - p_S) int_c^x M dF_E

(every member has decided on its own and no endgame has come; or the endgame has come
and succeeded; or it came and failed after every member had already consented), and
``P(confirmed by D)`` is that at ``x = D - lag``, computed exactly per draw (the integral
on a grid over ``F_E``), given that no confirmation is on record at the cut-off
(``on_the_record``: once every member has endorsed, a short lag would have confirmed the
candidate already).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping

import numpy as np

from forecast.posterior.campaign import endgame_cdf, under
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.grid import by_blocks, endgame_grid, integral_to, others_product
from forecast.posterior.own import own_endorsed_by, rows_of, validate_assume

logger = logging.getLogger(__name__)

INTERVAL_PROB = 0.94
# Draws used for the last-holdout integral (a grid over time for every ally and draw).
# Against 12000 draws on a 400-point grid, the shipped posterior's values were within
# 0.014 on average (0.023 at most) with 500 draws, on 60 points as on 120: the draws, not
# the grid, set the error.
HOLDOUT_DRAWS = 500
HOLDOUT_HORIZON_DAYS = 1500.0
HOLDOUT_GRID = 60


def _memoised(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Keep a derived quantity in the draws' cache, by its arguments.

    The gate and the forecast document ask for the same quantities of one fit; the second
    asks the cache. The kept array is read-only, so no caller can change another's value.
    """

    def key(value) -> tuple:
        if value is None or isinstance(value, Mapping):
            return tuple(sorted((value or {}).items()))
        array = np.asarray(value, dtype=float)
        return (array.shape, array.tobytes())

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def cached(draws: PosteriorDraws, *args, **kwargs) -> np.ndarray:
        bound = signature.bind(draws, *args, **kwargs)
        bound.apply_defaults()
        arguments = list(bound.arguments.items())[1:]  # after the draws
        name = (fn.__name__, *((k, key(v)) for k, v in arguments))
        if name not in draws._cache:
            value = fn(draws, *args, **kwargs)
            value.flags.writeable = False
            draws._cache[name] = value
        return draws._cache[name]

    return cached


def reported_by(
    draws: PosteriorDraws, day: float, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """Per ally, shape (ally,): endorsed by ``day``, a day on or before the cut-off, as reported.

    A day that has passed is settled by the reports, not forecast: 1 for a public
    endorsement (status ``endorsed``) dated on or before ``day``, 0 otherwise, however
    likely the model finds it that an ally decided unreported or that a rumour was true.
    An ally assumed to refuse is 0; one assumed to endorse counts from the cut-off on (as
    in ``own_endorsed_by``).

    Raises
    ------
    ValueError
        If ``day`` is after the cut-off (that is a forecast: ``endorsed_by``).
    """
    assume = validate_assume(draws, assume)
    if day > draws.censor_day:
        raise ValueError(f"day {day} is after the cut-off (day {draws.censor_day})")
    public = np.array([status == "endorsed" for status in draws.status])
    value = (public & (draws.event > 0) & (draws.event_day <= day)).astype(float)
    for code, outcome in assume.items():
        i = draws.codes.index(code)
        if outcome == "opposed":
            value[i] = 0.0
        elif day >= draws.censor_day:
            value[i] = 1.0
    return value


def success(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(the endgame brings every holdout in) per draw, shape (draw,).

    0 once the candidate is withdrawn, or if a member is assumed to refuse for good (a
    standing refusal is a veto under unanimity).
    """
    assume = validate_assume(draws, assume)
    if draws.withdrawn or (_opposed(draws, assume) & (draws.member > 0)).any():
        return np.zeros(draws.n_draws)
    return draws.p_success


def _opposed(draws: PosteriorDraws, assume: Mapping[str, str]) -> np.ndarray:
    """Per ally, shape (ally,): assumed to refuse for good.

    Only a member's refusal is a veto; a non-member assumed opposed still never endorses.
    """
    return np.array([assume.get(code) == "opposed" for code in draws.codes], dtype=bool)


@_memoised
def endorsed_by(
    draws: PosteriorDraws, day: np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(ally i has endorsed by ``day``) per draw, on its own or in the endgame.

    ``G_i(x) (1 - F_E(x)) + p_S F_E(x) + (1 - p_S) int_c^x G_i dF_E``: before the endgame
    the ally decides on its own; at the endgame it comes in if the campaign succeeds, and
    otherwise only if it had decided before (the candidate is withdrawn).

    Parameters
    ----------
    day
        Days from the campaign start, shape (draw,) or (draw, k).

    Returns
    -------
    numpy.ndarray
        Shape (draw, ally) or (draw, ally, k).
    """
    assume = validate_assume(draws, assume)
    before = confirmed_by_cut_off(draws)
    draws = under(draws, assume)
    day = np.asarray(day, dtype=float)
    if draws.withdrawn:
        value = own_endorsed_by(draws, np.minimum(day, draws.censor_day), assume)
    else:
        own = own_endorsed_by(draws, day, assume)
        u = endgame_cdf(draws, day)
        integral = integral_to(endgame_grid(draws, assume)["own"], u)
        p_s = success(draws, assume)
        u, p_s = u[:, None, ...], p_s.reshape(-1, *([1] * (own.ndim - 1)))
        value = own * (1.0 - u) + p_s * u + (1.0 - p_s) * integral
        value[:, _opposed(draws, assume)] = 0.0
    return _member_not_yet(draws, value, before, day >= draws.censor_day)


def _member_not_yet(
    draws: PosteriorDraws, value: np.ndarray, before: np.ndarray, after: np.ndarray | bool
) -> np.ndarray:
    """Each member's P(endorsed by a day from the cut-off on) given the record: a
    confirmation by the cut-off needs every member, so ``not_yet`` applies to a member's
    value as to the candidate's (``after``: which days, shaped as the ``day`` given)."""
    members = draws.member > 0
    conditioned = value.copy()
    conditioned[:, members] = not_yet(value[:, members], before)
    mask = np.asarray(after)
    mask = mask.reshape((*mask.shape[:1], 1, *mask.shape[1:])) if mask.ndim else mask
    return np.where(mask, conditioned, value)


@_memoised
def endorse_ever(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(ally eventually endorses) per draw, shape (draw, ally), given the record
    (``_member_not_yet``)."""
    assume = validate_assume(draws, assume)
    before = confirmed_by_cut_off(draws)
    draws = under(draws, assume)
    if draws.withdrawn:
        value = own_endorsed_by(draws, np.full(draws.n_draws, draws.censor_day), assume)
    else:
        p_s = success(draws, assume)[:, None]
        value = p_s + (1.0 - p_s) * endgame_grid(draws, assume)["own"][:, :, -1]
        value[:, _opposed(draws, assume)] = 0.0
    return _member_not_yet(draws, value, before, True)


@_memoised
def confirmed_by(
    draws: PosteriorDraws, day: float | np.ndarray, assume: Mapping[str, str] | None = None
) -> np.ndarray:
    """P(confirmed by the end of ``day``) per draw, given no confirmation by the cut-off.

    The candidate is confirmed ``lag`` days after the last member decides on its own,
    or at the endgame if that is earlier and the campaign succeeds (the reference class
    dates an endgame by its formal decision, so no lag is added to it). With ``M`` the
    product of the members' ``G``, ``y = day - lag`` and ``F_E`` the endgame's CDF:
    ``p_S (1 - (1 - M(y)) (1 - F_E(day))) + (1 - p_S) (M(y) (1 - F_E(y)) + int_c^y M
    dF_E)`` (the campaign succeeds, or it fails after every member had consented); then
    conditioned on the record (``not_yet``), so that a day on or before the cut-off is 0.

    ``day`` is a scalar (result shape (draw,)) or a 1-d array of k days (shape (draw, k)).
    """
    days = np.atleast_1d(np.asarray(day, dtype=float))
    value = not_yet(_consent_by(draws, days, assume), confirmed_by_cut_off(draws))
    return value[:, 0] if np.ndim(day) == 0 else value


def _consent_by(
    draws: PosteriorDraws, days: np.ndarray, assume: Mapping[str, str] | None
) -> np.ndarray:
    """P(confirmed by the end of each of ``days``) per draw, shape (draw, k), as the model
    has it before the record's silence at the cut-off is taken into account."""
    assume = validate_assume(draws, assume)
    draws = under(draws, assume)
    x = days[None, :] - draws.decision_lag[:, None]  # (S, K)
    members = draws.member > 0
    if draws.withdrawn:
        x = np.minimum(x, draws.censor_day)
    own = np.empty(x.shape)

    def block(rows: slice) -> None:
        g = own_endorsed_by(rows_of(draws, rows), x[rows], assume)
        own[rows] = np.prod(g[:, members, :], axis=1)

    by_blocks(block, draws.n_draws)
    if draws.withdrawn:
        return own
    u = endgame_cdf(draws, x)
    integral = integral_to(endgame_grid(draws, assume)["all"], u)
    p_s = success(draws, assume)[:, None]
    return consent(p_s, own, u, endgame_cdf(draws, np.broadcast_to(days, x.shape)), integral)


@_memoised
def confirmed_by_cut_off(draws: PosteriorDraws) -> np.ndarray:
    """Per draw, shape (draw,): the model's P(confirmed by the end of the cut-off day)
    before the record is read. No confirmation is on record, so this mass is known not to
    have happened: it is 0 while a member has neither endorsed nor been reported to (its
    ``G`` is 0 up to the cut-off) and the endgame's is conditioned already, but once every
    member has endorsed or been reported to, the draws whose decision lag would have run
    out by the cut-off say so (for a withdrawn candidate too: a consent complete before
    the withdrawal would have been confirmed)."""
    return _consent_by(draws, np.array([draws.censor_day]), None)[:, 0]


def not_yet(value: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``value``, P(confirmed by some day) per draw (draw first), given no confirmation by
    the cut-off, where the draw's unconditional P(by the cut-off) is ``before`` (draw,):
    ``(value - before) / (1 - before)``, 0 for a day on or before the cut-off. A draw with
    ``before`` = 1 is ruled out by the record; ``on_the_record`` resamples it away, and
    here it is 0. When every draw is ruled out, ``value`` is returned as it is."""
    if before.size and before.min() >= 1.0:  # no draw allows the record: see on_the_record
        return value
    b = before.reshape(before.shape + (1,) * (value.ndim - 1))
    left = 1.0 - b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(left > 0.0, (value - b) / left, 0.0)
    return np.clip(out, 0.0, 1.0)


def on_the_record(draws: PosteriorDraws, seed: int = 0) -> PosteriorDraws:
    """The draws given that no confirmation is on record at the cut-off: each draw kept in
    proportion to its probability of none by then (``1 - confirmed_by_cut_off``), by
    systematic resampling with a fixed ``seed`` (the same draws give the same document).
    Draws unchanged (the same object) when every draw allows none, as while any member
    has neither endorsed nor been reported to; per-draw values are then conditioned by
    ``not_yet``. Unchanged too, with a warning, when no draw allows the record (every
    lag ran out long since every member endorsed): the model's own numbers are then
    published (``not_yet`` leaves them), not zeros nor no forecast at all.
    """
    left = 1.0 - confirmed_by_cut_off(draws)
    if left.min() >= 1.0:
        return draws
    if left.sum() <= 0.0:
        logger.warning(
            "every draw has the candidate confirmed by the cut-off (%s) and none is on "
            "record: the forecast is the model's own, not conditioned on the record "
            "(post the confirmation, or look at the decision lag)",
            draws.as_of,
        )
        return draws
    positions = (np.random.default_rng(seed).random() + np.arange(draws.n_draws)) / draws.n_draws
    rows = np.searchsorted(np.cumsum(left) / left.sum(), positions, side="right")
    kept = np.minimum(rows, draws.n_draws - 1)
    logger.info(
        "the record (no confirmation by the cut-off) keeps %.1f%% of the draws' weight",
        100.0 * left.mean(),
    )
    return rows_of(draws, kept)


def consent(
    p_s: np.ndarray, own: np.ndarray, u: np.ndarray, u_day: np.ndarray, integral: np.ndarray
) -> np.ndarray:
    """P(confirmed by a day) from its parts: ``own`` = M(day - lag), ``u`` = F_E(day - lag),
    ``u_day`` = F_E(day) and ``integral`` = int_c^(day - lag) M dF_E (``confirmed_by``)."""
    succeeded = 1.0 - (1.0 - own) * (1.0 - u_day)
    return p_s * succeeded + (1.0 - p_s) * (own * (1.0 - u) + integral)


@_memoised
def confirmed_ever(draws: PosteriorDraws, assume: Mapping[str, str] | None = None) -> np.ndarray:
    """P(the candidate is ever confirmed) per draw, shape (draw,), given no confirmation
    by the cut-off (``not_yet``)."""
    assume = validate_assume(draws, assume)
    before = confirmed_by_cut_off(draws)
    draws = under(draws, assume)
    members = draws.member > 0
    if draws.withdrawn:
        at_cut_off = own_endorsed_by(draws, np.full(draws.n_draws, draws.censor_day), assume)
        return not_yet(np.prod(at_cut_off[:, members], axis=1), before)
    p_s = success(draws, assume)
    return not_yet(p_s + (1.0 - p_s) * endgame_grid(draws, assume)["all"][:, -1], before)


def thinned(draws: PosteriorDraws, n: int, seed: int = 0) -> PosteriorDraws:
    """A random subset of ``n`` draws (all of them if there are fewer), for grid integrals."""
    if draws.n_draws <= n:
        return draws
    keep = np.sort(np.random.default_rng(seed).choice(draws.n_draws, n, replace=False))
    return rows_of(draws, keep)


def last_holdout(
    draws: PosteriorDraws, assume: Mapping[str, str] | None = None, seed: int = 0
) -> np.ndarray:
    """P(ally i is the last member to endorse | every member endorses), shape (ally,).

    Integrates ``dG_i(x) * prod_{j != i} G_j(x)`` over a time grid after the cut-off on
    a thinned subset of draws; allies that have already endorsed are never last.
    """
    thin = thinned(draws, HOLDOUT_DRAWS, seed)
    c = draws.censor_day
    offsets = np.concatenate([[0.0], np.geomspace(0.5, HOLDOUT_HORIZON_DAYS, HOLDOUT_GRID)])
    grid = np.broadcast_to(c + offsets, (thin.n_draws, offsets.size))
    members = np.flatnonzero(draws.member > 0)
    last = np.empty((thin.n_draws, members.size))  # (S, M)

    def block(rows: slice) -> None:
        g = own_endorsed_by(rows_of(thin, rows), grid[rows], assume)[:, members, :]
        # G is a CDF in time, so its steps are >= 0; rounding in ``offset + slope * F``
        # can leave -1e-17 where F has flattened out, which would make a chance negative.
        step = np.maximum(np.diff(g, axis=2), 0.0)  # (S, M, K-1)
        # The others' G at each step's midpoint: with the end point the sum over allies
        # overshot 1 by up to 10% for steep timing curves; the midpoint keeps it within
        # 0.1%.
        at = 0.5 * (g[:, :, 1:] + g[:, :, :-1])
        last[rows] = (step * others_product(at)).sum(axis=2)

    by_blocks(block, thin.n_draws)
    out = np.zeros(len(draws.codes))
    # Normalised by the summed chances of being last, i.e. P(every member endorses within
    # the horizon) as the same grid sees it: the grid's error then cancels in the ratio.
    total = last.sum()
    if total > 0:
        out[members] = last.sum(axis=0) / total
    return out


def interval(values: np.ndarray, prob: float = INTERVAL_PROB) -> tuple[float, float]:
    """Equal-tailed posterior interval over draws (axis 0)."""
    tail = (1.0 - prob) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail], axis=0)
    return float(lo), float(hi)
