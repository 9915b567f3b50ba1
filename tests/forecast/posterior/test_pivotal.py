"""What would move the forecast: P(confirmed by D) if each undecided ally endorsed or
refused, computed for all allies at once and checked against one what-if per ally."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from forecast.posterior import predict
from forecast.posterior.document import rerender
from forecast.posterior.draws import PosteriorDraws
from forecast.posterior.pivotal import pivotal
from tests.forecast.posterior.test_consensus_predict import DEADLINES, two_allies

REL = 1e-9


def three_allies(**changes) -> PosteriorDraws:
    """``two_allies`` plus CC, a third member that has not spoken (its own timing)."""
    base = two_allies()
    fields = dict(
        codes=("AA", "BB", "CC"),
        p_endorse=np.column_stack([base.p_endorse, [0.8, 0.9, 0.5]]),
        location=np.column_stack([base.location, np.log([170.0, 150.0, 210.0])]),
        member=np.ones(3),
        status=("undecided", "undecided", "undecided"),
        event=np.array([0.0, 1.0, 0.0]),
        event_day=np.array([1.0, 100.0, 1.0]),
        reliability=np.array([1.0, 0.8, 1.0]),
    )
    fields.update(changes)
    return two_allies(**fields)


CASES = {
    "three undecided members": {},
    "a non-member": {"member": np.array([1.0, 1.0, 0.0])},
    "an endorsed member": {
        "status": ("undecided", "endorsed", "undecided"),
        "reliability": np.array([1.0, 1.0, 1.0]),
    },
    "a withdrawn candidate": {"withdrawn": True},
    # Before the cut-off an assumed endorsement changes nothing: with two members reported
    # by day 100, CC's endorsement must not make day 110 any likelier.
    "two members reported before the cut-off": {
        "event": np.array([1.0, 1.0, 0.0]),
        "event_day": np.array([90.0, 100.0, 1.0]),
        "reliability": np.array([0.9, 0.8, 1.0]),
    },
}
# The campaign level's endgame as a function of the holdouts left: AA and CC hold out
# (two holdouts), BB does not; the fitted location and focal log-odds are those of two.
COEF = np.array([[0.5, 0.3, -0.9], [0.7, 0.2, -1.1], [0.3, 0.4, -0.6]])
FOCAL_SLOPE = np.array([-0.5, -0.2, -0.8])
FOCAL_BASE = np.array([0.4, -0.1, 0.9])
BASE = np.log([45.0, 30.0, 70.0]) - COEF[:, 0] * np.log1p(2.0)


def with_holdouts(**changes) -> dict:
    """CASES' fields for a campaign level that carries its coefficients."""
    return {
        "endgame_base": BASE,
        "endgame_coef": COEF,
        "focal_base": FOCAL_BASE,
        "focal_holdouts": FOCAL_SLOPE,
        "endgame_focal": 1.0 / (1.0 + np.exp(-(FOCAL_BASE + FOCAL_SLOPE * np.log1p(2.0)))),
        "calendar_days": (150.0, 200.0),
        "holdout": np.array([1.0, 0.0, 1.0]),
        **changes,
    }


CASES["holdouts whose endorsement shortens the endgame"] = with_holdouts()
# A day before the cut-off (120) beside the deadlines after it.
DAYS = (110.0, *DEADLINES)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("assume", [{}, {"CC": "endorsed"}, {"AA": "opposed"}], ids=str)
def test_each_allys_decision_equals_the_what_if_that_assumes_it(case, assume):
    draws = three_allies(**CASES[case])
    days = np.array(DAYS)
    endorses, refuses = pivotal(draws, days, assume)
    for i, code in enumerate(draws.codes):
        if code in assume:
            continue
        fresh = three_allies(**CASES[case])  # no cache shared with the call above
        expected = predict.confirmed_by(fresh, days, {**assume, code: "endorsed"})
        np.testing.assert_allclose(endorses[:, i, :], expected, rtol=REL, atol=1e-14)
        expected = predict.confirmed_by(fresh, days, {**assume, code: "opposed"})
        np.testing.assert_allclose(refuses[:, i, :], expected, rtol=REL, atol=1e-14)


@pytest.mark.parametrize(
    "case", ["three undecided members", "two members reported before the cut-off"]
)
def test_with_a_member_assumed_opposed_no_other_allys_endorsement_can_confirm(case):
    # AA's assumed refusal is a veto: "if BB endorses" must read 0 at every day, before
    # the cut-off and after it, as the what-if that assumes both outcomes does.
    draws = three_allies(**CASES[case])
    days = np.array(DAYS)
    endorses, _ = pivotal(draws, days, {"AA": "opposed"})
    for code in ("BB", "CC"):
        i = draws.codes.index(code)
        assert np.all(endorses[:, i, :] == 0.0), (code, endorses[:, i, :])
        both = predict.confirmed_by(
            three_allies(**CASES[case]), days, {"AA": "opposed", code: "endorsed"}
        )
        np.testing.assert_array_equal(endorses[:, i, :], both)


def test_a_members_refusal_is_a_veto_and_its_endorsement_raises_the_chance():
    draws = three_allies()
    days = np.array(DEADLINES)
    endorses, refuses = pivotal(draws, days)
    base = predict.confirmed_by(draws, days)
    assert (refuses == 0.0).all()
    assert (endorses.mean(axis=0) > base.mean(axis=0)[None, :]).all()


def test_the_last_holdouts_endorsement_takes_the_endgame_of_none_left_by_value():
    """AA and CC hold out: assuming both endorse leaves none, whose endgame is set by
    hand (location base + the no-holdouts coefficient, focal sigmoid(base)); it raises
    P(confirmed) by the first deadline more than one holdout's endorsement alone does
    (the coefficients here shorten the endgame when none is left)."""
    days = np.array(DEADLINES)
    draws = three_allies(**with_holdouts())
    both = {"AA": "endorsed", "CC": "endorsed"}
    none_left = three_allies(
        endgame_location=BASE + COEF[:, 2],
        endgame_focal=1.0 / (1.0 + np.exp(-FOCAL_BASE)),
        calendar_days=(150.0, 200.0),
    )
    expected = predict.confirmed_by(none_left, days, both)
    np.testing.assert_allclose(predict.confirmed_by(draws, days, both), expected, rtol=REL)
    one = predict.confirmed_by(draws, days, {"AA": "endorsed"}).mean(axis=0)
    base = predict.confirmed_by(draws, days).mean(axis=0)
    assert expected.mean(axis=0)[0] - one[0] > one[0] - base[0]


def test_a_holdouts_endorsement_takes_the_endgame_of_one_holdout_fewer_by_value():
    """AA holds out: assuming its endorsement equals the what-if on draws whose endgame
    was set by hand for one holdout (location base + coef . (log1p(1), rival), focal
    sigmoid(base + slope log1p(1))), and raises P(confirmed) by every horizon more than
    the endorsement of BB, which had no reason on record."""
    days = np.array(DEADLINES)
    draws = three_allies(**with_holdouts())
    one_left = three_allies(
        endgame_location=BASE + COEF[:, 0] * np.log1p(1.0),
        endgame_focal=1.0 / (1.0 + np.exp(-(FOCAL_BASE + FOCAL_SLOPE * np.log1p(1.0)))),
        calendar_days=(150.0, 200.0),
    )
    expected = predict.confirmed_by(one_left, days, {"AA": "endorsed"})
    got = predict.confirmed_by(draws, days, {"AA": "endorsed"})
    np.testing.assert_allclose(got, expected, rtol=REL, atol=1e-14)
    # The fitted state itself is unchanged by the coefficients.
    as_fitted = three_allies(endgame_focal=draws.endgame_focal, calendar_days=(150.0, 200.0))
    np.testing.assert_allclose(
        predict.confirmed_by(draws, days), predict.confirmed_by(as_fitted, days), rtol=REL
    )
    endorses, _ = pivotal(draws, days)
    base = predict.confirmed_by(draws, days)
    aa, bb = draws.codes.index("AA"), draws.codes.index("BB")
    holdout_gain = endorses[:, aa, :].mean(axis=0) - base.mean(axis=0)
    quiet_gain = endorses[:, bb, :].mean(axis=0) - base.mean(axis=0)
    assert (holdout_gain > 0).all()
    assert (holdout_gain > quiet_gain).all()


def test_the_document_lists_undecided_members_most_decisive_first_equal_to_each_what_if(
    synthetic_run,
):
    document = synthetic_run.document
    statuses = {a["code"]: a["status"] for a in document["allies"]}
    open_allies = {c for c, s in statuses.items() if s not in ("endorsed", "not_member")}
    assert [p["key"] for p in document["pivotal"]] == [d["key"] for d in document["deadlines"]]
    what_ifs = {
        (code, outcome): rerender(synthetic_run.run_dir, document, assume={code: outcome})
        for code in open_allies
        for outcome in ("endorsed", "opposed")
    }
    for entry in document["pivotal"]:
        rows = entry["allies"]
        assert {r["code"] for r in rows} == open_allies
        (today,) = [d["p_confirmed"] for d in document["deadlines"] if d["key"] == entry["key"]]
        assert entry["p_confirmed"] == pytest.approx(today, rel=REL)
        changes = [r["change"] for r in rows]
        assert changes == sorted(changes, reverse=True)
        for row in rows:
            assert row["change"] == pytest.approx(row["if_endorses"] - today, rel=REL, abs=1e-12)
            # An opposed member holds out for its public objection, on record.
            if row["status"] == "opposed":
                assert "a public objection" in row["reasons"]
        for row in rows:
            for outcome, field in (("endorsed", "if_endorses"), ("opposed", "if_refuses")):
                what_if = what_ifs[(row["code"], outcome)]
                (p,) = [d["p_confirmed"] for d in what_if["deadlines"] if d["key"] == entry["key"]]
                assert row[field] == pytest.approx(p, rel=REL, abs=1e-12)


def test_a_what_if_lists_only_the_allies_it_leaves_open_and_by_dates_too(synthetic_run):
    document = synthetic_run.document
    code = document["pivotal"][0]["allies"][0]["code"]
    by = dt.date.fromisoformat(document["as_of"]) + dt.timedelta(days=60)
    what_if = rerender(synthetic_run.run_dir, document, by=[by], assume={code: "endorsed"})
    assert [p["key"] for p in what_if["pivotal"]][-1] == f"by_{by.isoformat()}"
    for entry in what_if["pivotal"]:
        assert code not in {r["code"] for r in entry["allies"]}
