"""The campaign level: recovery from simulated campaigns, and the leave-one-out backtest."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pymc as pm
import pytest
from scipy import stats

from forecast.checks.campaign_backtest import (
    FIRST_MEETING,
    QUESTIONS,
    backtest_campaigns,
    base_rates,
    fold_base_rates,
    fold_data,
    independent_holdouts,
    later_counts,
    outcomes,
    paired_difference,
    summarise,
    time_left_outcome,
    time_left_scores,
)
from forecast.checks.campaign_recovery import (
    CHECKED,
    default_truth,
    prior_moments,
    run_campaign_recovery,
    simulate_campaigns,
)
from forecast.data.reference import CAMPAIGN_COVARIATES, HoldoutCount
from forecast.model import campaign_level, sampling
from forecast.model.confirmation import ConfirmationModel

SEEDS = (1, 2, 3, 4, 5)  # with three, one parameter of five missed the bar by noise
N_CAMPAIGNS = 160  # with focal points, 80 left the endgame's location near its prior
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
            "pit": 0.5,
        },
        {
            "forecasts": dict.fromkeys(QUESTIONS, 0.4),
            "base_rate": dict.fromkeys(QUESTIONS, 0.5),
            "outcomes": {q: 0.0 for q in QUESTIONS if q != FIRST_MEETING},  # no meeting
            "independent_holdouts": 0.5,
            "pit": 0.97,
        },
    ]
    result = summarise(rows)
    # 7 questions of the first campaign at 0.2 off, 6 of the second at 0.4 off.
    assert len(QUESTIONS) == 7
    assert result["brier"] == pytest.approx((7 * 0.2**2 + 6 * 0.4**2) / 13)
    assert result["log"] == pytest.approx(-(7 * np.log(0.8) + 6 * np.log(0.6)) / 13)
    assert result["base_rate_brier"] == pytest.approx(0.25)
    assert result["timing"]["brier"] == pytest.approx((6 * 0.2**2 + 5 * 0.4**2) / 11)
    assert result["by_question"][FIRST_MEETING]["brier"] == pytest.approx(0.2**2)
    assert result["independent_holdouts"]["brier"] == pytest.approx((0.75**2 + 0.5**2) / 2)
    calibration = result["endgame_calibration"]
    assert (calibration["coverage_50"], calibration["coverage_90"]) == (0.5, 0.5)
    assert calibration["pit_quarters"] == [0, 0, 1, 1]


def test_base_rates_count_the_other_campaigns_with_one_of_each_added(synthetic_dataset):
    others = synthetic_dataset.campaigns[1:]  # 6 confirmed of 9, 3 of them within 30 days
    rates = base_rates(others)
    assert rates["confirmed"] == pytest.approx(7 / 11)
    assert rates["within_30"] == pytest.approx(4 / 11)


def test_the_paired_difference_is_the_mean_of_per_campaign_brier_differences_and_its_se():
    """Worked by hand: campaign a asks two questions, b one (its other is not asked)."""
    rows = [
        {
            "outcomes": {"confirmed": 1.0, "within_30": 0.0},
            "forecasts": {"confirmed": 0.9, "within_30": 0.2},
            "base_rate": {"confirmed": 0.5, "within_30": 0.5},
        },
        {
            "outcomes": {"confirmed": 0.0},
            "forecasts": {"confirmed": 0.6, "within_30": 0.1},
            "base_rate": {"confirmed": 0.5, "within_30": 0.5},
        },
    ]
    # a: model (0.01 + 0.04) / 2 = 0.025, base 0.25: -0.225. b: 0.36 - 0.25 = +0.11.
    result = paired_difference(rows, ("confirmed", "within_30"))
    assert result["n"] == 2
    assert result["difference"] == pytest.approx((-0.225 + 0.11) / 2)
    assert result["se"] == pytest.approx(np.std([-0.225, 0.11], ddof=1) / np.sqrt(2))


def test_time_left_scores_pair_each_campaigns_counts_against_its_base_rate():
    """Worked by hand: a has two later counts, b one, c none (left out)."""
    rows = [
        {"time_left": {"forecasts": [0.8, 0.4], "outcomes": [1.0, 0.0], "base_rate": 0.5}},
        {"time_left": {"forecasts": [0.3], "outcomes": [1.0], "base_rate": 0.6}},
        {"time_left": {"forecasts": [], "outcomes": [], "base_rate": 0.5}},
    ]
    result = time_left_scores(rows)
    assert result["counts"] == 3
    assert result["brier"] == pytest.approx((0.04 + 0.16 + 0.49) / 3)
    assert result["base_rate_brier"] == pytest.approx((0.25 + 0.25 + 0.16) / 3)
    # a: (0.04 - 0.25 + 0.16 - 0.25) / 2 = -0.15; b: 0.49 - 0.16 = +0.33.
    assert result["paired"]["n"] == 2
    assert result["paired"]["difference"] == pytest.approx((-0.15 + 0.33) / 2)


def test_a_later_count_is_asked_the_time_left_and_answered_by_the_outcome():
    campaign = msgspec.structs.replace(
        simulate_campaigns(default_truth(), 1, np.random.default_rng(0))[0],
        outcome="confirmed",
        outcome_date=dt.date(2000, 3, 1),
    )
    counts = [
        HoldoutCount(
            campaign=campaign.id,
            date=d,
            holdouts=1,
            members=9,
            objecting=0,
            rivals=0,
            source="s",
            note="",
        )
        for d in (
            dt.date(2000, 1, 1),
            dt.date(2000, 1, 20),
            dt.date(2000, 2, 15),
            dt.date(2000, 3, 1),
        )
    ]
    campaign = msgspec.structs.replace(campaign, counts=tuple(counts))
    # The emergence day's and the outcome day's counts ask nothing.
    assert [n.date for n in later_counts(campaign)] == [dt.date(2000, 1, 20), dt.date(2000, 2, 15)]
    assert [time_left_outcome(campaign, n) for n in later_counts(campaign)] == [0.0, 1.0]


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
    values = campaign_level.reference_values(ConfirmationModel.config(), campaigns, orgs)
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
    values = campaign_level.reference_values(ConfirmationModel.config(), campaigns, orgs)
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
        "within_90": 1.0,
        "within_120": 1.0,
        "within_180": 1.0,
    }
    later = msgspec.structs.replace(on_day, outcome_date=on_day.outcome_date + dt.timedelta(1))
    assert outcomes(later)["within_30"] == 0.0
    dropped = msgspec.structs.replace(on_day, outcome="dropped")
    assert outcomes(dropped) == {q: 0.0 for q in QUESTIONS if q != FIRST_MEETING}


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


def _by_hand_log_survival(cfg, day, location, shape, focal, dates, clock=None):
    """log P(E > day) written with scipy: the diffuse log-normal's survival (at the
    clock's reading, if given) and, per fixed date, the factor (1 - focal * the part of
    its window passed)."""
    lead, tail = cfg["focal_lead_days"], cfg["focal_tail_days"]
    value = stats.lognorm(s=shape, scale=np.exp(location)).logsf(day if clock is None else clock)
    for date in dates:
        start = max(date - lead, 0.0)  # not before emergence
        passed = min(max((day - start) / (date + tail - start), 0.0), 1.0)
        value += np.log(1.0 - focal * passed)
    return value


def test_the_campaign_levels_log_density_matches_a_hand_computation(synthetic_dataset):
    """At a point of the parameters: each past campaign's outcome and the week of its
    outcome day (focal dates included), and the current campaign's P(E > elapsed) while
    it is open, against scipy. Catches a flipped still-open term, a dropped focal factor
    or a covariate left out of the endgame's location."""
    cfg = ConfirmationModel.config()
    campaigns = synthetic_dataset.campaigns
    orgs = campaign_level.organisations(campaigns, "nato")
    model = campaign_level.reference_model(cfg, campaigns, orgs)
    current_dates = [12.0, 40.0]
    # 8 days with 9 holdouts and no rival, then 12 with 6 holdouts and a rival (0.8).
    path_days, path_z = campaign_level.current_path([(8.0, 9.0, 0.0), (12.0, 6.0, 0.8)])
    with model:
        pm.set_data(
            {
                "campaign_path_days": path_days,
                "campaign_path_z": path_z,
                "campaign_x": np.array([1.0, 0.0, 0.8, 1.0]),
                "campaign_z": campaign_level.endgame_covariates(6, 0.8),
                "campaign_dates": campaign_level.calendar_slots(current_dates),
                "campaign_elapsed": np.asarray(20.0),
                "campaign_open": np.asarray(1.0),
                "campaign_org": np.asarray(orgs.index("nato")),
            }
        )
    point = model.initial_point()
    rng = np.random.default_rng(4)
    point = {k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in point.items()}
    names = [
        "success_intercept", "success_coef", "endgame_mu", "org_effect", "org_shape",
        "org_success", "endgame_coef", "focal_intercept", "focal_holdouts", "org_focal",
    ]  # fmt: skip
    # The potentials are written in the random variables: evaluated at the point's values
    # (not at fresh prior draws, which made this check depend on the draw's tails).
    outputs = model.replace_rvs_by_values(
        [model[n] for n in names] + [model["reference_class"], model["campaign_still_open"]]
    )
    evaluate = model.compile_fn(
        outputs,
        inputs=model.value_vars,
        on_unused_input="ignore",
        mode="FAST_COMPILE",
    )
    *values, reference_class, still_open = evaluate(point)
    p = dict(zip(names, values, strict=True))

    def parameters(org: int, holdouts: float, rival: float) -> tuple[float, float, float]:
        z = campaign_level.endgame_covariates(holdouts, rival)
        location = p["endgame_mu"] + p["org_effect"][org] + z @ p["endgame_coef"]
        logit = p["focal_intercept"] + p["org_focal"][org] + p["focal_holdouts"] * z[0]
        return location, p["org_shape"][org], 1.0 / (1.0 + np.exp(-logit))

    def clock(c, day: float) -> float:
        """The clock at ``day`` by walking the campaign's counts before its outcome day:
        each runs at exp(-coef_holdouts * (log1p(its holdouts) - log1p(emergence's)))."""
        kept = [n for n in c.counts if n.date == c.emerged or n.date < c.outcome_date]
        total = 0.0
        for j, count in enumerate(kept):
            start = (count.date - c.emerged).days
            end = (kept[j + 1].date - c.emerged).days if j + 1 < len(kept) else np.inf
            # log1p(holdouts) and "none holds out" change; the rival candidacy does not.
            change = np.array(
                [
                    np.log1p(count.holdouts) - np.log1p(c.holdouts),
                    0.0,
                    float(count.holdouts == 0) - float(c.holdouts == 0),
                ]
            )
            rate = np.exp(-change @ p["endgame_coef"])
            total += rate * min(max(day - start, 0.0), end - start)
        return total

    expected = 0.0
    for c in campaigns:
        org = orgs.index(c.organisation)
        x = np.array([float(getattr(c, f)) for f in CAMPAIGN_COVARIATES])
        logit = p["success_intercept"] + p["org_success"][org] + x @ p["success_coef"]
        expected += stats.bernoulli(1.0 / (1.0 + np.exp(-logit))).logpmf(int(c.confirmed))
        location, shape, focal = parameters(org, c.holdouts, float(c.rival_candidacy))
        began = max(c.days - cfg["reference_window_days"], 0.5)
        dates = c.meeting_days
        survived = np.exp(
            _by_hand_log_survival(cfg, began, location, shape, focal, dates, clock(c, began))
        )
        ended = np.exp(
            _by_hand_log_survival(cfg, c.days, location, shape, focal, dates, clock(c, c.days))
        )
        expected += np.log(survived - ended)
    assert any(c.meeting_days for c in campaigns)
    # The synthetic class has campaigns whose holdouts changed before the outcome.
    assert any(clock(c, c.days) != c.days for c in campaigns)
    assert float(reference_class) == pytest.approx(expected, rel=1e-7)
    location, shape, focal = parameters(orgs.index("nato"), 6, 0.8)
    # Today's location runs at today's covariates; the first 8 days ran at 9 holdouts'.
    z_then, z_now = (campaign_level.endgame_covariates(*s) for s in ((9, 0.0), (6, 0.8)))
    current_clock = 8.0 * np.exp((z_now - z_then) @ p["endgame_coef"]) + 12.0
    by_hand = _by_hand_log_survival(cfg, 20.0, location, shape, focal, current_dates, current_clock)
    assert abs(current_clock - 20.0) > 0.5  # the path moved the clock off the calendar
    assert float(still_open) == pytest.approx(by_hand, rel=1e-7)
    # The dates' factors are there: by day 20 the first window (5, 15] has passed.
    diffuse_only = _by_hand_log_survival(
        cfg, 20.0, location, shape, 0.0, current_dates, current_clock
    )
    assert by_hand == pytest.approx(diffuse_only + np.log1p(-focal), rel=1e-12)


def test_p_within_is_success_times_the_endgame_cdf_by_hand():
    cfg = ConfirmationModel.config()
    lead, tail = cfg["focal_lead_days"], cfg["focal_tail_days"]
    dates = [10.0, 50.0]
    # Day 12 is inside the first date's window: (12 - 3) / (lead + tail) of it has passed.
    passed = (12.0 - (10.0 - lead)) / (lead + tail)
    survival = stats.lognorm(s=0.5, scale=20.0).sf(12.0) * (1.0 - 0.4 * passed)
    value = campaign_level.p_within(
        cfg, np.array([0.5]), np.log([20.0]), np.array([0.5]), np.array([0.4]), dates, 12.0
    )
    assert value[0] == pytest.approx(0.5 * (1.0 - survival), rel=1e-12)
    spread = campaign_level.p_within(
        cfg, np.array([0.5]), np.log([20.0]), np.array([1.5]), np.array([0.0]), [], 12.0
    )
    assert spread[0] == pytest.approx(0.5 * stats.lognorm(s=1.5, scale=20.0).cdf(12.0), rel=1e-12)


def test_a_binding_date_settles_the_campaign_from_a_week_before_it_to_three_days_after():
    """The default window by value: a date 20 days after emergence that binds with
    probability 0.6 (the diffuse endgame too slow to count) spreads 0.6 evenly over days
    13 to 23, so 0.6 * 3/10 of it by day 16 and 0.6 * 7/10 by the date itself."""
    cfg = ConfirmationModel.config()
    days = [13.0, 16.0, 20.0, 23.0, 30.0]
    within = [
        campaign_level.p_within(
            cfg, np.ones(1), np.log([1e6]), np.array([0.3]), np.array([0.6]), [20.0], day
        )[0]
        for day in days
    ]
    assert within == pytest.approx([0.0, 0.18, 0.42, 0.6, 0.6], abs=1e-12)


def test_the_independent_holdouts_baseline_multiplies_one_chance_per_holdout(synthetic_dataset):
    two = next(c for c in synthetic_dataset.campaigns if c.holdouts == 2)
    pi = 1.0 / (1.0 + np.exp(-ConfirmationModel.config()["intercept_mu"]))
    assert independent_holdouts(two) == pytest.approx(pi**2, rel=1e-12)


def test_a_fold_scores_against_the_base_rate_of_the_other_campaigns_only(synthetic_dataset):
    campaigns = synthetic_dataset.campaigns
    confirmed = [c for c in campaigns if c.confirmed]
    k = campaigns.index(confirmed[0])
    # 6 of the other 9 confirmed (7 of 10 with the left-out one), plus one of each.
    assert fold_base_rates(campaigns, k)["confirmed"] == pytest.approx(7 / 11)


def test_a_folds_likelihood_ignores_the_left_out_campaigns_days_and_outcome(synthetic_dataset):
    cfg = ConfirmationModel.config()
    campaigns = synthetic_dataset.campaigns
    orgs = campaign_level.organisations(campaigns, campaigns[0].organisation)
    values = campaign_level.reference_values(ConfirmationModel.config(), campaigns, orgs)
    model = campaign_level.reference_model(cfg, campaigns, orgs)
    logp = model.compile_logp(mode="FAST_COMPILE")
    point = model.initial_point()

    def fold_logp(k: int, changed: int) -> tuple[float, float]:
        # Campaign ``changed`` ended nine days later: its days and its clock's stretches.
        later = list(campaigns)
        later[changed] = msgspec.structs.replace(
            later[changed], outcome_date=later[changed].outcome_date + dt.timedelta(days=9)
        )
        moved = campaign_level.reference_values(cfg, later, orgs)
        keys = ("reference_days", "reference_stretch_began", "reference_stretch_ended")
        assert all(not np.array_equal(moved[key], values[key]) for key in keys)
        with model:
            pm.set_data(fold_data(campaigns, orgs, values, k))
            before = float(logp(point))
            pm.set_data({key: moved[key] for key in keys})
            after = float(logp(point))
            pm.set_data({key: values[key] for key in keys})
        return before, after

    before, after = fold_logp(2, changed=2)
    assert after == before
    before, after = fold_logp(2, changed=3)
    assert after != pytest.approx(before, abs=1e-6)


def test_the_time_left_forecast_is_the_endgame_conditioned_on_the_count_by_value():
    """Without fixed dates the endgame is log-normal on its clock: P(settled within 30 days
    of a count on day t | not by t) is (F(c + 30) - F(c)) / (1 - F(c)), times P(success),
    per draw, with c the clock's reading at t in the units of the count's holdouts: the
    first 19 days ran at 3 holdouts' rate, the last at 1's."""
    from types import SimpleNamespace

    from forecast.checks.campaign_backtest import time_left_forecasts

    base = simulate_campaigns(default_truth(), 1, np.random.default_rng(1))[0]
    campaign = msgspec.structs.replace(
        base,
        meetings=(),
        fixed_meetings="",
        outcome_date=dt.date(2000, 3, 31),
        rival_candidacy=False,
    )
    counts = [
        HoldoutCount(
            campaign=campaign.id,
            date=d,
            holdouts=h,
            members=9,
            objecting=0,
            rivals=0,
            source="s",
            note="",
        )
        for d, h in ((dt.date(2000, 1, 1), 3), (dt.date(2000, 1, 20), 1))
    ]
    campaign = msgspec.structs.replace(campaign, counts=tuple(counts))
    orgs = [campaign.organisation]
    draws = {  # (chain, draw, ...): one chain of two draws
        # P(success) 0.9 and 0.6: the intercepts' log-odds, no covariate or organisation
        # effect.
        "p_success": np.array([[0.9, 0.6]]),
        "success_intercept": np.log(np.array([[0.9 / 0.1, 0.6 / 0.4]])),
        "success_coef": np.zeros((1, 2, 4)),
        "org_success": np.zeros((1, 2, 1)),
        "endgame_mu": np.array([[3.0, 3.5]]),
        "org_effect": np.array([[[0.2], [-0.1]]]),
        "endgame_coef": np.array([[[0.5, 0.3, -0.8], [0.4, 0.2, -1.2]]]),
        "focal_intercept": np.array([[0.0, 0.0]]),
        "org_focal": np.array([[[0.0], [0.0]]]),
        "focal_holdouts": np.array([[0.0, 0.0]]),
        "org_shape": np.array([[[0.8], [1.1]]]),
    }
    post = {k: SimpleNamespace(values=v) for k, v in draws.items()}
    got = time_left_forecasts(ConfirmationModel.config(), post, campaign, orgs)
    t = campaign.day(dt.date(2000, 1, 20))  # day 20 on the endgame's clock
    expected = []
    for s in range(2):
        location = (
            draws["endgame_mu"][0, s]
            + draws["org_effect"][0, s, 0]
            + draws["endgame_coef"][0, s, 0] * np.log1p(1)
        )
        dist = stats.lognorm(s=draws["org_shape"][0, s, 0], scale=np.exp(location))
        slower = np.exp(-draws["endgame_coef"][0, s, 0] * (np.log1p(3) - np.log1p(1)))
        c = 19.0 * slower + (t - 19.0)
        expected.append(draws["p_success"][0, s] * (dist.cdf(c + 30) - dist.cdf(c)) / dist.sf(c))
    assert got == pytest.approx([np.mean(expected)], rel=1e-9)
