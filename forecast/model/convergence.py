"""Rank-normalised split R-hat and bulk/tail ESS for many quantities at once.

The same estimators as ArviZ's ``rhat(method="rank")`` and ``ess(method="bulk"|"tail")``
(Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021), computed on a stack of
quantities shaped (quantity, chain, draw): the ranking, normal scores and FFT
autocovariances run once over the whole stack instead of once per quantity, which is what
makes the gate cheap enough to sit on the path of every rerun. Only Geyer's truncation,
a few steps per quantity, is a loop. ``tests/forecast/model/test_convergence.py`` checks every
value against ArviZ.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, special, stats

from forecast.posterior import threads

# Tail ESS is the smaller ESS of the indicators of these quantiles.
TAIL_PROBS = (0.05, 0.95)
# A stack of at least this many rows is summarised in two halves on threads.
SPLIT_ROWS = 64


def _split_chains(x: np.ndarray) -> np.ndarray:
    """(K, chain, draw) -> (K, 2 chain, draw // 2): first and last halves as chains."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, -half:]], axis=1)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks of each quantity (Blom's offset 3/8)."""
    k, chains, draws = x.shape
    ranks = stats.rankdata(x.reshape(k, -1), method="average", axis=1)
    size = chains * draws
    return special.ndtri((ranks - 3 / 8) / (size - 2 * 3 / 8 + 1)).reshape(x.shape)


def _rhat(x: np.ndarray) -> np.ndarray:
    """Classic R-hat of each quantity of a (K, chain, draw) stack."""
    n = x.shape[2]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.var(x, axis=2, ddof=1).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant quantity gives NaN
        return np.sqrt((between / within + n - 1) / n)


def _valid(x: np.ndarray, min_chains: int) -> np.ndarray:
    """Rows ArviZ computes a value for: no NaN, enough chains and at least 4 draws."""
    ok = ~np.isnan(x).reshape(x.shape[0], -1).any(axis=1)
    return ok & (x.shape[1] >= min_chains) & (x.shape[2] >= 4)


def _rows(x: np.ndarray, fn, min_chains: int = 1) -> np.ndarray:
    """``fn(x)`` where ArviZ gives a value, NaN elsewhere (``fn`` not run if nowhere)."""
    ok = _valid(x, min_chains)
    if not ok.any():
        return np.full(x.shape[0], np.nan)
    return np.where(ok, fn(x), np.nan)


def _scores(x: np.ndarray) -> np.ndarray:
    """Normal scores of the split chains: shared by R-hat and bulk ESS."""
    return _z_scale(_split_chains(x))


def _rank_rhat(x: np.ndarray, scores: np.ndarray) -> np.ndarray:
    split = _split_chains(x)
    folded = np.abs(split - np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None])
    return np.maximum(_rhat(scores), _rhat(_z_scale(folded)))


def summary(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rank_rhat, ess_bulk, ess_tail)`` of each row, the split chains' normal scores
    computed once for R-hat and bulk ESS; the rows in two halves on threads."""
    x = np.asarray(x, dtype=float)
    halves = [x[: len(x) // 2], x[len(x) // 2 :]] if len(x) >= SPLIT_ROWS else [x]
    parts = threads.map_parts(_summary, halves)
    return tuple(np.concatenate(values) for values in zip(*parts, strict=True))


def _summary(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = _scores(x) if _valid(x, 1).any() else None
    return (
        _rows(x, lambda v: _rank_rhat(v, scores), min_chains=2),
        _rows(x, lambda v: _ess(scores)),
        _rows(x, _tail_ess),
    )


def rank_rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat, the larger of the bulk and the folded (tail) value;
    NaN (as ArviZ) for a row with NaN draws, fewer than 2 chains or 4 draws."""
    return _rows(np.asarray(x, dtype=float), lambda v: _rank_rhat(v, _scores(v)), min_chains=2)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag, along the last axis."""
    n = x.shape[-1]
    m = fft.next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=-1)
    spectrum *= np.conjugate(spectrum)
    return np.fft.irfft(spectrum, n=m, axis=-1)[..., :n] / n


def _geyer_tau(rho: np.ndarray) -> float:
    """Integrated autocorrelation time from one quantity's autocorrelations (Geyer's
    initial positive then initial monotone sequence, as ArviZ truncates it)."""
    n = rho.size
    kept = np.zeros(n)
    kept[0], kept[1] = 1.0, rho[1]
    even, odd = 1.0, rho[1]
    t = 1
    while t < n - 3 and even + odd > 0.0:
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0:
            kept[t + 1], kept[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        kept[max_t + 1] = even
    t = 1
    while t <= max_t - 2:
        if kept[t + 1] + kept[t + 2] > kept[t - 1] + kept[t]:
            kept[t + 1] = kept[t + 2] = (kept[t - 1] + kept[t]) / 2.0
        t += 2
    return -1.0 + 2.0 * kept[: max_t + 1].sum() + kept[max_t + 1 : max_t + 2].sum()


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each quantity of a (K, chain, draw) stack (constant quantities: all draws)."""
    k, chains, draws = x.shape
    total = chains * draws
    acov = _autocov(x)
    mean_var = acov[:, :, 0].mean(axis=1) * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if chains > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    out = np.empty(k)
    spread = x.reshape(k, -1).max(axis=1) - x.reshape(k, -1).min(axis=1)
    floor = 1.0 / np.log10(total)
    for i in range(k):
        if spread[i] < np.finfo(float).resolution:
            out[i] = total
        elif np.isnan(rho[i]).any():
            out[i] = np.nan
        else:
            out[i] = total / max(_geyer_tau(rho[i]), floor)
    return out


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk ESS: ESS of the rank-normalised split chains (NaN for an invalid row)."""
    return _rows(np.asarray(x, dtype=float), lambda v: _ess(_scores(v)))


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail ESS: the smaller ESS of the indicators of the 5% and 95% quantiles (NaN for
    an invalid row)."""
    return _rows(np.asarray(x, dtype=float), _tail_ess)


def _tail_ess(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1)
    values = []
    for prob in TAIL_PROBS:
        cut = np.quantile(flat, prob, axis=1)
        values.append(_ess(_split_chains((x <= cut[:, None, None]).astype(float))))
    return np.minimum(*values)
