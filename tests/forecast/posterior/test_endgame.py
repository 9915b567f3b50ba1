"""The endgame's day with focal points, checked by value against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.posterior import endgame

LOCATION, SHAPE, FOCAL = np.log(30.0), 0.9, 0.6
DATES = np.array([12.0, 40.0, 100.0])
LEAD, TAIL = 7.0, 3.0


def monte_carlo_days(n: int, seed: int = 0) -> np.ndarray:
    """The generative story written out here, apart from the module: a diffuse log-normal
    day, and per date a coin (P = FOCAL) and a day uniform in (date - LEAD, date + TAIL];
    the earliest wins."""
    rng = np.random.default_rng(seed)
    days = stats.lognorm(s=SHAPE, scale=np.exp(LOCATION)).rvs(size=n, random_state=rng)
    for date in DATES:
        binds = rng.uniform(size=n) < FOCAL
        when = rng.uniform(date - LEAD, date + TAIL, size=n)
        days = np.where(binds & (when < days), when, days)
    return days


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    return monte_carlo_days(400_000)


@pytest.mark.parametrize("day", [3.0, 6.0, 9.0, 12.0, 13.0, 20.0, 36.0, 41.0, 70.0, 101.0, 300.0])
def test_the_cdf_matches_a_monte_carlo_of_the_generative_story(simulated, day):
    expected = (simulated <= day).mean()
    value = endgame.cdf(day, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL)
    # Binomial standard error at 400,000 draws is at most 8e-4.
    assert value == pytest.approx(expected, abs=3e-3)


def test_a_binding_date_puts_its_mass_in_the_days_at_and_just_before_it():
    # Early dates only: within the first date's window the CDF rises by about FOCAL.
    before = endgame.cdf(DATES[0] - LEAD, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL)
    after = endgame.cdf(DATES[0] + TAIL, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL)
    diffuse = stats.lognorm(s=SHAPE, scale=np.exp(LOCATION))
    # By hand: S = S_c(t) * (1 - FOCAL * fraction of the window passed).
    assert before == pytest.approx(diffuse.cdf(DATES[0] - LEAD), rel=1e-12)
    assert 1 - after == pytest.approx(diffuse.sf(DATES[0] + TAIL) * (1 - FOCAL), rel=1e-12)
    halfway = DATES[0] - LEAD + (LEAD + TAIL) / 2
    assert 1 - endgame.cdf(halfway, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL) == pytest.approx(
        diffuse.sf(halfway) * (1 - FOCAL / 2), rel=1e-12
    )


def test_without_dates_or_focal_mass_the_endgame_is_the_log_normal():
    days = np.array([1.0, 10.0, 45.0, 400.0])
    diffuse = stats.lognorm(s=SHAPE, scale=np.exp(LOCATION)).cdf(days)
    no_dates = endgame.cdf(days, LOCATION, SHAPE, FOCAL, np.array([]), LEAD, TAIL)
    no_mass = endgame.cdf(days, LOCATION, SHAPE, 0.0, DATES, LEAD, TAIL)
    np.testing.assert_allclose(no_dates, diffuse, rtol=1e-12)
    np.testing.assert_allclose(no_mass, diffuse, rtol=1e-12)


def test_a_date_that_passes_without_a_deal_moves_the_chance_to_the_next_one():
    """P(a deal by the next date's window end | none by this window's end) gains the next
    date's focal mass: (1 - S(b)/S(a)) with S's factor (1 - FOCAL) for the next date."""

    def survival(day: float, focal: float) -> float:
        return 1.0 - endgame.cdf(day, LOCATION, SHAPE, focal, DATES, LEAD, TAIL)

    a, b = DATES[0] + TAIL, DATES[1] + TAIL
    with_focal = 1.0 - survival(b, FOCAL) / survival(a, FOCAL)
    diffuse = stats.lognorm(s=SHAPE, scale=np.exp(LOCATION))
    by_hand = 1.0 - diffuse.sf(b) / diffuse.sf(a) * (1.0 - FOCAL)
    assert with_focal == pytest.approx(by_hand, rel=1e-12)
    assert with_focal > 1.0 - survival(b, 0.0) / survival(a, 0.0) + 0.2


def test_the_quantile_inverts_the_cdf():
    u = np.linspace(0.001, 0.999, 41)
    days = endgame.quantile(u, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL)
    # Exact between windows; within a window to 1e-5 days (density below 0.1 a day).
    np.testing.assert_allclose(
        endgame.cdf(days, LOCATION, SHAPE, FOCAL, DATES, LEAD, TAIL), u, atol=1e-6
    )
    assert np.all(np.diff(days) > 0)


def test_a_window_opens_at_emergence_at_the_earliest():
    """A date three days after emergence: its window is (0, 3 + TAIL], not (-4, ...]: no
    mass before emergence, and all of it by the window's end."""
    dates = np.array([3.0])
    assert endgame.cdf(0.0, LOCATION, SHAPE, FOCAL, dates, LEAD, TAIL) == 0.0
    diffuse = stats.lognorm(s=SHAPE, scale=np.exp(LOCATION))
    half = (3.0 + TAIL) / 2
    assert 1 - endgame.cdf(half, LOCATION, SHAPE, FOCAL, dates, LEAD, TAIL) == pytest.approx(
        diffuse.sf(half) * (1 - FOCAL / 2), rel=1e-12
    )
    u = np.array([0.01, 0.3, 0.6])
    days = endgame.quantile(u, LOCATION, SHAPE, FOCAL, dates, LEAD, TAIL)
    reached = endgame.cdf(days, LOCATION, SHAPE, FOCAL, dates, LEAD, TAIL)
    np.testing.assert_allclose(reached, u, atol=1e-6)


def test_the_quantile_broadcasts_per_draw_parameters():
    u = np.array([[0.2, 0.7], [0.2, 0.7]])
    focal = np.array([[0.0], [0.9]])
    days = endgame.quantile(u, LOCATION, SHAPE, focal, DATES, LEAD, TAIL)
    np.testing.assert_allclose(
        days[0], stats.lognorm(s=SHAPE, scale=np.exp(LOCATION)).ppf([0.2, 0.7]), rtol=1e-8
    )
    np.testing.assert_allclose(
        endgame.cdf(days, LOCATION, SHAPE, focal, DATES, LEAD, TAIL), u, atol=1e-6
    )


def test_the_module_sampler_follows_the_same_story(simulated):
    ours = endgame.sample(
        np.full(400_000, LOCATION), SHAPE, FOCAL, DATES, LEAD, TAIL, np.random.default_rng(1)
    )
    for day in (6.0, 12.0, 41.0, 101.0):
        assert (ours <= day).mean() == pytest.approx((simulated <= day).mean(), abs=4e-3)


# The clock: 20 days with nine holdouts, then one (today's). With the holdouts' coefficient
# 0.8 on log1p, the first stretch ran at exp(-0.8 (log 10 - log 2)) = 0.276 of today's rate.
COEF = 0.8
STARTS = np.array([0.0, 20.0])
RATES = np.exp(-COEF * (np.log1p(np.array([9.0, 1.0])) - np.log1p(1.0)))
ELAPSED = 26.0
# A spread under which the diffuse hazard still rises over these days, so the clock's
# age shows (at 0.9 it is nearly flat from day 12 to day 40).
PATH_SHAPE = 0.5


def monte_carlo_path_days(n: int, seed: int = 2) -> np.ndarray:
    """The clock's story written out here: a log-normal reading of the clock (at today's
    covariates' rate), reached at 0.276 of that rate for the first 20 days and at the full
    rate after; then the focal dates as in ``monte_carlo_days``."""
    rng = np.random.default_rng(seed)
    reading = stats.lognorm(s=PATH_SHAPE, scale=np.exp(LOCATION)).rvs(size=n, random_state=rng)
    first = 20.0 * RATES[0]
    days = np.where(reading <= first, reading / RATES[0], 20.0 + (reading - first))
    for date in DATES:
        binds = rng.uniform(size=n) < FOCAL
        when = rng.uniform(date - LEAD, date + TAIL, size=n)
        days = np.where(binds & (when < days), when, days)
    return days


def test_the_path_clock_and_its_inverse_by_hand():
    assert RATES[0] == pytest.approx(0.2759, abs=1e-4)
    clock = endgame.path_clock(np.array([10.0, 20.0, 26.0]), STARTS, RATES)
    np.testing.assert_allclose(clock, [10 * RATES[0], 20 * RATES[0], 20 * RATES[0] + 6])
    np.testing.assert_allclose(endgame.path_day(clock, STARTS, RATES), [10.0, 20.0, 26.0])
    # The shift from the clock in base days equals the path's: base days are today's
    # divided by exp(coef . z_now); the location is base + coef . z_now.
    base, z_now = 2.0, np.log1p(1.0)
    # By hand: 20 days at nine holdouts' rate and 6 at one's, in base days (covariates 0).
    base_clock = 20.0 * np.exp(-COEF * np.log1p(9.0)) + 6.0 * np.exp(-COEF * np.log1p(1.0))
    shift = endgame.clock_shift(base_clock, base + COEF * z_now, base, ELAPSED)
    assert shift == pytest.approx(20.0 * RATES[0] + 6.0 - ELAPSED, rel=1e-12)
    assert shift < 0.0  # the campaign aged less than its days


@pytest.mark.parametrize("day", [27.0, 33.0, 38.0, 45.0, 60.0, 99.0, 150.0])
def test_the_shifted_cdf_after_a_path_matches_a_monte_carlo(day):
    """P(E <= day | E > elapsed) with the clock's shift, against the story written out."""
    days = monte_carlo_path_days(400_000)
    alive = days > ELAPSED
    expected = (days[alive] <= day).mean()
    shift = endgame.path_clock(ELAPSED, STARTS, RATES) - ELAPSED
    at = [
        endgame.cdf(d, LOCATION, PATH_SHAPE, FOCAL, DATES, LEAD, TAIL, shift)
        for d in (ELAPSED, day)
    ]
    got = (at[1] - at[0]) / (1.0 - at[0])
    assert got == pytest.approx(expected, abs=4e-3)
    # Without the shift (the days counted as if run at today's rate) it differs.
    if day <= 60.0:
        plain = [
            endgame.cdf(d, LOCATION, PATH_SHAPE, FOCAL, DATES, LEAD, TAIL) for d in (ELAPSED, day)
        ]
        assert abs((plain[1] - plain[0]) / (1.0 - plain[0]) - expected) > 0.02


def test_the_shifted_quantile_inverts_the_shifted_cdf():
    shift = endgame.path_clock(ELAPSED, STARTS, RATES) - ELAPSED
    start = endgame.cdf(ELAPSED, LOCATION, PATH_SHAPE, FOCAL, DATES, LEAD, TAIL, shift)
    u = start + np.array([0.01, 0.2, 0.5, 0.8, 0.99]) * (1.0 - start)
    days = endgame.quantile(u, LOCATION, PATH_SHAPE, FOCAL, DATES, LEAD, TAIL, shift)
    assert (days > ELAPSED).all()
    np.testing.assert_allclose(
        endgame.cdf(days, LOCATION, PATH_SHAPE, FOCAL, DATES, LEAD, TAIL, shift), u, atol=1e-6
    )


def test_the_module_sampler_follows_the_path():
    ours = endgame.sample(
        np.full(400_000, LOCATION),
        PATH_SHAPE,
        FOCAL,
        DATES,
        LEAD,
        TAIL,
        np.random.default_rng(3),
        (STARTS, np.tile(RATES, (400_000, 1))),
    )
    theirs = monte_carlo_path_days(400_000)
    for day in (10.0, 20.0, 30.0, 41.0, 101.0):
        assert (ours <= day).mean() == pytest.approx((theirs <= day).mean(), abs=4e-3)
