"""The diagnostics gate: thresholds, what is measured, and a failed fit never published."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from arviz import from_dict

from forecast.model.gate import GateConfig, GateFailed, check, diagnose
from forecast.model.sampling import joined
from forecast.pipeline.fit import RETRY_SAMPLER_OVERRIDES, retry_overrides
from forecast.pipeline.store import (
    DIAGNOSTICS_FILE,
    DOCUMENT_FILE,
    INPUTS_FILE,
    POSTERIOR_FILE,
    read_json,
)
from tests.conftest import SYNTHETIC_AS_OF, SYNTHETIC_SEED

CHAINS, DRAWS = 4, 500


def well_mixed(seed: int = 0, divergent: int = 0):
    """Independent draws: what a converged sampler gives (no sampling needed)."""
    rng = np.random.default_rng(seed)
    diverging = np.zeros((CHAINS, DRAWS), dtype=bool)
    diverging.flat[:divergent] = True
    return from_dict(
        posterior={"a": rng.normal(size=(CHAINS, DRAWS)), "b": rng.normal(size=(CHAINS, DRAWS, 3))},
        sample_stats={"diverging": diverging},
    )


def stuck(seed: int = 0):
    """Chains that each sit somewhere else: R-hat far above 1."""
    rng = np.random.default_rng(seed)
    offsets = np.arange(CHAINS)[:, None] * 5.0
    return from_dict(
        posterior={"a": offsets + rng.normal(size=(CHAINS, DRAWS))},
        sample_stats={"diverging": np.zeros((CHAINS, DRAWS), dtype=bool)},
    )


def test_well_mixed_draws_pass_and_check_returns_the_diagnostics():
    diagnostics = diagnose(well_mixed(), {}, sampler="nutpie", sample_seconds=0.1)
    assert diagnostics["passed"]
    assert diagnostics["failures"] == []
    assert check(diagnostics) is diagnostics


def test_impossible_thresholds_raise_gate_failed_carrying_the_diagnostics():
    impossible = GateConfig(r_hat_max=0.5, ess_bulk_min=1e9, ess_tail_min=1e9)
    diagnostics = diagnose(
        well_mixed(), {}, sampler="nutpie", sample_seconds=0.1, config=impossible
    )
    with pytest.raises(GateFailed) as caught:
        check(diagnostics)
    assert caught.value.diagnostics is diagnostics
    assert not caught.value.diagnostics["passed"]
    assert len(caught.value.diagnostics["failures"]) == 3
    assert "R-hat" in str(caught.value)


def test_chains_that_disagree_fail_on_r_hat():
    diagnostics = diagnose(stuck(), {}, sampler="nutpie", sample_seconds=0.1)
    assert not diagnostics["passed"]
    assert any(f.startswith("R-hat") for f in diagnostics["failures"])


def test_a_single_divergence_fails_the_gate():
    diagnostics = diagnose(well_mixed(divergent=1), {}, sampler="nutpie", sample_seconds=0.1)
    assert diagnostics["divergences"] == 1
    assert diagnostics["failures"] == ["1 divergences > 0"]


def test_a_divergence_in_the_campaign_block_fails_the_gate_too():
    allies, campaign = well_mixed(seed=1), well_mixed(seed=2, divergent=2)
    diagnostics = diagnose(joined(allies, campaign), {}, sampler="nutpie", sample_seconds=0.1)
    assert diagnostics["divergences"] == 2
    assert diagnostics["failures"] == ["2 divergences > 0"]
    both = joined(well_mixed(seed=1, divergent=1), campaign)
    assert diagnose(both, {}, sampler="nutpie", sample_seconds=0.1)["divergences"] == 3


def test_reported_quantities_are_checked_too():
    offsets = np.arange(CHAINS)[:, None] * np.ones((CHAINS, DRAWS))
    diagnostics = diagnose(well_mixed(), {"p": offsets}, sampler="nutpie", sample_seconds=0.1)
    assert not diagnostics["passed"]


def test_a_quantity_constant_in_every_draw_is_not_held_against_the_fit():
    constant = np.ones((CHAINS, DRAWS, 2))
    diagnostics = diagnose(well_mixed(), {"p": constant}, sampler="nutpie", sample_seconds=0.1)
    assert diagnostics["passed"]


def test_a_constant_element_beside_varying_ones_is_skipped_not_failed():
    """An ally already endorsed has p = 1 in every draw, next to allies that vary."""
    mixed = np.stack([np.ones((CHAINS, DRAWS)), well_mixed().posterior["a"].values], axis=-1)
    diagnostics = diagnose(well_mixed(), {"p": mixed}, sampler="nutpie", sample_seconds=0.1)
    assert diagnostics["passed"]
    assert np.isfinite(diagnostics["r_hat_max"])


def test_a_quantity_with_nan_draws_fails_the_gate():
    values = np.random.default_rng(1).normal(size=(CHAINS, DRAWS))
    values[0, 0] = np.nan
    diagnostics = diagnose(well_mixed(), {"p": values}, sampler="nutpie", sample_seconds=0.1)
    assert not diagnostics["passed"]


def test_the_extremes_are_taken_over_every_quantity_as_arviz_measures_each():
    rng = np.random.default_rng(3)
    # An autocorrelated quantity (a random walk plus noise): its ESS is the lowest.
    sticky = 0.05 * np.cumsum(rng.normal(size=(CHAINS, DRAWS)), axis=1)
    sticky += rng.normal(size=(CHAINS, DRAWS))
    idata = well_mixed()
    diagnostics = diagnose(idata, {"p": sticky}, sampler="nutpie", sample_seconds=0.1)
    rows = [
        idata.posterior["a"].values,
        *np.moveaxis(idata.posterior["b"].values, 2, 0),
        sticky,
    ]
    for key, fn, measure in (
        ("r_hat_max", max, lambda x: az.rhat(x, method="rank")),
        ("ess_bulk_min", min, lambda x: az.ess(x, method="bulk")),
        ("ess_tail_min", min, lambda x: az.ess(x, method="tail")),
    ):
        want = fn(float(measure(x)) for x in rows)
        assert diagnostics[key] == pytest.approx(want, rel=1e-9), key


def test_a_narrow_quantity_whose_chains_disagree_fails_the_gate():
    """A probability that varies little between draws is still checked: chains at 0.10
    and 0.13 with sd 0.005 are not one posterior."""
    rng = np.random.default_rng(4)
    levels = np.array([0.10, 0.10, 0.13, 0.13])[:, None]
    narrow = levels + 0.005 * rng.normal(size=(CHAINS, DRAWS))
    diagnostics = diagnose(well_mixed(), {"p": narrow}, sampler="nutpie", sample_seconds=0.1)
    assert any(f.startswith("R-hat") for f in diagnostics["failures"])


def test_the_refit_raises_settings_to_its_floors_and_keeps_higher_ones():
    assert retry_overrides({"target_accept": 0.95, "tune": 150, "draws": 700}) == (
        RETRY_SAMPLER_OVERRIDES
    )
    longer = retry_overrides({"target_accept": 0.999, "tune": 2000, "draws": 5000})
    assert longer == {"target_accept": 0.999, "tune": 2000, "draws": 5000}


def test_a_fit_that_misses_the_gate_is_refitted_once_and_the_refit_published(
    synthetic_forecaster, synthetic_run, synthetic_dataset, tmp_path, monkeypatch
):
    """100 draws a chain cannot reach ESS 400; the refit's longer chains do."""
    monkeypatch.setitem(synthetic_forecaster.model.sampler_config, "draws", 100)
    result = synthetic_forecaster.run(
        synthetic_dataset.evidence,
        SYNTHETIC_AS_OF,
        seed=SYNTHETIC_SEED,
        run_id="run_refitted",
        run_dir=tmp_path / "run",
    )
    assert result.diagnostics["passed"]
    assert result.diagnostics["attempts"] == 2
    assert result.diagnostics["draws"] == RETRY_SAMPLER_OVERRIDES["draws"]
    assert result.diagnostics["first_attempt_failures"]
    assert read_json(tmp_path / "run" / DOCUMENT_FILE)["diagnostics"]["attempts"] == 2
    # The record names the settings of the published (refitted) fit, not the first one's.
    recorded = read_json(tmp_path / "run" / INPUTS_FILE)["sampler_config"]
    assert {k: recorded[k] for k in RETRY_SAMPLER_OVERRIDES} == RETRY_SAMPLER_OVERRIDES


def test_a_fit_that_fails_the_gate_is_recorded_but_not_published(
    synthetic_forecaster, synthetic_dataset, tmp_path, monkeypatch
):
    monkeypatch.setattr(synthetic_forecaster, "gate", GateConfig(ess_bulk_min=1e9))
    run_dir = tmp_path / "run"
    with pytest.raises(GateFailed) as caught:
        synthetic_forecaster.run(
            synthetic_dataset.evidence,
            SYNTHETIC_AS_OF,
            seed=SYNTHETIC_SEED,
            run_id="run_failed",
            run_dir=run_dir,
        )
    assert caught.value.diagnostics["failures"]
    assert caught.value.diagnostics["attempts"] == 2  # refitted once, then given up
    assert read_json(run_dir / DIAGNOSTICS_FILE)["passed"] is False
    assert (run_dir / POSTERIOR_FILE).exists()  # kept for diagnosis
    assert not (run_dir / DOCUMENT_FILE).exists()


def test_a_real_fit_sends_every_parameter_and_every_reported_quantity_to_the_gate(
    synthetic_run, synthetic_forecaster
):
    checked = set(synthetic_run.diagnostics["checked"])
    parameters = {
        "intercept", "bloc_z", "b_spend", "b_griev", "b_rival", "b_obj", "tau0",
        "d_griev", "d_rival", "d_obj", "bloc_delay_z", "timing_shape",
        "decision_lag", "success_intercept", "success_coef", "endgame_mu",
        "endgame_shape_typical", "org_shape_z", "org_z", "org_success_z",
        "endgame_coef", "focal_intercept", "focal_holdouts", "org_focal_z",
    }  # fmt: skip
    reported = {
        "p_confirmed_april_ministerial", "p_confirmed_june", "p_confirmed_ever",
        "p_endorse_ever", "p_endorse_by_april_ministerial", "p_endorse_by_june",
    }  # fmt: skip
    assert set(synthetic_forecaster.model.parameter_names) == parameters
    assert checked == parameters | reported
