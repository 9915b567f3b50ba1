"""The integral over the endgame's day on a grid per draw, and the grids kept for reuse."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from forecast.digest import add_array
from forecast.lru import Lru
from forecast.posterior import endgame, threads
from forecast.posterior.campaign import clock_shift, endgame_parameters, endgame_start
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.own import own_endorsed_by, rows_of

# Cells of the integral over the endgame's day (its conditional CDF, 0 to 1). Against
# 400 cells, on the shipped posterior and the many-endorsements-on-one-day case, 24 cells
# moved no posterior mean (P(confirmed by a day), P(ever), any ally's P(endorse)) by more
# than 7e-5, a hundredth of its Monte Carlo error; 48 cells took twice as long.
ENDGAME_GRID = 24
# Draws per block of the endgame grid's computation (``by_blocks``).
GRID_BLOCK = 256


def endgame_grid(draws: PosteriorDraws, assume: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Cumulative integrals over the endgame's day, per draw (cached per ``assume``).

    With ``u`` the endgame's conditional CDF and ``Q(u)`` its day, ``own[s, i, k]`` is
    ``int_0^(k/K) G_si(Q(u)) du`` (midpoint rule on ``ENDGAME_GRID`` cells) and ``all``
    the same for ``M = prod over members of G``.
    """
    key = ("endgame", tuple(sorted(assume.items())))
    if key in draws._cache:
        return draws._cache[key]
    widths = np.diff(_grid_u(np.arange(ENDGAME_GRID + 1) / ENDGAME_GRID))
    days = endgame_days(draws)
    members = draws.member > 0
    shape = (draws.n_draws, len(draws.codes), ENDGAME_GRID)
    own, integral = np.empty(shape), np.empty((*shape[:2], ENDGAME_GRID + 1))
    consent = np.empty((draws.n_draws, ENDGAME_GRID))

    def block(rows: slice) -> None:
        own[rows] = own_endorsed_by(rows_of(draws, rows), days[rows], assume)
        consent[rows] = np.prod(own[rows][:, members, :], axis=1)
        integral[rows] = cumulative(own[rows], widths)

    by_blocks(block, draws.n_draws)
    # "g" keeps each ally's G on the grid for the products over the other members
    # (``forecast.posterior.pivotal``); it is the array "own" is integrated from, not a copy.
    grid = {
        "own": integral,
        "all": cumulative(consent, widths),
        "g": own,
        "widths": widths,
    }
    draws._cache[key] = grid
    return grid


# The last grids of endgame days computed in this process, by a digest of what each is
# made of (``endgame_days``): a fit's and its thinned draws' (``predict.last_holdout``).
ENDGAME_DAYS_KEPT = 2
_ENDGAME_DAYS: Lru[str, np.ndarray] = Lru(ENDGAME_DAYS_KEPT)


def endgame_days(draws: PosteriorDraws) -> np.ndarray:
    """The endgame's day at the grid's cells, per draw, shape (draw, ``ENDGAME_GRID``).

    It depends only on the campaign level's draws, the calendar and the cut-off, not on
    what is assumed of the allies: every grid of one fit shares it, and so does the next
    fit when it reused the campaign level's draws (``sampling.CampaignFits``). The
    quantiles (Newton's method per draw and cell) are a good part of a rerun, so the last
    grids are kept by a digest of their inputs; the same inputs give the same array.
    """
    parts = (
        draws.endgame_location,
        draws.endgame_shape,
        draws.endgame_focal,
        clock_shift(draws),
        np.asarray(draws.calendar_days, dtype=float),
        np.asarray([*draws.focal_window, draws.emerged_offset, draws.censor_day, ENDGAME_GRID]),
    )
    digest = hashlib.sha256()
    for part in parts:
        add_array(digest, np.asarray(part, dtype=float))

    def days() -> np.ndarray:
        u = _grid_u((np.arange(ENDGAME_GRID) + 0.5) / ENDGAME_GRID)
        start = endgame_start(draws)[:, None]
        quantile = endgame.quantile(
            start + u[None, :] * (1.0 - start), *endgame_parameters(draws, (slice(None), None))
        )
        days = np.maximum(draws.emerged_offset + quantile, np.nextafter(draws.censor_day, np.inf))
        days.flags.writeable = False
        return days

    return _ENDGAME_DAYS.get_or(digest.hexdigest(), days)


def by_blocks(block: Callable[[slice], None], n: int) -> None:
    """Call ``block`` on consecutive slices of ``n`` draws, on as many threads as cores.

    Each block writes its own rows of preallocated arrays. Blocks of ``GRID_BLOCK`` draws
    keep their (draw, ally, cell) temporaries in the CPU's cache (on all draws at once
    the grid took half again as long), and numpy releases the GIL in its loops.
    """
    slices = [slice(lo, min(lo + GRID_BLOCK, n)) for lo in range(0, n, GRID_BLOCK)]
    threads.map_parts(block, slices)


def cumulative(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Cumulative midpoint sums over the grid's last axis, with a leading 0 (K+1 points)."""
    steps = values * widths
    zero = np.zeros((*steps.shape[:-1], 1))
    return np.concatenate([zero, np.cumsum(steps, axis=-1)], axis=-1)


def others_product(values: np.ndarray) -> np.ndarray:
    """Per ally (axis 1), the product of the other allies' values: prefix and suffix
    products, so no division (a value of 0 stays exact)."""
    ones = np.ones_like(values[:, :1])
    before = np.cumprod(np.concatenate([ones, values[:, :-1]], axis=1), axis=1)
    after = np.cumprod(np.concatenate([ones, values[:, :0:-1]], axis=1), axis=1)[:, ::-1]
    return before * after


def _grid_u(v: np.ndarray) -> np.ndarray:
    """The grid's cells are even in ``v`` and fine near ``u = 1`` (the endgame's late tail,
    which reaches to infinity: a last cell of width 1/K there was too coarse)."""
    return 1.0 - (1.0 - v) ** 2


def integral_to(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``int_0^u`` from a cumulative grid (last axis K+1), linear within a cell.

    ``cumulative`` is (S, K+1) or (S, N, K+1); ``u`` is (S,) or (S, k) and the result
    (S[, N][, k]).
    """
    cells = cumulative.shape[-1] - 1
    u = np.clip(u, 0.0, 1.0)
    position = (1.0 - np.sqrt(1.0 - u)) * cells  # the inverse of _grid_u, in cells
    index = np.minimum(np.floor(position).astype(int), cells - 1)
    low_u = _grid_u(index / cells)
    fraction = (u - low_u) / (_grid_u((index + 1) / cells) - low_u)
    if cumulative.ndim == 3:  # per ally: broadcast u over the ally axis
        index, fraction = index[:, None, ...], fraction[:, None, ...]
        rows = np.arange(cumulative.shape[0])[:, None, None]
        allies = np.arange(cumulative.shape[1])[None, :, None]
        if u.ndim == 1:
            index, fraction = index[..., None], fraction[..., None]
        low = cumulative[rows, allies, index]
        high = cumulative[rows, allies, index + 1]
        value = low + fraction * (high - low)
        return value[..., 0] if u.ndim == 1 else value
    rows = np.arange(cumulative.shape[0]).reshape(-1, *([1] * (u.ndim - 1)))
    low, high = cumulative[rows, index], cumulative[rows, index + 1]
    return low + fraction * (high - low)
