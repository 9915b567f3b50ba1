"""Timing forms compared by LOO on the synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.checks.timing_forms import compare_timing_forms
from tests.conftest import SYNTHETIC_AS_OF, SYNTHETIC_SEED

SAMPLER_CONFIG = {"chains": 2, "tune": 300, "draws": 300}


@pytest.fixture(scope="module")
def comparison(synthetic_dataset, synthetic_run, synthetic_forecaster):
    # The session's log-normal model is compiled already: only the Weibull one is built.
    return compare_timing_forms(
        synthetic_dataset,
        synthetic_dataset.evidence,
        SYNTHETIC_AS_OF,
        seed=SYNTHETIC_SEED,
        sampler_config=SAMPLER_CONFIG,
        models={"lognormal": synthetic_forecaster.model},
    )


def test_comparison_ranks_both_timing_forms(comparison):
    assert set(comparison.index) == {"lognormal", "weibull"}
    assert sorted(comparison["rank"]) == [0, 1]
    assert comparison["weight"].sum() == pytest.approx(1.0)


def test_comparison_reports_loo_with_its_pareto_k_and_divergences(comparison):
    assert np.isfinite(comparison[["elpd_loo", "p_loo", "se", "pareto_k_max"]].to_numpy()).all()
    # Both forms fit the synthetic data cleanly (as the gate demands of a published fit).
    assert comparison["divergences"].to_dict() == {"lognormal": 0, "weibull": 0}
    assert comparison.loc[comparison["rank"] == 0, "elpd_diff"].item() == 0.0
