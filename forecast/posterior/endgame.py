"""The endgame's day in numpy: a log-normal hazard plus focal points at the calendar's dates.

Days count from the front-runner's emergence (the end of the emergence day is day 1).
The endgame ``E`` comes at the first of two kinds of events:

- the *diffuse* endgame ``E_c ~ LogNormal(location, shape)``, as holdouts give way
  whenever they do;
- a *focal* endgame at a fixed date of the calendar (a ministerial, a summit, the
  incumbent's term end): each date ``d_j`` binds with probability ``focal`` on its own,
  and a binding date settles the campaign on a day uniform in its window
  ``(d_j - lead, d_j + tail]``, the days at and just before it.

So ``S(t) = P(E > t) = S_c(t) * prod_j (1 - focal * w_j(t))``, with ``w_j(t)`` the part
of date ``j``'s window before ``t``. A date that passes without a deal has used up its
factor: the mass moves to the next date, and the posterior of ``focal`` learns from the
passing. ``forecast/model/campaign_level.py`` writes the same survival in PyTensor.
"""

from __future__ import annotations

import numpy as np
from scipy import special

# Bisection steps of the quantile in log-days: the bracket spans at most about 23 units of
# log-days, so 36 halvings leave a relative error below 4e-10.
_QUANTILE_STEPS = 36
# The latest day the quantile searches (days from emergence): about 27,000 years.
_LATEST_DAY = 1e7


def window_fraction(day: np.ndarray, dates: np.ndarray, lead: float, tail: float) -> np.ndarray:
    """The part of each date's window before ``day``, shape ``day.shape + (dates,)``."""
    day = np.asarray(day, dtype=float)[..., None]
    return np.clip((day - (dates - lead)) / (lead + tail), 0.0, 1.0)


def log_survival(
    day: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
) -> np.ndarray:
    """``log P(E > day)``; the parameters broadcast against ``day``. Days <= 0 give 0."""
    day = np.asarray(day, dtype=float)
    with np.errstate(divide="ignore"):
        log_day = np.log(np.maximum(day, 0.0))
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
) -> np.ndarray:
    """``P(E <= day)``; see ``log_survival``."""
    return -np.expm1(log_survival(day, location, shape, focal, dates, lead, tail))


def quantile(
    u: np.ndarray,
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
) -> np.ndarray:
    """The day ``t`` with ``P(E <= t) = u``, for ``u`` in [0, 1) (broadcast shapes).

    Closed form without dates; otherwise bisection in log-days (the CDF is continuous
    and strictly increasing: the diffuse part's is, and each window's mass is spread).
    """
    u = np.asarray(u, dtype=float)
    location, shape, focal = (np.broadcast_to(a, u.shape) for a in (location, shape, focal))
    diffuse = np.exp(location + shape * special.ndtri(u))
    dates = np.asarray(dates, dtype=float)
    if dates.size == 0:
        return diffuse
    # E <= E_c, so F(E_c's quantile) >= u: the day lies at or before ``diffuse``.
    high = np.log(np.clip(diffuse, 1e-9, _LATEST_DAY))
    low = np.full(u.shape, np.log(1e-9))
    target = np.log1p(-u)  # log S at the day sought
    for _ in range(_QUANTILE_STEPS):
        middle = 0.5 * (low + high)
        above = log_survival(np.exp(middle), location, shape, focal, dates, lead, tail) <= target
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return np.exp(high)


def sample(
    location: np.ndarray,
    shape: np.ndarray,
    focal: np.ndarray,
    dates: np.ndarray,
    lead: float,
    tail: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw endgame days from the generative story (for checks): the diffuse day, and for
    each date a coin with probability ``focal`` and a uniform day in its window; the
    earliest wins."""
    location, shape, focal = np.broadcast_arrays(
        np.asarray(location, float), np.asarray(shape, float), np.asarray(focal, float)
    )
    day = np.exp(location + shape * rng.standard_normal(location.shape))
    for date in np.asarray(dates, dtype=float):
        binds = rng.random(location.shape) < focal
        when = date - lead + (lead + tail) * (1.0 - rng.random(location.shape))
        day = np.where(binds, np.minimum(day, when), day)
    return day
