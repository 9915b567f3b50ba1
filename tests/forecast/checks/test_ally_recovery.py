"""Parameter recovery: simulated records, and fits to them that cover the true values."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.checks.ally_recovery import (
    CHECKED,
    default_truth,
    prior_means,
    prior_sds,
    run_recovery,
    simulate_records,
)
from forecast.data.inputs import FRAME_COLUMNS
from forecast.model.confirmation import ConfirmationModel

SEEDS = (1, 2)
# A late cut-off, so that "never" and "late" can be told apart and every checked
# parameter is informed (at day 180 with 80 allies the intercept and b_griev hardly
# moved from their priors, so a recovery check there could not fail).
N_ALLIES = 150
AS_OF_DAY = 500
SAMPLER_CONFIG = {"chains": 2, "tune": 400, "draws": 400}
MIN_COVERAGE = 0.7
MIN_CONTRACTION = 0.2


@pytest.fixture(scope="module")
def recovered():
    """The seeds' fits, and the first seed's again with the likelihood switched off."""
    return run_recovery(
        SEEDS,
        N_ALLIES,
        SAMPLER_CONFIG,
        as_of_day=AS_OF_DAY,
        dating="decision",
        without_likelihood=SEEDS[:1],
    )


@pytest.fixture(scope="module")
def recovered_decision_dated(recovered):
    return recovered[recovered["likelihood"]]


@pytest.fixture(scope="module")
def recovered_without_likelihood(recovered):
    return recovered[~recovered["likelihood"]]


def learned(table) -> bool:
    """Every checked parameter contracted from its prior and moved towards the truth."""
    by_parameter = table.groupby("parameter")
    error = (table["mean"] - table["true"]).abs().groupby(table["parameter"]).mean()
    prior = table["prior_error"].groupby(table["parameter"]).mean()
    return bool(
        (by_parameter["contraction"].mean() >= MIN_CONTRACTION).all() and (error < prior).all()
    )


def simulate(seed: int = 0, dating: str = "decision", **truth):
    return simulate_records(
        None,
        {**default_truth(None, 3), **truth},
        200,
        3,
        150,
        np.random.default_rng(seed),
        dating=dating,
    )


def test_simulated_records_have_the_frame_s_columns_and_no_gaps():
    inputs = simulate()
    assert tuple(inputs.frame.columns) == FRAME_COLUMNS
    assert inputs.blocs.shape == (200, 3)
    assert np.isfinite(inputs.frame.drop(columns="status").to_numpy(float)).all()


def test_simulated_endorsements_fall_before_the_cut_off():
    frame = simulate().frame
    events = frame[frame["event"] > 0]
    assert 0 < len(events) < len(frame)
    assert (events["event_day"] > 1.0).all()
    assert (events["event_day"] < frame["censor_day"].iloc[0]).all()
    assert set(frame["status"]) == {"endorsed", "undecided"}


def test_cut_off_dating_dates_every_report_on_the_cut_off_day():
    frame = simulate(dating="cut_off").frame
    assert set(frame.loc[frame["event"] > 0, "event_day"]) == {149.5}


def test_a_lower_intercept_means_fewer_endorsements():
    many = simulate(intercept=4.0).frame["event"].sum()
    few = simulate(intercept=-2.0).frame["event"].sum()
    assert few < many


def test_the_same_seed_simulates_the_same_records():
    assert simulate(seed=3).frame.equals(simulate(seed=3).frame)


def test_an_unknown_parameter_is_refused_listing_the_valid_ones():
    with pytest.raises(ValueError, match="b_griev"):
        simulate(b_grief=1.0)


def test_the_truth_sits_off_the_means_of_the_priors_the_recovery_is_run_with():
    # A user's priors: each checked mean moved to where the default priors' truth sits,
    # and b_spend's prior (mean 0) ten times wider.
    default = default_truth(None, 3)
    config = {
        "intercept_mu": default["intercept"],
        "griev_prior_mu": default["b_griev"],
        "tau0_mu_days": float(np.exp(default["tau0"])),
        "delay_griev_mu": default["d_griev"],
        "lognormal_sigma_mu": default["timing_shape"],
        "spend_prior_sd": 10 * ConfirmationModel.config()["spend_prior_sd"],
    }
    truth, means, sds = default_truth(config, 3), prior_means(config, 3), prior_sds(config)
    for name in CHECKED:  # at least half a prior sd away, either side
        assert abs(truth[name] - means[name]) >= 0.5 * sds[name] - 1e-12, name


def test_recovery_reports_one_row_per_seed_and_checked_parameter(recovered_decision_dated):
    table = recovered_decision_dated
    assert len(table) == len(SEEDS) * len(CHECKED)
    assert set(table["parameter"]) == set(CHECKED)
    assert (table["lower"] <= table["mean"]).all()
    assert (table["mean"] <= table["upper"]).all()


def test_recovery_covers_the_truth_from_records_dated_on_the_endorsement_day(
    recovered_decision_dated,
):
    table = recovered_decision_dated
    assert (table["r_hat"] < 1.05).all()
    assert table["covered"].mean() >= MIN_COVERAGE, table


def test_every_checked_parameter_contracts_from_its_prior_towards_the_truth(
    recovered_decision_dated,
):
    assert learned(recovered_decision_dated), recovered_decision_dated


def test_the_recovery_check_fails_when_the_likelihood_is_switched_off(
    recovered_without_likelihood,
):
    # Coverage alone passed here (the truth sits inside the prior's own interval).
    assert recovered_without_likelihood["covered"].all()
    assert not learned(recovered_without_likelihood)
