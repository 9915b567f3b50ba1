"""The campaign level: recovery from simulated campaigns, and the leave-one-out backtest."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pytest

from forecast.checks.campaign_backtest import (
    QUESTIONS,
    backtest_campaigns,
    base_rates,
    fold_data,
    outcomes,
    summarise,
)
from forecast.checks.campaign_recovery import (
    CHECKED,
    default_truth,
    prior_moments,
    run_campaign_recovery,
    simulate_campaigns,
)
from forecast.data.reference import CAMPAIGN_COVARIATES
from forecast.model import campaign_level, sampling
from forecast.model.confirmation import ConfirmationModel

SEEDS = (1, 2, 3)
N_CAMPAIGNS = 80
MIN_CONTRACTION = 0.3


@pytest.fixture(scope="module")
def fits():
    return run_campaign_recovery(SEEDS, N_CAMPAIGNS, without_likelihood=SEEDS)


@pytest.fixture(scope="module")
def recovered(fits):
    return fits[fits["likelihood"]]


@pytest.fixture(scope="module")
def without_likelihood(fits):
    return fits[~fits["likelihood"]]


def recovery_passes(table) -> bool:
    """Every checked parameter contracts from its prior, and moves towards the truth."""
    by_parameter = table.groupby("parameter")
    contraction = by_parameter["contraction"].mean()
    error = (table["mean"] - table["truth"]).abs().groupby(table["parameter"]).mean()
    prior_error = (table["prior_mean"] - table["truth"]).abs().groupby(table["parameter"]).mean()
    return bool((contraction >= MIN_CONTRACTION).all() and (error < 0.6 * prior_error).all())


def test_the_truth_sits_off_the_means_of_the_priors_the_recovery_is_run_with():
    # A user's priors: each checked mean moved to where the default priors' truth sits.
    default = default_truth()
    config = {
        "success_intercept_mu": default["success_intercept"],
        "endgame_mu_days": float(np.exp(default["endgame_mu"])),
        "endgame_shape_mu": default["endgame_shape_typical"],
    }
    truth, moments = default_truth(config), prior_moments(config)
    for name in CHECKED:  # at least half a prior sd away, either side
        mean, sd = moments[name]
        assert abs(truth[name] - mean) >= 0.5 * sd - 1e-12, name


def test_simulated_campaigns_have_both_outcomes_and_positive_days():
    campaigns = simulate_campaigns(default_truth(), 80, np.random.default_rng(0))
    assert {c.outcome for c in campaigns} == {"confirmed", "dropped"}
    assert min(c.days for c in campaigns) >= 1


@pytest.mark.slow
def test_campaign_parameters_are_recovered_from_simulated_reference_classes(recovered):
    assert recovery_passes(recovered), recovered
    assert recovered["covered"].mean() >= 0.75


@pytest.mark.slow
def test_the_recovery_check_fails_when_the_reference_class_is_ignored(without_likelihood):
    # The posterior is then the prior: no contraction, no movement towards the truth.
    assert not recovery_passes(without_likelihood)
    assert without_likelihood["contraction"].abs().max() < 0.15


def test_scores_and_base_rates_are_computed_by_value():
    rows = [
        {
            "forecasts": dict.fromkeys(QUESTIONS, 0.8),
            "base_rate": dict.fromkeys(QUESTIONS, 0.5),
            "outcomes": dict.fromkeys(QUESTIONS, 1.0),
            "independent_holdouts": 0.25,
        },
        {
            "forecasts": dict.fromkeys(QUESTIONS, 0.4),
            "base_rate": dict.fromkeys(QUESTIONS, 0.5),
            "outcomes": dict.fromkeys(QUESTIONS, 0.0),
            "independent_holdouts": 0.5,
        },
    ]
    result = summarise(rows)
    assert result["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert result["log"] == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    assert result["base_rate_brier"] == pytest.approx(0.25)
    assert result["independent_holdouts"]["brier"] == pytest.approx((0.75**2 + 0.5**2) / 2)


def test_base_rates_count_the_other_campaigns_with_one_of_each_added(synthetic_dataset):
    others = synthetic_dataset.campaigns[1:]  # 6 confirmed of 9, 3 of them within 30 days
    rates = base_rates(others)
    assert rates["confirmed"] == pytest.approx(7 / 11)
    assert rates["within_30"] == pytest.approx(4 / 11)


@pytest.mark.slow
def test_the_campaign_backtest_forecasts_every_campaign_from_the_others(synthetic_dataset):
    result = backtest_campaigns(
        synthetic_dataset.campaigns, sampler_config={"tune": 300, "draws": 300}
    )
    assert [r["id"] for r in result["campaigns"]] == [c.id for c in synthetic_dataset.campaigns]
    for row in result["campaigns"]:
        forecasts = row["forecasts"]
        assert 0 < forecasts["within_30"] <= forecasts["within_60"] <= forecasts["within_120"]
        assert forecasts["within_120"] <= forecasts["confirmed"] < 1
    for key in ("brier", "log", "base_rate_brier", "base_rate_log"):
        assert np.isfinite(result[key])
    campaigns = synthetic_dataset.campaigns
    for k, row in enumerate(result["campaigns"]):
        assert row["base_rate"] == base_rates([c for j, c in enumerate(campaigns) if j != k])
        assert row["outcomes"] == outcomes(campaigns[k])


def test_each_fold_leaves_its_campaign_out_and_forecasts_it_as_of_its_emergence(
    synthetic_dataset,
):
    campaigns = synthetic_dataset.campaigns
    orgs = campaign_level.organisations(campaigns, campaigns[0].organisation)
    values = campaign_level.reference_values(campaigns, orgs)
    assert {c.organisation for c in campaigns} == {"eu", "nato", "wto"}
    for k, campaign in enumerate(campaigns):
        data = fold_data(campaigns, orgs, values, k)
        assert data["reference_weight"].tolist() == [float(j != k) for j in range(len(campaigns))]
        covariates = [float(getattr(campaign, name)) for name in CAMPAIGN_COVARIATES]
        assert data["campaign_x"].tolist() == covariates
        assert orgs[int(data["campaign_org"])] == campaign.organisation
        assert float(data["campaign_elapsed"]) == 0.0
        assert float(data["campaign_open"]) == 0.0


def test_a_left_out_campaigns_forecast_does_not_depend_on_its_own_outcome(synthetic_dataset):
    """Same seed, same other campaigns: the draws are identical whatever the left-out
    campaign's outcome; another campaign's outcome does move them."""
    campaigns = synthetic_dataset.campaigns
    orgs = campaign_level.organisations(campaigns, campaigns[0].organisation)
    values = campaign_level.reference_values(campaigns, orgs)
    compiled = campaign_level.compiled_reference_model(ConfirmationModel.config(), campaigns, orgs)
    settings = {"chains": 2, "tune": 60, "draws": 50, "target_accept": 0.9}
    confirmed = values["reference_confirmed"].copy()
    confirmed[0] = 1.0 - confirmed[0]

    def p_success(k: int, **changes) -> np.ndarray:
        fold = compiled.with_data(**fold_data(campaigns, orgs, values, k), **changes)
        return sampling.sample(fold, settings, seed=5).posterior["p_success"].values

    np.testing.assert_array_equal(p_success(0, reference_confirmed=confirmed), p_success(0))
    assert not np.array_equal(p_success(1, reference_confirmed=confirmed), p_success(1))


def test_a_campaign_confirmed_on_its_thirtieth_day_counts_within_30_days(synthetic_dataset):
    campaign = next(c for c in synthetic_dataset.campaigns if c.confirmed)
    on_day = msgspec.structs.replace(campaign, outcome_date=campaign.emerged + dt.timedelta(29))
    assert on_day.days == 30.0
    assert outcomes(on_day) == {
        "confirmed": 1.0,
        "within_30": 1.0,
        "within_60": 1.0,
        "within_120": 1.0,
    }
    later = msgspec.structs.replace(on_day, outcome_date=on_day.outcome_date + dt.timedelta(1))
    assert outcomes(later)["within_30"] == 0.0
    dropped = msgspec.structs.replace(on_day, outcome="dropped")
    assert outcomes(dropped) == dict.fromkeys(QUESTIONS, 0.0)


def test_the_trace_read_from_nutpie_equals_nutpies_own_conversion(synthetic_dataset):
    """``sampling.sample`` reads nutpie's raw trace itself (warm-up dropped): the same
    draws, statistics and coordinates as nutpie's InferenceData for the same seed."""
    import nutpie

    campaigns = synthetic_dataset.campaigns
    orgs = campaign_level.organisations(campaigns, campaigns[0].organisation)
    compiled = campaign_level.compiled_reference_model(ConfirmationModel.config(), campaigns, orgs)
    settings = {"chains": 2, "tune": 60, "draws": 50, "target_accept": 0.9}
    ours = sampling.sample(compiled, settings, seed=3)
    theirs = nutpie.sample(compiled, **settings, seed=3, progress_bar=False, save_warmup=False)
    assert set(ours.posterior.data_vars) == set(theirs.posterior.data_vars)
    assert ours.posterior.sizes == theirs.posterior.sizes
    for name, values in theirs.posterior.items():
        np.testing.assert_array_equal(ours.posterior[name].values, values.values)
        assert ours.posterior[name].dims == values.dims
    for name in sampling.SAMPLE_STATS:
        np.testing.assert_array_equal(
            ours.sample_stats[name].values, theirs.sample_stats[name].values
        )
    assert list(ours.posterior["org_effect"].organisation.values) == orgs
