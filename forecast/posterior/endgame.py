"""The endgame's day in numpy: a log-normal hazard plus focal points at the calendar's dates.

Days count from the front-runner's emergence (the end of the emergence day is day 1).
The endgame ``E`` comes at the first of two kinds of events:

- the *diffuse* endgame ``E_c ~ LogNormal(location, shape)``, as holdouts give way
  whenever they do;
- a *focal* endgame at a fixed date of the calendar (a ministerial, a summit, the
  incumbent's term end): each date ``d_j`` binds with probability ``focal`` on its own,
  and a binding date settles the campaign on a day uniform in its window
  ``(d_j - lead, d_j + tail]``, the days at and just before it (a window opens at
  emergence at the earliest).

So ``S(t) = P(E > t) = S_c(t) * prod_j (1 - focal * w_j(t))``, with ``w_j(t)`` the part
of date ``j``'s window before ``t``. A date that passes without a deal has used up its
factor: the mass moves to the next date, and the posterior of ``focal`` learns from the
passing. ``forecast/model/campaign_level.py`` writes the same survival in PyTensor.

The diffuse endgame runs on a clock that the holdouts slow down: while the campaign's
endgame covariates are ``z`` (the holdouts left, a rival candidacy), its clock runs at
``exp(-coef . z)`` base days a day, and ``E_c`` comes when the clock reaches a
log-normal ``E_0 ~ LogNormal(base, shape)``. With ``z`` held for the whole campaign this
is ``E_c ~ LogNormal(base + coef . z, shape)``, the ``location`` below. When the holdouts
changed during the campaign, the days already spent count at the speed they ran at: at
``elapsed`` days the clock has read ``clock`` base days, and from then on, at today's
``z``, ``S_c(t) = S_LN(t + shift)`` with ``shift = exp(coef . z) * clock - elapsed``
(``clock_shift``): a campaign that waited on many holdouts has aged less than its days.
"""

from __future__ import annotations

import numpy as np
from scipy import special

# Steps of the quantile's solver inside a focal window (at most ``lead + tail`` days):
# Newton's steps, each a bisection at worst; 12 leave the CDF within 1e-9 of its target on
# the tests' cases (a day's probabilities change over days, not seconds).
_SOLVER_STEPS = 12
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def covariates(holdouts: float, rival: float) -> np.ndarray:
    """The endgame's covariates: the holdout group's size as ``log1p(holdouts)``, a
    member's standing rival candidacy, and whether no member holds out at all
    (``forecast.model.campaign_level``'s ``ENDGAME_COVARIATES`` order)."""
    return np.array([np.log1p(holdouts), rival, float(holdouts == 0)], dtype=float)


def clock_shift(
    base_days: np.ndarray, location: np.ndarray, base: np.ndarray, elapsed: float
) -> np.ndarray:
    """The shift that carries the clock's past into today's diffuse endgame: with
    ``location = base + coef . z`` for today's covariates, ``exp(coef . z) * clock -
    elapsed`` (0 when the covariates never changed)."""
    return np.exp(np.asarray(location, float) - base) * base_days - elapsed


def stretch_days(day: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The days of each stretch of a path before ``day``: stretch ``j`` starts on day
    ``starts[..., j]`` (in order; the first at 0) and lasts until the next starts (the
    last for ever), shape ``day.shape + (stretch,)`` (``starts`` broadcasts: one path, or
    one per ``day``)."""
    starts = np.asarray(starts, float)
    ends = np.concatenate([starts[..., 1:], np.full_like(starts[..., :1], np.inf)], axis=-1)
    return np.clip(np.asarray(day, float)[..., None] - starts, 0.0, ends - starts)


def path_clock(day: np.ndarray, starts: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The clock at ``day`` along a path of stretches (``stretch_days``), stretch ``j``
    running at ``rates[..., j]``. ``day`` broadcasts against ``rates``' leading axes."""
    return (np.asarray(rates, float) * stretch_days(day, starts)).sum(axis=-1)


def path_day(clock: np.ndarray, starts: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The day at which the clock along a path (``path_clock``) reads ``clock``."""
    starts = np.asarray(starts, float)
    rates, clock = np.broadcast_arrays(
        np.asarray(rates, float), np.asarray(clock, float)[..., None]
    )
    clock = clock[..., 0]
    lengths = np.diff(starts)
    at_starts = np.concatenate(
        [np.zeros_like(rates[..., :1]), np.cumsum(rates[..., :-1] * lengths, axis=-1)], axis=-1
    )  # the clock at each stretch's start
    index = (at_starts <= clock[..., None]).sum(axis=-1) - 1
    read = np.take_along_axis(at_starts, index[..., None], axis=-1)[..., 0]
    rate = np.take_along_axis(rates, index[..., None], axis=-1)[..., 0]
    return starts[index] + (clock - read) / rate


def window_starts(dates: np.ndarray, lead: float) -> np.ndarray:
    """Where each date's window opens: ``lead`` days before it, but not before emergence."""
    return np.maximum(np.asarray(dates, dtype=float) - lead, 0.0)


def window_fraction(day: np.ndarray, dates: np.ndarray, lead: float, tail: float) -> np.ndarray:
    """The part of each date's window before ``day``, shape ``day.shape + (dates,)``."""
    day = np.asarray(day, dtype=float)[..., None]
    starts = window_starts(dates, lead)
    return np.clip((day - starts) / (dates + tail - starts), 0.0, 1.0)


def log_survival(
    day: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """``log P(E > day)``; the parameters broadcast against ``day``. Days <= 0 give 0
    (and so do days whose diffuse clock, ``day + shift``, has not started)."""
    day = np.asarray(day, dtype=float)
    with np.errstate(divide="ignore"):
        log_day = np.log(np.maximum(day + shift, 0.0))
        diffuse = special.log_ndtr(-(log_day - location) / shape)
    dates = np.asarray(dates, dtype=float)
    if dates.size == 0:
        return diffuse
    passed = window_fraction(day, dates, lead, tail)
    focal = np.broadcast_to(np.asarray(focal, dtype=float), np.shape(diffuse))[..., None]
    return diffuse + np.log1p(-focal * passed).sum(axis=-1)


def cdf(
    day: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """``P(E <= day)``; see ``log_survival``."""
    return -np.expm1(log_survival(day, location, shape, focal, dates, lead, tail, shift))


def quantile(
    u: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """The day ``t`` with ``P(E <= t) = u``, for ``u`` in [0, 1) (broadcast shapes).

    The windows' edges cut the days into segments on which the same windows are open.
    The segment holding ``t`` is found from ``S`` at the edges; on a segment with no
    window open ``S`` is the diffuse survival times a constant, inverted in closed form;
    inside a window (at most ``lead + tail`` days) ``t`` is found by ``_solve``.
    """
    u = np.asarray(u, dtype=float)
    location, shape, focal, shift = (
        np.broadcast_to(np.asarray(a, dtype=float), u.shape)
        for a in (location, shape, focal, shift)
    )
    dates = np.asarray(dates, dtype=float)
    target = np.log1p(-u)  # log S at the day sought
    if dates.size == 0:
        return np.exp(location - shape * special.ndtri(np.exp(target))) - shift
    starts, ends = window_starts(dates, lead), dates + tail
    edges = np.unique(np.concatenate([starts, ends]))
    edges = edges[edges > 0.0]
    at_edges = log_survival(
        edges,
        location[..., None],
        shape[..., None],
        focal[..., None],
        dates,
        lead,
        tail,
        shift[..., None],
    )  # (..., edges)
    # The segment: after the last edge where S is still above the target (0 before any).
    index = (at_edges >= target[..., None]).sum(axis=-1)
    bounds = np.concatenate([[0.0], edges, [np.inf]])
    low, high = bounds[index], bounds[index + 1]
    # Windows open on the segment (each is open on all of it or on none of it).
    open_ = (starts <= low[..., None]) & (ends >= high[..., None])
    passed = (ends <= low[..., None]).sum(axis=-1)
    inside = open_.any(axis=-1)
    # No window open: log S_c(t) = target - passed * log(1 - focal), in closed form.
    diffuse = np.minimum(target - passed * np.log1p(-focal), 0.0)
    day = np.exp(location - shape * special.ndtri(np.exp(diffuse))) - shift
    if inside.any():
        day[inside] = _solve(
            target[inside],
            low[inside],
            np.minimum(high[inside], day[inside]),
            (location[inside], shape[inside], focal[inside], shift[inside]),
            dates,
            lead,
            tail,
        )
    return day


def _solve(
    target: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    parameters: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    dates: np.ndarray,
    lead: float,
    tail: float,
) -> np.ndarray:
    """The day in [low, high] where log S falls to ``target`` (1-d arrays): Newton's
    method kept inside a shrinking bracket (a step that leaves it is a bisection)."""
    location, shape, focal, shift = parameters
    starts = window_starts(dates, lead)
    lengths = dates + tail - starts
    # From the upper end: the diffuse-only day bounds the answer and is often near it.
    day = high.copy()
    for _ in range(_SOLVER_STEPS):
        excess = log_survival(day, location, shape, focal, dates, lead, tail, shift) - target
        low = np.where(excess > 0.0, day, low)  # log S falls with the day
        high = np.where(excess > 0.0, high, day)
        # d log S / dt: minus the diffuse hazard, minus each open window's.
        clock = np.maximum(day + shift, 1e-9)
        z = (np.log(clock) - location) / shape
        hazard = np.exp(-0.5 * z**2 - special.log_ndtr(-z)) / (shape * clock * _SQRT_2PI)
        passed = day[:, None] - starts
        open_ = (passed > 0.0) & (passed < lengths)
        windows = np.where(open_, focal[:, None] / (lengths - focal[:, None] * passed), 0.0)
        step = day + excess / (hazard + windows.sum(axis=-1))
        day = np.where((step >= low) & (step <= high), step, 0.5 * (low + high))
    return day


def sample(
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
    rng: np.random.Generator,
    path: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Draw endgame days from the generative story (for checks): the diffuse day, and for
    each date a coin with probability ``focal`` and a uniform day in its window; the
    earliest wins. With ``path`` (stretches' first days, and their clock rates against
    ``location``'s covariates, per draw on the last axis) the diffuse day is when the
    clock along it reaches the log-normal draw."""
    location, shape, focal = np.broadcast_arrays(
        np.asarray(location, float), np.asarray(shape, float), np.asarray(focal, float)
    )
    day = np.exp(location + shape * rng.standard_normal(location.shape))
    if path is not None:
        day = path_day(day, *path)
    dates = np.asarray(dates, dtype=float)
    for date, start in zip(dates, window_starts(dates, lead), strict=True):
        binds = rng.random(location.shape) < focal
        when = start + (date + tail - start) * (1.0 - rng.random(location.shape))
        day = np.where(binds, np.minimum(day, when), day)
    return day
