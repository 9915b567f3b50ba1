"""Deadlines on or before the cut-off: settled by the reports, not forecast.

A past deadline's P(ally endorsed by it) is 1 for a public endorsement dated on or before
it and 0 otherwise, whatever the model believes the ally has decided unreported; and the
"what would move it" entries leave past deadlines out.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from forecast.posterior import predict
from forecast.posterior.document import build_document
from forecast.posterior.draws import PosteriorDraws
from tests.draws import CUT_OFF, START, make_draws

# Day 120 is the cut-off (2024-02-22); CC endorsed in public on day 100.
BEFORE_CC = START + dt.timedelta(days=94)  # day 95
AFTER_CC = START + dt.timedelta(days=109)  # day 110
CUT_OFF_DAY = START + dt.timedelta(days=int(CUT_OFF) - 1)  # day 120, the as_of date
AHEAD = START + dt.timedelta(days=179)  # day 180
DEADLINES = [
    ("before_cc", "Before CC spoke", BEFORE_CC),
    ("after_cc", "After CC spoke", AFTER_CC),
    ("cut_off", "The cut-off day", CUT_OFF_DAY),
    ("ahead", "Ahead", AHEAD),
]


def three_allies(**overrides) -> PosteriorDraws:
    """AA silent; BB reported (reliability 0.99) on day 100 but not in public; CC endorsed
    in public on day 100. All three are members."""
    fields = dict(
        codes=("AA", "BB", "CC"),
        p_endorse=np.array([[0.7, 0.9, 0.8], [0.85, 0.6, 0.9], [0.95, 0.8, 0.7]]),
        location=np.log(np.array([[160.0, 140.0, 150.0], [200.0, 130.0, 170.0], [150, 220, 90]])),
        member=np.ones(3),
        status=("undecided", "undecided", "endorsed"),
        event=np.array([0.0, 1.0, 1.0]),
        event_day=np.array([1.0, 99.5, 99.5]),
        reliability=np.array([1.0, 0.99, 1.0]),
    )
    fields.update(overrides)
    return make_draws(**fields)


def document(draws: PosteriorDraws, assume=None) -> dict:
    return build_document(
        draws,
        question="q",
        candidate="c",
        deadlines=DEADLINES,
        names={},
        meta={},
        assume=assume,
    )


def by(doc: dict) -> dict[str, dict[str, float]]:
    return {a["code"]: a["p_endorse_by"] for a in doc["allies"]}


def test_a_past_deadline_counts_only_public_endorsements_dated_by_it():
    draws = three_allies()
    # The model believes BB's report: without the fix its past value was about 0.8.
    assert predict.endorsed_by(draws, np.full(3, draws.day(AFTER_CC))).mean(axis=0)[1] > 0.5
    values = by(document(draws))
    for key in ("before_cc", "after_cc", "cut_off"):
        assert values["AA"][key] == 0.0
        assert values["BB"][key] == 0.0
    assert values["CC"]["before_cc"] == 0.0
    assert values["CC"]["after_cc"] == values["CC"]["cut_off"] == 1.0


def test_a_deadline_ahead_keeps_the_forecast():
    draws = three_allies()
    expected = predict.endorsed_by(draws, np.full(3, draws.day(AHEAD))).mean(axis=0)
    values = by(document(draws))
    assert [values[c]["ahead"] for c in draws.codes] == expected.tolist()
    assert 0.0 < values["BB"]["ahead"] < 1.0


def test_a_past_deadline_agrees_with_its_probability_of_confirmation():
    doc = document(three_allies())
    confirmed = {d["key"]: d["p_confirmed"] for d in doc["deadlines"]}
    for key in ("before_cc", "after_cc", "cut_off"):
        members = [a["p_endorse_by"][key] for a in doc["allies"]]
        assert confirmed[key] == 0.0
        assert min(members) == 0.0


def test_a_past_deadline_is_not_confirmed_even_when_every_member_had_endorsed_by_it():
    """Every member endorsed in public on day 100: by a deadline on day 110 each is
    "endorsed by it", and the model's lag would put the confirmation there in most draws;
    but no confirmation is on record at the cut-off (day 120), so the deadline settled
    unmet, as the page says ("passed: not confirmed by")."""
    draws = three_allies(status=("endorsed",) * 3, event=np.ones(3), event_day=np.full(3, 99.5))
    assert predict.confirmed_by_cut_off(draws).mean() > 0.5  # the model's, before the record
    doc = document(draws)
    entry = {d["key"]: d for d in doc["deadlines"]}
    for key in ("after_cc", "cut_off"):
        assert all(a["p_endorse_by"][key] == 1.0 for a in doc["allies"])
        assert (entry[key]["p_confirmed"], entry[key]["interval"]) == (0.0, [0.0, 0.0])
    assert entry["ahead"]["p_confirmed"] > 0.0


def test_past_deadlines_take_a_refusal_at_once_and_an_endorsement_from_the_cut_off():
    values = by(document(three_allies(), assume={"CC": "opposed", "AA": "endorsed"}))
    assert values["CC"]["after_cc"] == values["CC"]["cut_off"] == 0.0
    assert values["AA"]["after_cc"] == 0.0
    assert values["AA"]["cut_off"] == 1.0


def test_what_would_move_it_leaves_out_the_deadlines_that_have_passed():
    doc = document(three_allies())
    assert [p["key"] for p in doc["pivotal"]] == ["ahead"]
    ahead_only = build_document(
        three_allies(), question="q", candidate="c", deadlines=DEADLINES[-1:], names={}, meta={}
    )
    assert doc["pivotal"] == ahead_only["pivotal"]
    assert {r["code"] for r in doc["pivotal"][0]["allies"]} == {"AA", "BB"}


def test_what_would_move_it_is_empty_when_every_deadline_has_passed():
    doc = build_document(
        three_allies(), question="q", candidate="c", deadlines=DEADLINES[:3], names={}, meta={}
    )
    assert doc["pivotal"] == []
    assert [d["key"] for d in doc["deadlines"]] == ["before_cc", "after_cc", "cut_off"]
