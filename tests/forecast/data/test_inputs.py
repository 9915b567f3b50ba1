"""The input frame built from the shipped data and dated evidence."""

from __future__ import annotations

import datetime as dt

import pytest

from forecast.data.dataset import load_dataset
from forecast.data.inputs import CALENDAR_SLOTS, FRAME_COLUMNS, setup_frame
from forecast.data.records import EvidenceItem, ValidationError
from forecast.data.reference import CAMPAIGN_COVARIATES

OPENED = dt.date(2024, 2, 22)


@pytest.fixture(scope="module")
def shipped():
    return load_dataset()


def item(ally: str, kind: str, date: str, **fields) -> EvidenceItem:
    return EvidenceItem(
        ally=ally,
        kind=kind,
        date=dt.date.fromisoformat(date),
        source="test",
        summary=f"{ally} {kind}",
        **fields,
    )


def frame_at(dataset, as_of: dt.date, *extra: EvidenceItem):
    return setup_frame(dataset, [*dataset.evidence, *extra], as_of).frame


def test_frame_has_one_row_per_ally_and_the_fixed_columns(shipped):
    frame = frame_at(shipped, OPENED)
    assert list(frame.index) == list(shipped.codes)
    assert tuple(frame.columns) == FRAME_COLUMNS


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("US", "endorsed"),
        ("GB", "endorsed"),
        ("DE", "endorsed"),
        ("FR", "endorsed"),
        ("NL", "endorsed"),
        ("SE", "not_member"),
        ("TR", "opposed"),
        ("HU", "undecided"),
        ("IT", "undecided"),  # reported support (reliability 0.85) leaves an ally undecided
    ],
)
def test_status_on_the_opening_date(shipped, code, status):
    assert frame_at(shipped, OPENED).loc[code, "status"] == status


def test_evidence_dated_after_as_of_is_ignored(shipped):
    later = item("HU", "endorsement", "2024-03-01")
    inputs = setup_frame(shipped, [*shipped.evidence, later], OPENED)
    assert inputs.frame.loc["HU", "status"] == "undecided"
    assert inputs.frame.loc["HU", "event"] == 0.0
    assert later.id not in inputs.evidence_ids
    assert inputs.evidence_ids == setup_frame(shipped, shipped.evidence, OPENED).evidence_ids


def test_an_endorsement_on_or_before_as_of_makes_an_ally_endorsed(shipped):
    frame = frame_at(shipped, dt.date(2024, 3, 1), item("HU", "endorsement", "2024-03-01"))
    assert frame.loc["HU", "status"] == "endorsed"
    assert frame.loc["HU", "event"] == 1.0


def test_an_accession_makes_sweden_a_member_from_that_day(shipped):
    accession = item("SE", "accession", "2024-03-07")
    before = frame_at(shipped, dt.date(2024, 3, 6), accession)
    after = frame_at(shipped, dt.date(2024, 3, 7), accession)
    assert (before.loc["SE", "member"], before.loc["SE", "status"]) == (0.0, "not_member")
    assert (after.loc["SE", "member"], after.loc["SE", "status"]) == (1.0, "undecided")


def test_a_resolved_grievance_lowers_the_grievance_covariate(shipped):
    as_of = dt.date(2024, 3, 1)
    resolved = item("TR", "grievance_resolved", "2024-03-01", grievance="tr_eu_reassurance")
    before = frame_at(shipped, as_of).loc["TR", "grievance"]
    after = frame_at(shipped, as_of, resolved).loc["TR", "grievance"]
    assert before > 0
    assert after < before


def test_a_posted_grievance_raises_the_grievance_covariate(shipped):
    as_of = dt.date(2024, 3, 1)
    grievance = item("HU", "grievance", "2024-03-01", severity=3)
    assert frame_at(shipped, as_of, grievance).loc["HU", "grievance"] == 3.0
    assert frame_at(shipped, as_of).loc["HU", "grievance"] < 3.0


def test_a_rival_candidacy_stands_until_it_is_withdrawn(shipped):
    candidacy = item("HU", "candidacy", "2024-03-07")
    withdrawal = item("HU", "withdrawal", "2024-04-10")
    rival = [
        frame_at(shipped, dt.date.fromisoformat(day), candidacy, withdrawal).loc["HU", "rival"]
        for day in ("2024-03-06", "2024-03-07", "2024-04-09", "2024-04-10")
    ]
    assert rival == [0.0, 1.0, 1.0, 0.0]


def test_an_objection_answered_by_an_endorsement_no_longer_counts(shipped):
    as_of = dt.date(2024, 3, 1)
    frame = frame_at(shipped, as_of, item("TR", "endorsement", "2024-03-01"))
    assert frame.loc["TR", "status"] == "endorsed"
    assert frame.loc["TR", "objection"] == 0.0


def test_an_objection_after_an_endorsement_is_a_reversal_that_withdraws_the_support(shipped):
    """France endorsed on 2024-02-22; its public objection of 1 March withdraws that
    support from the day of the objection (before it, France stays endorsed)."""
    objection = item("FR", "objection", "2024-03-01")
    before = frame_at(shipped, dt.date(2024, 2, 29), objection).loc["FR"]
    after = frame_at(shipped, dt.date(2024, 3, 1), objection).loc["FR"]
    assert (before["status"], before["event"], before["objection"]) == ("endorsed", 1.0, 0.0)
    assert (after["status"], after["event"], after["objection"]) == ("opposed", 0.0, 1.0)
    # The largest members no longer all back the candidate.
    campaign = setup_frame(shipped, [*shipped.evidence, objection], dt.date(2024, 3, 1)).campaign
    assert campaign.covariates[CAMPAIGN_COVARIATES.index("all_largest_backed")] == 0.0
    assert campaign.covariates[CAMPAIGN_COVARIATES.index("heavyweight_objection")] == 1.0
    assert campaign.covariates[CAMPAIGN_COVARIATES.index("blocking_objection")] == 1.0


def test_a_rumoured_objection_does_not_reverse_a_public_endorsement(shipped):
    rumour = item("FR", "objection", "2024-03-01", reliability=0.5)
    assert frame_at(shipped, dt.date(2024, 3, 1), rumour).loc["FR", "status"] == "endorsed"


def test_undecided_allies_are_censored_at_the_end_of_as_of(shipped):
    inputs = setup_frame(shipped, shipped.evidence, OPENED)
    assert (inputs.frame["censor_day"] == inputs.day(OPENED)).all()


def test_a_cut_off_before_the_campaign_start_is_refused_naming_as_of(shipped):
    with pytest.raises(ValidationError) as caught:
        setup_frame(shipped, shipped.evidence, dt.date(2023, 1, 1))
    assert caught.value.problems[0].field == "as_of"


def inputs_at(dataset, as_of: dt.date, *extra: EvidenceItem):
    return setup_frame(dataset, [*dataset.evidence, *extra], as_of)


def test_the_holdouts_on_the_opening_day_are_the_ten_reported_undecided(shipped):
    """The eastern-flank members without a report of support and Türkiye: members with a
    reason on record (a grievance, a rival candidacy, an objection) and no endorsement."""
    campaign = inputs_at(shipped, dt.date(2024, 2, 22)).campaign
    assert campaign.holdouts == 10


def test_an_endorsement_takes_a_member_out_of_the_holdouts(shipped):
    day = dt.date(2024, 3, 1)
    before = inputs_at(shipped, day).campaign.holdouts
    after = inputs_at(shipped, day, item("HU", "endorsement", "2024-03-01")).campaign.holdouts
    assert after == before - 1


def test_silence_alone_is_not_holding_out():
    # On the 2014 question's opening day 26 members had said nothing; only Italy, fielding
    # its own candidate, had a reason on record to hold out.
    question = load_dataset("examples/nato-2014")
    campaign = inputs_at(question, question.question.opened).campaign
    assert campaign.holdouts == 1  # Italy, fielding its own candidate


def test_the_calendar_is_counted_on_the_endgames_clock(shipped):
    campaign = inputs_at(shipped, dt.date(2024, 2, 22)).campaign
    # Emerged 2024-02-22: the end of that day is day 1; 3 April is day 42.
    assert campaign.calendar_days == (42.0, 139.0, 223.0)
    assert campaign.elapsed == 1.0


def test_a_meeting_announced_later_joins_the_calendar_from_its_announcement(shipped):
    """A defence ministerial announced on 15 May for 13 June: a fixed date from 15 May on
    (day 113 on the endgame's clock from the 22 February emergence), not before."""
    meeting = item("US", "meeting", "2024-05-15", meeting_date=dt.date(2024, 6, 13))
    before = setup_frame(shipped, [*shipped.evidence, meeting], dt.date(2024, 5, 14))
    after = setup_frame(shipped, [*shipped.evidence, meeting], dt.date(2024, 5, 15))
    assert before.campaign.calendar_days == (42.0, 139.0, 223.0)
    assert after.campaign.calendar_days == (42.0, 113.0, 139.0, 223.0)
    # A meeting changes no ally's covariates: it is a date, not a stance.
    assert before.frame.drop(columns="censor_day").equals(after.frame.drop(columns="censor_day"))


def test_beyond_the_models_slots_the_fixed_dates_nearest_the_cut_off_are_kept(shipped):
    meetings = [
        item("US", "meeting", "2024-03-01", meeting_date=dt.date(2024, 3, 1) + dt.timedelta(d))
        for d in range(10, 100, 10)
    ]
    as_of = dt.date(2024, 5, 1)  # day 70 on the endgame's clock
    days = setup_frame(shipped, [*shipped.evidence, *meetings], as_of).campaign.calendar_days
    assert len(days) == CALENDAR_SLOTS
    # The nine meetings (days 19 to 99) and the three calendar dates (42, 139, 223): the
    # four farthest from day 70 (223, 139, 19 and 29) are left out.
    assert days == (39.0, 42.0, 49.0, 59.0, 69.0, 79.0, 89.0, 99.0)


def test_a_members_objection_is_a_blocking_objection_until_it_endorses(shipped):
    """Under unanimity every member can block: Hungary's public objection raises the
    campaign's blocking objection to 1, and its endorsement afterwards brings it back to
    the shipped record's (Türkiye's reported objection, reliability 0.8)."""
    index = CAMPAIGN_COVARIATES.index("blocking_objection")
    objection = item("HU", "objection", "2024-03-01")
    endorsement = item("HU", "endorsement", "2024-03-05")
    evidence = [*shipped.evidence, objection, endorsement]
    shipped_only = setup_frame(shipped, shipped.evidence, dt.date(2024, 3, 1))
    before = shipped_only.campaign
    objecting = setup_frame(shipped, evidence, dt.date(2024, 3, 1)).campaign
    endorsed = setup_frame(shipped, evidence, dt.date(2024, 3, 5)).campaign
    assert shipped_only.frame.loc["TR", "objection"] == 0.8
    assert before.covariates[index] == 0.8
    assert objecting.covariates[index] == 1.0
    assert endorsed.covariates[index] == 0.8


def test_the_campaigns_path_counts_the_days_spent_with_each_number_of_holdouts(shipped):
    """The shipped question emerged on 2024-02-22 with ten holdouts. Poland (a holdout, of
    the eastern flank) endorses on 1 March: by the end of 10 March the campaign spent 8
    days (22-29 February) with ten holdouts and 10 days (1-10 March) with nine."""
    endorsement = item("PL", "endorsement", "2024-03-01")
    campaign = setup_frame(shipped, [*shipped.evidence, endorsement], dt.date(2024, 3, 10)).campaign
    assert campaign.elapsed == 18.0
    assert campaign.holdouts == 9
    rival = campaign.rival
    assert campaign.path == ((8.0, 10.0, rival), (10.0, 9.0, rival))
