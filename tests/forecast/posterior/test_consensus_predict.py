"""The campaign-level consent numbers of forecast.posterior.predict checked by value.

Each headline number (P(confirmed by D), P(ally endorsed by day), P(ever)) is compared
with an independent computation: numerical integration with scipy on a hand-built
two-ally case, and a Monte Carlo of the generative model (own decisions with a cure
fraction, an endgame after the cut-off that brings every holdout in or ends the bid).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from forecast.posterior import predict
from forecast.posterior.campaign import endgame_cdf
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.grid import ENDGAME_GRID
from forecast.posterior.pivotal import pivotal
from tests.draws import CUT_OFF, make_draws

# Midpoint rule on ENDGAME_GRID cells of the endgame's conditional CDF, against quad: on
# these draws, with 48 cells, the relative error was at most 3.5e-4 by a day and 1.5e-3
# for "ever" (the last cell, reaching to infinity, is the coarsest); 24 cells stay within
# the same tolerances.
GRID_REL = 1e-3
EVER_REL = 3e-3
# In the cell holding x, the grid's value of E <= x (the cell's midpoint) can sit below
# M(x): P(by D) may then fall with D, or exceed P(ever), by at most 1/ENDGAME_GRID in all.
GRID_BOUND = 1.0 / ENDGAME_GRID
MC_SIMULATIONS = 200_000
MC_SIGMAS = 4.5  # per comparison; about 60 comparisons per case at a fixed seed
DEADLINES = (150.0, 190.0, 260.0)
DAYS = (140.0, 180.0, 250.0)


def two_allies(timing: str = "lognormal", **changes) -> PosteriorDraws:
    """``make_draws``'s two members and three draws in either timing form: AA silent; BB
    reported (reliability 0.8) on day 100.

    The front-runner emerged on day 100, 20 days before the cut-off, and the endgame's
    median is 45 days after emergence, so about a fifth of its prior mass lies before the
    cut-off: conditioning on E > c matters.
    """
    fields: dict = {"timing": timing}
    if timing == "weibull":
        # A Weibull's median sits below its scale.
        fields.update(location=make_draws().location + 0.15, shape=np.array([2.0, 3.0, 1.5]))
    return make_draws(**{**fields, **changes})


# --- The independent computation: scipy distributions and quad -------------------------


def own_distribution(draws: PosteriorDraws, s: int, i: int):
    scale = np.exp(draws.location[s, i])
    if draws.timing == "lognormal":
        return stats.lognorm(s=draws.shape[s], scale=scale)
    return stats.weibull_min(c=draws.shape[s], scale=scale)


def report_is_true(draws: PosteriorDraws, s: int, i: int) -> float:
    """Bayes: a true report means a decision by its day; a false one, none by the cut-off."""
    pi, own, r = draws.p_endorse[s, i], own_distribution(draws, s, i), draws.reliability[i]
    true = r * pi * own.cdf(draws.event_day[i])
    false = (1.0 - r) * (1.0 - pi * own.cdf(draws.censor_day))
    return true / (true + false)


def own_by(draws: PosteriorDraws, s: int, i: int, x: float) -> float:
    """G_i(x) for x after the cut-off: decided before, or decided since (cure model)."""
    c, pi, own = draws.censor_day, draws.p_endorse[s, i], own_distribution(draws, s, i)
    w = report_is_true(draws, s, i) if draws.event[i] > 0 else 0.0
    later = pi * (own.cdf(x) - own.cdf(c)) / (1.0 - pi * own.cdf(c))
    return w + (1.0 - w) * later


def consent_by(draws: PosteriorDraws, s: int, x: float) -> float:
    """M(x): every member has decided on its own by x."""
    return float(np.prod([own_by(draws, s, i, x) for i in range(len(draws.codes))]))


def endgame(draws: PosteriorDraws, s: int):
    """The endgame's day, conditional on E > c: density and survival on absolute days."""
    rel = stats.lognorm(s=draws.endgame_shape[s], scale=np.exp(draws.endgame_location[s]))
    off, c = draws.emerged_offset, draws.censor_day
    still_open = rel.sf(c - off)
    return (lambda e: rel.pdf(e - off) / still_open), (lambda e: rel.sf(e - off) / still_open)


def confirmed_quad(draws: PosteriorDraws, s: int, day: float, m=None) -> float:
    """P(confirmed by ``day``): with ``y = day - lag``, the campaign succeeds and the
    members had all decided by ``y`` or the endgame came by ``day``; or it fails, and they
    had all decided by ``y`` and before the endgame. ``m(x)``: every member decided by x
    (``consent_by`` unless given)."""
    density, survival = endgame(draws, s)
    p_s, y = draws.p_success[s], day - draws.decision_lag[s]
    m = m or (lambda x: consent_by(draws, s, x))
    before, _ = integrate.quad(
        lambda e: density(e) * m(e), draws.censor_day, y, epsabs=1e-12, epsrel=1e-10, limit=200
    )
    succeeded = 1.0 - (1.0 - m(y)) * survival(day)
    return p_s * succeeded + (1.0 - p_s) * (before + m(y) * survival(y))


def by_quad(draws: PosteriorDraws, s: int, x: float, g) -> float:
    """int_c^x f_E(e) [g(e) + p_S (1 - g(e))] de + g(x) S_E(x): decided before the
    endgame, or the endgame came by x and brought the holdouts in (or they were in)."""
    density, survival = endgame(draws, s)
    p_s = draws.p_success[s]
    inside, _ = integrate.quad(
        lambda e: density(e) * (g(e) + p_s * (1.0 - g(e))),
        draws.censor_day,
        x,
        epsabs=1e-12,
        epsrel=1e-10,
        limit=200,
    )
    return inside + g(x) * survival(x)


def ever_quad(draws: PosteriorDraws, s: int, g) -> float:
    """p_S + (1 - p_S) int_c^inf f_E(e) g(e) de."""
    density, _ = endgame(draws, s)
    p_s = draws.p_success[s]
    integral, _ = integrate.quad(
        lambda e: density(e) * g(e), draws.censor_day, np.inf, epsabs=1e-12, limit=200
    )
    return p_s + (1.0 - p_s) * integral


# --- 1. Hand-worked case against quad ---------------------------------------------------


@pytest.mark.parametrize("timing", ["lognormal", "weibull"])
def test_confirmation_by_each_deadline_matches_an_integral_over_the_open_endgame(timing):
    draws = two_allies(timing)
    got = predict.confirmed_by(draws, np.array(DEADLINES))
    for s in range(draws.n_draws):
        want = [confirmed_quad(draws, s, d) for d in DEADLINES]
        assert min(want) > 0.05
        assert got[s] == pytest.approx(want, rel=GRID_REL)


@pytest.mark.parametrize("timing", ["lognormal", "weibull"])
def test_each_allys_endorsement_by_a_day_matches_an_integral_over_the_open_endgame(timing):
    draws = two_allies(timing)
    days = np.broadcast_to(np.array(DAYS), (draws.n_draws, len(DAYS)))
    got = predict.endorsed_by(draws, days)  # (draw, ally, day)
    for s in range(draws.n_draws):
        for i in range(2):
            want = [by_quad(draws, s, x, lambda e, s=s, i=i: own_by(draws, s, i, e)) for x in DAYS]
            assert min(want) > 0.05
            assert got[s, i] == pytest.approx(want, rel=GRID_REL)


@pytest.mark.parametrize("timing", ["lognormal", "weibull"])
def test_ever_endorsing_and_ever_confirming_match_integrals_over_the_whole_endgame(timing):
    draws = two_allies(timing)
    ever = predict.endorse_ever(draws)
    confirmed = predict.confirmed_ever(draws)
    for s in range(draws.n_draws):
        for i in range(2):
            want = ever_quad(draws, s, lambda e, s=s, i=i: own_by(draws, s, i, e))
            assert ever[s, i] == pytest.approx(want, rel=EVER_REL)
        want = ever_quad(draws, s, lambda e, s=s: consent_by(draws, s, e))
        assert confirmed[s] == pytest.approx(want, rel=EVER_REL)


def both_reported(decision_lag: np.ndarray) -> PosteriorDraws:
    """Both members reported (reliability 0.6 on day 90, 0.8 on day 100), their own timing
    curves run out before the reports: each has endorsed if and only if its report is true."""
    return two_allies(
        location=np.log(np.full((3, 2), 50.0)),
        shape=np.full(3, 0.02),
        event=np.array([1.0, 1.0]),
        event_day=np.array([90.0, 100.0]),
        reliability=np.array([0.6, 0.8]),
        decision_lag=decision_lag,
    )


def test_ever_is_exact_when_only_the_endgame_can_change_anything():
    """Both members were reported (reliability 0.6 and 0.8) and their own timing curves
    ran out before the reports: each has endorsed if and only if its report is true, and
    nobody decides on their own after the cut-off. Then, by hand, P(BB ever endorses) =
    p_S + (1 - p_S) w_BB and P(ever confirmed) = p_S + (1 - p_S) w_AA w_BB: the endgame's
    whole range counts, the last cell of the grid (u from 1 - 1/K^2 to 1) included. The
    decision lag (40 days) has not run out since the reports at the cut-off (day 120), so
    the record's silence says nothing (``test_no_confirmation_on_record...``)."""
    draws = both_reported(decision_lag=np.full(3, 40.0))
    assert predict.confirmed_by_cut_off(draws).max() == 0.0
    w = np.array([[report_is_true(draws, s, i) for i in range(2)] for s in range(3)])
    p_s = draws.p_success
    assert np.all((w > 0.6) & (w < 0.99))
    ever = predict.endorse_ever(draws)
    confirmed = predict.confirmed_ever(draws)
    # The last cell carries (1 - p_S) w / K^2, 3e-4 to 1e-3 here: far above these tolerances.
    assert ever == pytest.approx(p_s[:, None] + (1.0 - p_s[:, None]) * w, rel=1e-12)
    assert confirmed == pytest.approx(p_s + (1.0 - p_s) * w.prod(axis=1), rel=1e-12)


def test_no_confirmation_on_record_leaves_only_the_endgame_when_true_reports_would_have_confirmed():
    """The case above with no decision lag: had both reports (days 90 and 100) been true,
    the candidate would have been confirmed by day 100, so the record's silence at day 120
    says at least one is false (probability 1 - w_AA w_BB before). By hand, each draw's
    P(ever confirmed) is then p_S: only the endgame can still bring both members in."""
    draws = both_reported(decision_lag=np.zeros(3))
    w = np.array([[report_is_true(draws, s, i) for i in range(2)] for s in range(3)])
    assert predict.confirmed_by_cut_off(draws) == pytest.approx(w.prod(axis=1), rel=1e-9)
    assert predict.confirmed_ever(draws) == pytest.approx(draws.p_success, rel=1e-9)
    # Each member given the record too: P(AA ever) = (p_S + (1 - p_S) w_AA - w_AA w_BB) /
    # (1 - w_AA w_BB), by hand; no longer above what unanimity allows beside P(ever).
    both, p_s = w.prod(axis=1), draws.p_success
    ever = predict.endorse_ever(draws)
    for i in range(2):
        by_hand = (p_s + (1.0 - p_s) * w[:, i] - both) / (1.0 - both)
        assert ever[:, i] == pytest.approx(by_hand, rel=1e-9)
    assert np.all(predict.confirmed_ever(draws) >= ever.sum(axis=1) - 1.0 - 1e-12)
    # By a day ahead, likewise only the endgame: p_S F_E(day) (before: w_AA w_BB + that).
    endgame = endgame_cdf(draws, np.full((3, 1), 150.0))[:, 0]
    assert predict.confirmed_by(draws, 150.0) == pytest.approx(draws.p_success * endgame, rel=1e-9)
    # "What would move it" reads the record as each what-if does.
    if_endorses, _ = pivotal(draws, 150.0)
    for i, code in enumerate(draws.codes):
        assert if_endorses[:, i, 0] == pytest.approx(
            predict.confirmed_by(draws, 150.0, {code: "endorsed"}), rel=1e-9
        )
    # The document's draws: each kept in proportion to 1 - w_AA w_BB (systematic
    # resampling: n * weight / total copies, rounded down or up).
    kept = predict.on_the_record(draws)
    share = 3 * (1.0 - w.prod(axis=1)) / (1.0 - w.prod(axis=1)).sum()
    copies = [int(np.sum(kept.p_success == p)) for p in draws.p_success]
    assert kept.n_draws == 3 and sum(copies) == 3
    assert all(np.floor(e) <= c <= np.ceil(e) for c, e in zip(copies, share, strict=True))


def test_no_confirmation_on_record_rules_out_the_lags_that_have_run_out():
    """Both members endorsed in public on day 100; the cut-off is day 120 and the draws'
    decision lags are 5, 15 and 30 days, with the endgame too late to matter. By hand: the
    first two draws would have confirmed the candidate on days 105 and 115, which the
    record denies, so only the third stands: P(confirmed by day 125) = 0, by day 135 = 1,
    and ever = 1 (before, by day 125 was 2/3). The document's draws keep only the third."""
    endorsed = {
        "status": ("endorsed", "endorsed"),
        "event": np.array([1.0, 1.0]),
        "event_day": np.array([100.0, 100.0]),
        "reliability": np.array([1.0, 1.0]),
        "p_success": np.zeros(3),
        "endgame_location": np.log(np.full(3, 1e6)),
    }
    draws = two_allies(**endorsed, decision_lag=np.array([5.0, 15.0, 30.0]))
    assert predict.confirmed_by_cut_off(draws) == pytest.approx([1.0, 1.0, 0.0], abs=1e-12)
    kept = predict.on_the_record(draws)
    assert np.all(kept.decision_lag == 30.0)
    assert predict.confirmed_by(kept, np.array([125.0, 135.0])).mean(axis=0) == pytest.approx(
        [0.0, 1.0], abs=1e-12
    )
    assert predict.confirmed_ever(kept).mean() == pytest.approx(1.0, abs=1e-12)
    # Every lag run out: no draw allows the record. The model's own numbers stand (by day
    # 125: 1 in every draw), with a warning, rather than zeros or no forecast.
    lapsed = two_allies(**endorsed, decision_lag=np.array([5.0, 15.0, 0.0]))
    assert predict.on_the_record(lapsed) is lapsed
    assert predict.confirmed_by(lapsed, 125.0) == pytest.approx(np.ones(3), abs=1e-12)
    # While a member is undecided, the record's silence is no news: the same draws.
    undecided = two_allies()
    assert predict.on_the_record(undecided) is undecided


# --- 2. Monte Carlo of the generative model ---------------------------------------------


def open_at_cut_off(sample, keep, n: int) -> np.ndarray:
    """The first n of repeated batches from ``sample()`` that pass ``keep`` (rejection)."""
    kept: list[np.ndarray] = []
    total = 0
    while total < n:
        values, ok = keep(sample())
        kept.append(values[ok])
        total += int(ok.sum())
    return np.concatenate(kept)[:n]


def simulate(draws: PosteriorDraws, s: int, n: int, rng: np.random.Generator, what_if: dict):
    """Per simulation: each ally's endorsement day and the confirmation day (inf: never)."""
    c, n_allies = draws.censor_day, len(draws.codes)

    def own_days(i: int) -> np.ndarray:
        pi, mu, k = draws.p_endorse[s, i], draws.location[s, i], draws.shape[s]

        def sample():
            if draws.timing == "lognormal":
                t = np.exp(mu + k * rng.standard_normal(n))
            else:
                t = np.exp(mu) * rng.weibull(k, n)
            return np.where(rng.random(n) < pi, t, np.inf)  # the cured never endorse

        if draws.event[i] > 0 and draws.reliability[i] >= 1.0:
            return np.full(n, draws.event_day[i])
        if draws.event[i] > 0:
            # A report of support, true with its reliability: if true the ally had decided
            # by the report's day; if false the ally had not decided by the cut-off.
            t_report, r = draws.event_day[i], draws.reliability[i]

            def keep(t):
                true = rng.random(n) < r
                ok = (true & (t <= t_report)) | (~true & (t > c))
                return np.where(true, t_report, t), ok

            return open_at_cut_off(sample, keep, n)
        return open_at_cut_off(sample, lambda t: (t, t > c), n)

    own = np.column_stack([own_days(i) for i in range(n_allies)])
    for code, outcome in what_if.items():
        i = draws.codes.index(code)
        own[:, i] = np.inf if outcome == "opposed" else np.minimum(own[:, i], c)

    mu_e, k_e, off = draws.endgame_location[s], draws.endgame_shape[s], draws.emerged_offset
    lead, tail = draws.focal_window

    def diffuse_day() -> np.ndarray:
        if draws.endgame_clock is None:
            return np.exp(mu_e + k_e * rng.standard_normal(n))
        # The clock: a log-normal reading in base days; at the cut-off (``elapsed`` days
        # after emergence) it has read ``endgame_clock``, and from then on it runs at
        # today's rate, exp(base - location) base days a day. A reading already passed
        # put the endgame before the cut-off (any day before it does).
        base, read, elapsed = draws.endgame_base[s], draws.endgame_clock[s], c - off
        reading = np.exp(base + k_e * rng.standard_normal(n))
        rate = np.exp(base - mu_e)
        return np.where(reading > read, elapsed + (reading - read) / rate, 0.5 * elapsed)

    def endgame_day():
        # The diffuse day; each fixed date binds with its probability and then settles it
        # on a day uniform in its window; the earliest wins.
        day = diffuse_day()
        for date in draws.calendar_days:
            binds = rng.random(n) < draws.endgame_focal[s]
            when = rng.uniform(date - lead, date + tail, n)
            day = np.where(binds & (when < day), when, day)
        return off + day

    end = open_at_cut_off(endgame_day, lambda e: (e, e > c), n)
    p_s = 0.0 if "opposed" in what_if.values() else draws.p_success[s]
    succeeds = rng.random(n) < p_s

    endorse = np.where(own < end[:, None], own, np.where(succeeds[:, None], end[:, None], np.inf))
    last = own[:, draws.member > 0].max(axis=1)
    # Confirmed the lag after the last member's own decision, or at the endgame (its day
    # is the formal decision's, as the reference class dates it) if that comes first and
    # succeeds; a failed endgame leaves only members who had all decided before it.
    lag = draws.decision_lag[s]
    confirm = np.where(
        succeeds, np.minimum(last + lag, end), np.where(last < end, last + lag, np.inf)
    )
    return endorse, confirm


def assert_within_monte_carlo_error(got: np.ndarray, hits: np.ndarray) -> None:
    """``got`` against the share of ``hits`` (booleans, simulation on axis 0)."""
    p = hits.mean(axis=0)
    standard_error = np.sqrt(np.maximum(p * (1.0 - p), 1e-4) / hits.shape[0])
    assert np.all(np.abs(got - p) <= MC_SIGMAS * standard_error), (got, p)


# Fixed dates 15, 35 and 80 days after emergence (day 100): the first passed before the
# cut-off (day 120), the others fall before the first deadline and between the others.
FOCAL_POINTS = {
    "calendar_days": (15.0, 35.0, 80.0),
    "endgame_focal": np.array([0.5, 0.8, 0.3]),
    "focal_window": (7.0, 3.0),
}


@pytest.mark.parametrize("timing", ["lognormal", "weibull"])
@pytest.mark.parametrize(
    "what_if", [{}, {"AA": "endorsed"}, {"BB": "endorsed"}, {"BB": "opposed"}], ids=str
)
def test_predictions_match_a_monte_carlo_of_the_campaign(timing, what_if):
    check_against_monte_carlo(two_allies(timing), what_if)


@pytest.mark.parametrize("what_if", [{}, {"AA": "endorsed"}], ids=str)
def test_predictions_with_focal_dates_match_a_monte_carlo_of_the_campaign(what_if):
    check_against_monte_carlo(two_allies(**FOCAL_POINTS), what_if)


# The endgame's clock: today's rate is exp(-0.6) base days a day, and the 20 days since
# emergence (day 100) read only 1 base day (they ran with many holdouts): against 11 had
# they run at today's rate, the campaign has aged less than its days.
CLOCK = {
    "endgame_base": make_draws().endgame_location - 0.6,
    "endgame_clock": np.array([1.0, 1.0, 1.0]),
}


@pytest.mark.parametrize("what_if", [{}, {"AA": "endorsed"}], ids=str)
def test_predictions_on_the_endgames_clock_match_a_monte_carlo_of_the_campaign(what_if):
    check_against_monte_carlo(two_allies(**FOCAL_POINTS, **CLOCK), what_if)


def test_the_clocks_past_moves_the_forecast():
    """The same draws read as if the 20 days ran at today's rate (shift 0) give another
    forecast: the clock's reading is used."""
    aged = predict.confirmed_by(two_allies(**FOCAL_POINTS), np.array(DEADLINES))
    young = predict.confirmed_by(two_allies(**FOCAL_POINTS, **CLOCK), np.array(DEADLINES))
    assert np.abs(young - aged).max() > 0.02


def test_focal_dates_ahead_raise_the_chance_of_a_deal_before_them():
    with_dates = predict.confirmed_by(two_allies(**FOCAL_POINTS), np.array(DEADLINES))
    without = predict.confirmed_by(two_allies(), np.array(DEADLINES))
    assert np.all(with_dates[:, 0] > without[:, 0] + 0.05)


def check_against_monte_carlo(draws: PosteriorDraws, what_if: dict[str, str]) -> None:
    rng = np.random.default_rng(20240222)
    days = np.broadcast_to(np.array(DAYS), (draws.n_draws, len(DAYS)))
    confirmed_by = predict.confirmed_by(draws, np.array(DEADLINES), what_if)
    endorsed_by = predict.endorsed_by(draws, days, what_if)
    endorse_ever = predict.endorse_ever(draws, what_if)
    confirmed_ever = predict.confirmed_ever(draws, what_if)
    for s in range(draws.n_draws):
        endorse, confirm = simulate(draws, s, MC_SIMULATIONS, rng, what_if)
        assert_within_monte_carlo_error(
            confirmed_by[s], confirm[:, None] <= np.array(DEADLINES)[None, :]
        )
        assert_within_monte_carlo_error(confirmed_ever[s], np.isfinite(confirm))
        assert_within_monte_carlo_error(endorse_ever[s], np.isfinite(endorse))
        for i in range(2):
            assert_within_monte_carlo_error(
                endorsed_by[s, i], endorse[:, i, None] <= np.array(DAYS)[None, :]
            )


# --- 3. What-ifs and a withdrawn candidate ----------------------------------------------


def test_assuming_a_member_opposed_rules_out_confirmation_and_its_endorsement():
    draws = two_allies()
    what_if = {"BB": "opposed"}
    assert np.all(predict.confirmed_by(draws, np.array(DEADLINES), what_if) == 0.0)
    assert np.all(predict.confirmed_ever(draws, what_if) == 0.0)
    assert np.all(predict.endorse_ever(draws, what_if)[:, 1] == 0.0)
    days = np.broadcast_to(np.array(DAYS), (draws.n_draws, len(DAYS)))
    assert np.all(predict.endorsed_by(draws, days, what_if)[:, 1] == 0.0)
    # The other ally can still decide on its own before the endgame ends the bid.
    assert np.all(predict.endorse_ever(draws, what_if)[:, 0] > 0.05)


def test_assuming_an_ally_endorsed_equals_observing_its_endorsement_at_the_cut_off():
    """Lags of a day or more: with none, an endorsement observed on the cut-off day would
    confirm the candidate that day in some draws, which the record's silence rules out
    (``on_the_record``), while a what-if endorses after the record was read."""
    lags = {"decision_lag": np.array([3.0, 8.0, 1.0])}
    draws = two_allies(**lags)
    observed = two_allies(
        event=np.array([1.0, 1.0]),
        event_day=np.array([CUT_OFF, 100.0]),
        status=("endorsed", "undecided"),
        **lags,
    )
    deadlines = np.array(DEADLINES)
    days = np.broadcast_to(np.array(DAYS), (draws.n_draws, len(DAYS)))
    what_if = {"AA": "endorsed"}
    assumed = predict.confirmed_by(draws, deadlines, what_if)
    assert assumed == pytest.approx(predict.confirmed_by(observed, deadlines), rel=1e-12)
    assert np.all(assumed > predict.confirmed_by(draws, deadlines))
    assert predict.endorsed_by(draws, days, what_if) == pytest.approx(
        predict.endorsed_by(observed, days), rel=1e-12
    )
    assert predict.confirmed_ever(draws, what_if) == pytest.approx(
        predict.confirmed_ever(observed), rel=1e-12
    )
    # AA is in: confirmation waits on BB alone, by the same integral.
    for s in range(draws.n_draws):
        want = [
            confirmed_quad(draws, s, d, lambda x, s=s: own_by(draws, s, 1, x)) for d in DEADLINES
        ]
        assert assumed[s] == pytest.approx(want, rel=GRID_REL)


def test_assuming_a_non_member_opposed_leaves_confirmation_unchanged():
    # SE is not yet a member: its refusal is no veto, yet it still never endorses.
    draws = two_allies(
        codes=("AA", "BB", "SE"),
        p_endorse=np.full((3, 3), 0.8),
        location=np.log(np.full((3, 3), 160.0)),
        member=np.array([1.0, 1.0, 0.0]),
        status=("undecided",) * 3,
        event=np.array([0.0, 1.0, 0.0]),
        event_day=np.array([1.0, 100.0, 1.0]),
        reliability=np.array([1.0, 0.8, 1.0]),
    )
    what_if = {"SE": "opposed"}
    deadlines = np.array(DEADLINES)
    assert predict.confirmed_by(draws, deadlines, what_if) == pytest.approx(
        predict.confirmed_by(draws, deadlines), rel=1e-12
    )
    assert predict.confirmed_ever(draws, what_if) == pytest.approx(
        predict.confirmed_ever(draws), rel=1e-12
    )
    assert np.all(predict.endorse_ever(draws, what_if)[:, 2] == 0.0)
    days = np.broadcast_to(np.array(DAYS), (draws.n_draws, len(DAYS)))
    assert np.all(predict.endorsed_by(draws, days, what_if)[:, 2] == 0.0)
    assert predict.endorsed_by(draws, days, what_if)[:, :2] == pytest.approx(
        predict.endorsed_by(draws, days)[:, :2], rel=1e-12
    )


def test_a_withdrawn_candidate_keeps_the_consent_it_had_at_the_cut_off():
    # AA endorsed publicly on day 50; BB's report (day 100) is true with probability w. The
    # decision lag (40 days) has not run out by the cut-off (day 120): the record's
    # silence says nothing yet.
    withdrawn = {
        "withdrawn": True,
        "event": np.array([1.0, 1.0]),
        "event_day": np.array([50.0, 100.0]),
        "status": ("endorsed", "undecided"),
    }
    draws = two_allies(**withdrawn, decision_lag=np.full(3, 40.0))
    w = np.array([report_is_true(draws, s, 1) for s in range(draws.n_draws)])
    assert np.all(w > 0.03) and w.max() > 0.5
    late = np.array([CUT_OFF + 5.0, 400.0, 5000.0])
    expected = np.broadcast_to(w[:, None], (draws.n_draws, late.size))
    assert predict.confirmed_by(draws, late + 20.0) == pytest.approx(expected, rel=1e-9)
    assert predict.confirmed_ever(draws) == pytest.approx(w, rel=1e-9)
    # Before BB's report (plus the decision lag) only AA had consented.
    assert np.all(predict.confirmed_by(draws, 90.0) == 0.0)
    ever = predict.endorse_ever(draws)
    assert ever[:, 0] == pytest.approx(np.ones(3))
    assert ever[:, 1] == pytest.approx(w, rel=1e-9)
    days = np.broadcast_to(late, (draws.n_draws, late.size))
    assert predict.endorsed_by(draws, days)[:, 1] == pytest.approx(expected, rel=1e-9)
    # With lags that ran out since BB's report, the record says the report was false: the
    # withdrawn candidate is never confirmed and BB never endorses, AA's stays.
    lapsed = two_allies(**withdrawn, decision_lag=np.array([3.0, 8.0, 0.0]))
    assert predict.confirmed_ever(lapsed) == pytest.approx(np.zeros(3), abs=1e-12)
    assert predict.endorse_ever(lapsed) == pytest.approx(np.array([[1.0, 0.0]] * 3), abs=1e-12)
    assert predict.confirmed_by(lapsed, 400.0) == pytest.approx(np.zeros(3), abs=1e-12)


# --- 4. Invariants -----------------------------------------------------------------------


@st.composite
def campaigns(draw) -> PosteriorDraws:
    """The two-ally case with every number of the campaign level drawn afresh."""

    def per_draw(low: float, high: float) -> np.ndarray:
        values = st.floats(low, high, allow_nan=False, allow_infinity=False)
        return np.array(draw(st.lists(values, min_size=3, max_size=3)))

    return two_allies(
        draw(st.sampled_from(["lognormal", "weibull"])),
        p_success=per_draw(0.0, 1.0),
        endgame_location=per_draw(np.log(2.0), np.log(400.0)),
        endgame_shape=per_draw(0.2, 2.0),
        emerged_offset=draw(st.floats(0.0, CUT_OFF + 30.0)),
        decision_lag=per_draw(0.0, 20.0),
    )


@settings(max_examples=60, deadline=None)
@given(draws=campaigns(), days=st.lists(st.floats(0.0, 2000.0), min_size=2, max_size=6))
def test_confirmation_rises_with_the_deadline_towards_ever_confirmed(draws, days):
    days = np.sort(np.array(days))
    p = predict.confirmed_by(draws, days)
    ever = predict.confirmed_ever(draws)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p, axis=1) >= -GRID_BOUND)
    assert np.all(p <= ever[:, None] + GRID_BOUND)
    assert predict.confirmed_by(draws, 1e9) == pytest.approx(ever, abs=1e-9)
    # AA is silent: nothing is confirmed by the cut-off, and after it only an endgame can
    # confirm before the cut-off plus the decision lag.
    assert np.all(p[:, days <= CUT_OFF] == 0.0)
    early = days[None, :] - draws.decision_lag[:, None] <= CUT_OFF
    only_endgame = draws.p_success[:, None] * endgame_cdf(draws, np.broadcast_to(days, p.shape))
    np.testing.assert_allclose(p[early], only_endgame[early], atol=1e-12)


def test_confirmation_never_falls_with_the_deadline_when_the_endgame_is_overdue():
    # F_E(c) = 0.997: given E > c the endgame lies deep in its tail, and the last cell of
    # the grid (u from 1 - 1/ENDGAME_GRID^2 to 1) spans thousands of days. quad: P(ever) =
    # 0.06577.
    draws = two_allies(
        p_endorse=np.array([[0.98, 1e-9]]),
        location=np.array([[6.4587, 0.0]]),
        shape=np.array([0.569]),
        decision_lag=np.zeros(1),
        event=np.zeros(2),
        member=np.array([1.0, 0.0]),
        p_success=np.array([0.0463]),
        endgame_location=np.array([2.1426]),
        endgame_shape=np.array([1.3847]),
        censor_day=80.0,
        emerged_offset=39.03,
    )
    assert predict.confirmed_by(draws, 866.0) <= predict.confirmed_by(draws, 3000.0)
    assert predict.confirmed_ever(draws)[0] == pytest.approx(0.06577, rel=2e-3)


def test_a_withdrawn_candidate_has_no_endgame_to_succeed():
    assert np.all(predict.success(two_allies()) == np.array([0.6, 0.3, 0.8]))
    assert np.all(predict.success(two_allies(withdrawn=True)) == 0.0)


def test_an_assumed_endorsement_is_certain_when_the_endgame_is_long_overdue():
    # The endgame's median is 2 days after emergence (day 100) and it has not come by the
    # cut-off (day 120): every grid day of the endgame must still lie after the cut-off,
    # where the assumption holds.
    draws = two_allies(
        endgame_location=np.log(np.full(3, 2.0)),
        endgame_shape=np.full(3, 0.2),
    )
    what_if = {"AA": "endorsed"}
    assert predict.endorse_ever(draws, what_if)[:, 0] == pytest.approx(1.0, abs=1e-12)
    late = np.full(draws.n_draws, CUT_OFF + 400.0)
    assert predict.endorsed_by(draws, late, what_if)[:, 0] == pytest.approx(1.0, abs=1e-12)
