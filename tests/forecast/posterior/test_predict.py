"""Derived quantities on posterior draws built directly with numpy (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forecast.posterior import predict
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.grid import ENDGAME_GRID
from forecast.posterior.predict import HOLDOUT_HORIZON_DAYS as HORIZON
from forecast.posterior.timing import TIMING_FORMS
from tests.draws import make_draws

KINDS = ("endorsed", "reported", "undecided", "opposed", "not_member")
TOLERANCE = 1e-12
# The endgame integral's grid (forecast.posterior.grid.ENDGAME_GRID cells) can let P(by D) fall
# with D, or exceed P(ever), by at most 1/ENDGAME_GRID in all (its last cell is coarse);
# tests/forecast/posterior/test_consensus_predict.py measures its error against quad.
GRID_BOUND = 1.0 / ENDGAME_GRID
HOLDOUT_GRID_ERROR = 0.01


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def posterior_draws(draw) -> PosteriorDraws:
    """Any plausible bundle of draws: 1-8 draws, 1-6 allies of every kind, both forms."""
    n_draws = draw(st.integers(1, 8))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    n_allies = len(kinds)
    censor_day = float(draw(st.integers(2, 300)))
    withdrawn = draw(st.booleans())

    def array(shape, low, high):
        return draw(hnp.arrays(float, shape, elements=floats(low, high)))

    kinds_array = np.array(kinds)
    reported = np.isin(kinds_array, ["endorsed", "reported"])
    reliability = np.where(kinds_array == "reported", array(n_allies, 0.01, 0.99), 1.0)
    event_day = np.where(reported, array(n_allies, 0.5, censor_day - 0.5), 1.0)
    status = tuple(
        "undecided" if kind == "reported" else kind for kind in kinds
    )  # reported support leaves an ally undecided
    return make_draws(
        timing=draw(st.sampled_from(TIMING_FORMS)),
        codes=tuple(f"A{i}" for i in range(n_allies)),
        p_endorse=array((n_draws, n_allies), 1e-6, 1.0 - 1e-6),
        location=array((n_draws, n_allies), np.log(5.0), np.log(2000.0)),
        shape=array(n_draws, 0.1, 4.0),
        decision_lag=array(n_draws, 0.0, 20.0),
        member=(kinds_array != "not_member").astype(float),
        status=status,
        event=reported.astype(float),
        event_day=event_day,
        reliability=reliability,
        censor_day=censor_day,
        p_success=array(n_draws, 0.0, 1.0),
        endgame_location=array(n_draws, np.log(2.0), np.log(500.0)),
        endgame_shape=array(n_draws, 0.1, 3.0),
        emerged_offset=draw(floats(0.0, censor_day + 50.0)),
        withdrawn=withdrawn,
    )


DAYS = st.lists(floats(0.0, 800.0), min_size=1, max_size=5).map(sorted)


@given(draws=posterior_draws(), days=st.tuples(floats(0.0, 800.0), floats(0.0, 800.0)))
def test_confirmation_by_april_is_at_most_by_june_at_most_ever(draws, days):
    april, june = sorted(days)
    p_april = predict.confirmed_by(draws, april)
    p_june = predict.confirmed_by(draws, june)
    p_ever = predict.confirmed_ever(draws)
    assert np.all(p_april >= 0.0)
    assert np.all(p_april <= p_june + GRID_BOUND)
    assert np.all(p_june <= p_ever + GRID_BOUND)
    assert np.all(p_ever <= 1.0 + TOLERANCE)


@given(draws=posterior_draws(), days=DAYS)
def test_every_probability_is_in_the_unit_interval(draws, days):
    grid = np.broadcast_to(np.array(days), (draws.n_draws, len(days)))
    for values in (
        predict.endorsed_by(draws, grid),
        predict.endorse_ever(draws),
        predict.confirmed_by(draws, np.array(days)),
    ):
        assert np.all((values >= 0.0) & (values <= 1.0 + TOLERANCE))


@given(draws=posterior_draws(), days=DAYS, data=st.data())
def test_a_later_by_date_never_lowers_confirmation(draws, days, data):
    code = data.draw(st.sampled_from(draws.codes))
    for what_if in ({}, {code: "endorsed"}, {code: "opposed"}):
        p = predict.confirmed_by(draws, np.array(days), what_if)
        assert np.all(np.diff(p, axis=1) >= -GRID_BOUND)


@given(draws=posterior_draws(), days=DAYS, data=st.data())
def test_assuming_a_member_opposed_makes_confirmation_impossible(draws, days, data):
    members = [c for c, m in zip(draws.codes, draws.member, strict=True) if m > 0]
    assume(members)
    code = data.draw(st.sampled_from(members))
    p = predict.confirmed_by(draws, np.array(days), {code: "opposed"})
    assert np.all(p == 0.0)
    assert np.all(predict.endorse_ever(draws, {code: "opposed"})[:, draws.codes.index(code)] == 0)


@given(draws=posterior_draws(), days=DAYS, data=st.data())
def test_assuming_an_ally_endorsed_never_lowers_confirmation(draws, days, data):
    code = data.draw(st.sampled_from(draws.codes))
    before = predict.confirmed_by(draws, np.array(days))
    after = predict.confirmed_by(draws, np.array(days), {code: "endorsed"})
    assert np.all(after >= before - TOLERANCE)
    assert np.all(
        predict.confirmed_ever(draws)
        <= predict.confirmed_ever(draws, {code: "endorsed"}) + TOLERANCE
    )


@given(draws=posterior_draws())
def test_last_holdout_probabilities_sum_to_one_while_a_member_is_silent(draws):
    silent = (draws.member > 0) & (draws.event == 0)
    assume(silent.any())
    last = predict.last_holdout(draws)
    assert np.all(last >= 0.0)
    assert np.all(last[np.array(draws.status) == "endorsed"] == 0.0)
    # A grid integral (160 points in time): close to 1, not exactly.
    assert last.sum() == pytest.approx(1.0, abs=HOLDOUT_GRID_ERROR) or last.sum() == 0.0


def test_last_holdout_is_never_negative_where_an_allys_curve_has_flattened():
    # Found by hypothesis: A1's curve is flat after the cut-off, and rounding in
    # ``offset + slope * F`` made its chance of being last -2.6e-15.
    draws = make_draws(
        timing="weibull",
        codes=("A0", "A1"),
        p_endorse=np.full((1, 2), 0.25),
        location=np.array([[2.0, 1.75]]),
        shape=np.array([2.0]),
        decision_lag=np.zeros(1),
        event_day=np.array([1.0, 0.5]),
        reliability=np.array([1.0, 0.5]),
        censor_day=36.0,
        p_success=np.zeros(1),
        endgame_location=np.ones(1),
        endgame_shape=np.ones(1),
        emerged_offset=0.0,
    )
    last = predict.last_holdout(draws)
    assert np.all(last >= 0.0)
    assert last.sum() == pytest.approx(1.0, abs=HOLDOUT_GRID_ERROR)


def test_an_endorsed_ally_has_endorsed_by_every_later_day():
    draws = make_draws(
        p_endorse=np.full((3, 2), 0.5),
        location=np.full((3, 2), np.log(150.0)),
        shape=np.full(3, 0.4),
        decision_lag=np.full(3, 5.0),
        status=("endorsed", "undecided"),
        event=np.array([1.0, 0.0]),
        event_day=np.array([100.5, 1.0]),
        reliability=np.ones(2),
        p_success=np.full(3, 0.6),
        endgame_location=np.full(3, np.log(45.0)),
        endgame_shape=np.full(3, 0.9),
        emerged_offset=90.0,
    )
    g = predict.endorsed_by(draws, np.full(3, 130.0))
    assert np.all(g[:, 0] == 1.0)
    assert np.all((g[:, 1] > 0.0) & (g[:, 1] < 1.0))


def test_the_last_holdout_split_matches_a_monte_carlo_of_the_allies_own_decisions():
    """Three silent allies: who decides last, among futures in which all three decide."""
    pi = np.array([0.9, 0.8, 0.95])
    location = np.log(np.array([150.0, 220.0, 300.0]))
    shape, cut_off = 0.5, 100.0
    draws = make_draws(
        codes=("AA", "BB", "CC"),
        p_endorse=np.tile(pi, (2, 1)),
        location=np.tile(location, (2, 1)),
        shape=np.full(2, shape),
        decision_lag=np.zeros(2),
        member=np.ones(3),
        status=("undecided",) * 3,
        event=np.zeros(3),
        event_day=np.ones(3),
        reliability=np.ones(3),
        censor_day=cut_off,
        p_success=np.full(2, 0.5),
        endgame_location=np.full(2, np.log(45.0)),
        endgame_shape=np.full(2, 0.9),
        emerged_offset=0.0,
    )
    # The generative model by simulation: each ally decides with probability pi, on a
    # log-normal day; only futures in which none had decided by the cut-off are kept.
    rng = np.random.default_rng(7)
    n = 400_000
    decides = rng.uniform(size=(n, 3)) < pi
    day = np.exp(location + shape * rng.standard_normal((n, 3)))
    day = np.where(decides, day, np.inf)
    day = day[(day > cut_off).all(axis=1)]
    within = np.isfinite(day).all(axis=1) & (day.max(axis=1) <= cut_off + HORIZON)
    simulated = np.bincount(day[within].argmax(axis=1), minlength=3) / within.sum()
    last = predict.last_holdout(draws)
    assert simulated.min() > 0.1  # values large enough to compare
    assert last == pytest.approx(simulated, rel=0.05)


def test_the_interval_runs_from_the_3rd_to_the_97th_percentile_of_the_draws():
    """94% equal-tailed: of 101 draws 0..100, in any order, 3 lie below it and 3 above."""
    values = np.random.default_rng(3).permutation(np.arange(101.0))
    assert predict.interval(values) == pytest.approx((3.0, 97.0), abs=1e-12)
