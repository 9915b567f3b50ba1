"""The stacked R-hat and ESS give ArviZ's values, quantity by quantity."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from forecast.model.convergence import SPLIT_ROWS, ess_bulk, ess_tail, rank_rhat, summary


def chains(kind: str, seed: int, n_chain: int = 4, n_draw: int = 301) -> np.ndarray:
    """Draws of one quantity, (chain, draw): mixed, autocorrelated, stuck, heavy-tailed."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n_chain, n_draw))
    if kind == "iid":
        return noise
    if kind == "ar":  # strongly autocorrelated: a long Geyer sequence
        out = np.empty_like(noise)
        out[:, 0] = noise[:, 0]
        for t in range(1, n_draw):
            out[:, t] = 0.95 * out[:, t - 1] + noise[:, t]
        return out
    if kind == "stuck":  # chains in different places: R-hat far above 1
        return noise + 3.0 * np.arange(n_chain)[:, None]
    if kind == "antithetic":  # negative autocorrelation: ESS above the draw count
        return noise * np.where(np.arange(n_draw) % 2, 1.0, -1.0)[None, :] + noise[:, ::-1]
    if kind == "ties":  # discrete values: rank ties
        return rng.integers(0, 3, size=(n_chain, n_draw)).astype(float)
    return rng.standard_cauchy(size=(n_chain, n_draw))


KINDS = ("iid", "ar", "stuck", "antithetic", "ties", "cauchy")


@pytest.mark.parametrize("n_draw", [300, 301])
def test_every_value_equals_arviz(n_draw):
    stack = np.stack([chains(k, s, n_draw=n_draw) for s in range(3) for k in KINDS])
    got = {"rhat": rank_rhat(stack), "bulk": ess_bulk(stack), "tail": ess_tail(stack)}
    for i, x in enumerate(stack):
        want = {
            "rhat": float(az.rhat(x, method="rank")),
            "bulk": float(az.ess(x, method="bulk")),
            "tail": float(az.ess(x, method="tail")),
        }
        for name, value in want.items():
            assert got[name][i] == pytest.approx(value, rel=1e-9), (name, i)


def test_a_constant_quantity_has_the_full_ess_and_stuck_chains_a_large_r_hat():
    stack = np.stack([np.full((4, 100), 2.0), chains("stuck", 0, n_draw=100)])
    assert ess_bulk(stack)[0] == 400
    assert rank_rhat(stack)[1] > 1.5


def test_rows_arviz_gives_no_value_for_are_nan():
    """NaN draws, a single chain (no R-hat) and fewer than 4 draws, as ArviZ."""
    with_nan = chains("iid", 0, n_draw=100)
    with_nan[1, 5] = np.nan
    stack = np.stack([with_nan, chains("iid", 1, n_draw=100)])
    for fn in (rank_rhat, ess_bulk, ess_tail):
        values = fn(stack)
        assert np.isnan(values[0]) and np.isfinite(values[1])
    one_chain = chains("iid", 2, n_chain=1, n_draw=100)[None]
    assert np.isnan(rank_rhat(one_chain)[0])
    assert np.isnan(float(az.rhat(one_chain[0], method="rank")))
    assert ess_bulk(one_chain)[0] == pytest.approx(float(az.ess(one_chain[0], method="bulk")))
    short = chains("iid", 3, n_draw=3)[None]
    for fn in (rank_rhat, ess_bulk, ess_tail):
        assert np.isnan(fn(short)[0])


def test_the_gates_summary_of_a_large_stack_equals_each_estimator():
    """``summary`` (split into halves on threads from SPLIT_ROWS rows) gives, row by row,
    the estimators checked against ArviZ above."""
    stack = np.stack([chains(k, s) for s in range(11) for k in KINDS])
    assert len(stack) >= SPLIT_ROWS
    r_hat, bulk, tail = summary(stack)
    np.testing.assert_allclose(r_hat, rank_rhat(stack), rtol=1e-12)
    np.testing.assert_allclose(bulk, ess_bulk(stack), rtol=1e-12)
    np.testing.assert_allclose(tail, ess_tail(stack), rtol=1e-12)
    assert len(r_hat) == len(stack)
