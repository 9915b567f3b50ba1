"""The reference class (campaigns.csv) and the question's campaign fields: loaded and validated."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from forecast.data.dataset import load_dataset
from forecast.data.records import ValidationError
from forecast.data.reference import (
    BLOCKING_RULES,
    CALENDAR_SLOTS,
    CAMPAIGN_COLUMNS,
    HOLDOUT_COUNT_COLUMNS,
)
from tests.synthetic import CAMPAIGNS, LATER_COUNTS, write_dataset

# The synthetic campaigns.csv holds 10 rows after its header: the next row is row 12.
NEXT_CAMPAIGN_ROW = 12
# ... and holdout_counts.csv one count per campaign and the later ones.
NEXT_COUNT_ROW = len(CAMPAIGNS) + len(LATER_COUNTS) + 2


def campaign_row(**fields: str) -> dict[str, str]:
    row = {
        "id": "extra_2010",
        "organisation": "nato",
        "post": "Secretary General",
        "rule": "unanimity",
        "front_runner": "Someone",
        "emerged": "2010-01-01",
        "largest_members": "US;GB",
        "all_largest_backed": "yes",
        "heavyweight_objection": "no",
        "blocking_objection": "no",
        "rival_candidacy": "no",
        "fallback": "no",
        "holdouts": "1",
        "holdout_reasons": "r",
        "fixed_meetings": "",
        "outcome": "confirmed",
        "outcome_date": "2010-02-01",
        "source": "s",
        "notes": "",
    }
    return row | fields


def count_row(**fields: str) -> dict[str, str]:
    row = {
        "campaign": "extra_2010",
        "date": "2010-01-01",
        "holdouts": "1",
        "members": "16",
        "objecting": "0",
        "rivals": "0",
        "source": "s",
        "note": "",
    }
    return row | fields


def append_campaign(folder: Path, row: dict[str, str], *, counted: bool = True) -> None:
    """Append a campaign and (``counted``) its count on its emergence day."""
    with (folder / "campaigns.csv").open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(CAMPAIGN_COLUMNS)).writerow(row)
    if counted:
        append_count(
            folder, count_row(campaign=row["id"], date=row["emerged"], holdouts=row["holdouts"])
        )


def append_count(folder: Path, row: dict[str, str]) -> None:
    with (folder / "holdout_counts.csv").open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(HOLDOUT_COUNT_COLUMNS)).writerow(row)


def refused(folder: Path) -> set[tuple[str, int | None, str]]:
    with pytest.raises(ValidationError) as caught:
        load_dataset(folder)
    return {(p.file, p.row, p.field) for p in caught.value.problems}


def test_the_shipped_reference_class_is_sourced_and_ended_before_the_question_opened():
    dataset = load_dataset()
    assert len(dataset.campaigns) >= 10
    opened = dataset.question.opened
    for campaign in dataset.campaigns:
        assert campaign.source.startswith("http"), campaign.id
        assert campaign.emerged <= campaign.outcome_date < opened, campaign.id
    assert {c.outcome for c in dataset.campaigns} == {"confirmed", "dropped"}


def test_the_shipped_question_names_the_sponsor_and_the_largest_members():
    question = load_dataset().question
    assert question.sponsor == "NL"
    assert set(question.largest_members) == {"US", "GB", "DE", "FR"}
    assert question.emerged == dt.date(2024, 2, 22)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"outcome": "won"}, "outcome"),
        ({"all_largest_backed": "maybe"}, "all_largest_backed"),
        ({"blocking_objection": ""}, "blocking_objection"),
        ({"fallback": "perhaps"}, "fallback"),
        ({"rule": "majority"}, "rule"),
        ({"holdouts": "-1"}, "holdouts"),
        ({"emerged": "2010-03-01"}, "outcome_date"),  # ended before it emerged
        ({"source": ""}, "source"),
        ({"id": "alpha_1994"}, "id"),  # twice
    ],
)
def test_a_bad_campaign_row_is_refused_naming_the_row_and_field(tmp_path, fields, field):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(**fields))
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW, field) in refused(folder)


def test_a_campaign_without_a_count_on_its_emergence_day_is_refused(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(), counted=False)
    append_count(folder, count_row(date="2010-01-05"))
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW, "holdouts") in refused(folder)


def test_a_count_on_the_emergence_day_that_disagrees_with_the_campaign_is_refused(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(holdouts="2"), counted=False)
    append_count(folder, count_row(holdouts="1"))
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW, "holdouts") in refused(folder)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"campaign": "nowhere_2010"}, "campaign"),
        ({"date": "2009-12-31"}, "date"),  # before the emergence
        ({"date": "2010-02-02"}, "date"),  # after the outcome
        ({"date": "2010-01-01"}, "date"),  # a second count that day
        ({"holdouts": "1.5"}, "holdouts"),
        ({"holdouts": "17"}, "holdouts"),  # more than the members
        ({"members": "0"}, "members"),
        ({"objecting": "2"}, "objecting"),  # more than the holdouts
        ({"rivals": "-1"}, "rivals"),
        ({"source": ""}, "source"),
    ],
)
def test_a_bad_holdout_count_is_refused_naming_the_row_and_field(tmp_path, fields, field):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row())
    append_count(folder, count_row(**fields))
    assert ("holdout_counts.csv", NEXT_COUNT_ROW + 1, field) in refused(folder)


def test_who_can_block_is_the_rules_unless_a_defined_group_holds_the_veto(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(id="all_2010", holdouts="3"), counted=False)
    append_count(folder, count_row(campaign="all_2010", holdouts="3", objecting="1"))
    append_campaign(
        folder, campaign_row(id="un_2010", rule="veto_group", holdouts="4"), counted=False
    )
    append_count(
        folder,
        count_row(
            campaign="un_2010", holdouts="4", objecting="2", blocking="1", blocking_objecting="1"
        ),
    )
    append_campaign(
        folder, campaign_row(id="un_2011", rule="veto_group", holdouts="4"), counted=False
    )
    append_count(folder, count_row(campaign="un_2011", holdouts="4"))
    dataset = load_dataset(folder)
    counts = {c.id: c.counts[0] for c in dataset.campaigns if c.id.endswith(("2010", "2011"))}
    assert (counts["all_2010"].blocking, counts["all_2010"].blocking_objecting) == (3, 1)
    assert (counts["un_2010"].blocking, counts["un_2010"].blocking_objecting) == (1, 1)
    assert (counts["un_2011"].blocking, counts["un_2011"].blocking_objecting) == (None, None)


@pytest.mark.parametrize(
    ("rule", "fields", "field"),
    [
        ("unanimity", {"blocking": "1"}, "blocking"),  # the rule says it: every holdout
        ("veto_group", {"blocking": "2"}, "blocking"),  # more than the 1 holdout
        ("veto_group", {"blocking": "1", "blocking_objecting": "1"}, "blocking_objecting"),
    ],
)
def test_a_blocking_count_against_the_rule_or_the_counts_is_refused(tmp_path, rule, fields, field):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(rule=rule), counted=False)
    append_count(folder, count_row(**fields))
    assert ("holdout_counts.csv", NEXT_COUNT_ROW, field) in refused(folder)


def test_every_problem_of_both_files_is_listed_at_once(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(outcome="won"))
    append_count(folder, count_row(members="none"))
    problems = refused(folder)
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW, "outcome") in problems
    assert ("holdout_counts.csv", NEXT_COUNT_ROW + 1, "members") in problems


def test_a_campaigns_counts_are_attached_in_date_order(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(holdouts="3"))
    append_count(folder, count_row(date="2010-01-20", holdouts="1"))
    append_count(folder, count_row(date="2010-01-10", holdouts="2", objecting="1"))
    campaign = load_dataset(folder).campaigns[-1]
    assert [(n.date.isoformat(), n.holdouts) for n in campaign.counts] == [
        ("2010-01-01", 3),
        ("2010-01-10", 2),
        ("2010-01-20", 1),
    ]
    assert campaign.counts[1].objecting == 1


def test_a_qualified_majority_campaign_is_kept_apart_from_the_reference_class(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(id="qmv_2010", rule="qualified_majority"))
    append_campaign(folder, campaign_row(id="un_2010", rule="veto_group"))
    dataset = load_dataset(folder)
    assert "un_2010" in [c.id for c in dataset.campaigns]
    assert [c.id for c in dataset.other_campaigns] == ["qmv_2010"]
    assert all(c.rule in BLOCKING_RULES for c in dataset.campaigns)


def test_a_sponsor_that_is_not_an_ally_is_refused_naming_the_field(tmp_path):
    folder = write_dataset(tmp_path / "data")
    toml = folder / "question.toml"
    toml.write_text(toml.read_text().replace('sponsor = "AA"', 'sponsor = "ZZ"'))
    assert ("question.toml", None, "sponsor") in refused(folder)


def test_a_valid_extra_campaign_is_loaded(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row())
    campaign = load_dataset(folder).campaigns[-1]
    assert campaign.id == "extra_2010"
    assert campaign.days == 32.0  # 1 January to the end of 1 February
    assert campaign.confirmed and campaign.all_largest_backed


def test_a_campaign_decided_on_or_after_the_opening_day_is_left_out(tmp_path):
    folder = write_dataset(tmp_path / "data")
    opened = load_dataset(folder).question.opened
    before = len(load_dataset(folder).campaigns)
    append_campaign(folder, campaign_row(id="late_2030", outcome_date=opened.isoformat()))
    append_campaign(
        folder,
        campaign_row(id="early_2010", outcome_date=(opened - dt.timedelta(days=1)).isoformat()),
    )
    ids = [c.id for c in load_dataset(folder).campaigns]
    assert len(ids) == before + 1
    assert "early_2010" in ids
    assert "late_2030" not in ids


def test_a_later_campaign_added_to_a_copy_of_the_shipped_data_is_not_learned_from(tmp_path):
    """No hindsight: a campaign decided on the opening day or later is left out of the
    reference class, with its counts; one decided the day before is learned from."""
    folder = tmp_path / "data"
    shutil.copytree("data", folder)
    opened = load_dataset(folder).question.opened
    shipped = len(load_dataset(folder).campaigns)
    for cid, ended in (("late_2024", opened), ("early_2024", opened - dt.timedelta(days=1))):
        append_campaign(
            folder,
            campaign_row(id=cid, emerged="2024-01-10", outcome_date=ended.isoformat()),
        )
    ids = [c.id for c in load_dataset(folder).campaigns]
    assert len(ids) == shipped + 1
    assert "early_2024" in ids and "late_2024" not in ids


def test_fixed_meetings_are_read_as_dates_and_only_those_after_emergence_count(tmp_path):
    folder = write_dataset(tmp_path / "data")
    meetings = "before=2009-12-30;council=2010-01-20;summit=2010-01-10"
    append_campaign(folder, campaign_row(fixed_meetings=meetings))
    campaign = load_dataset(folder).campaigns[-1]
    assert campaign.meetings == (dt.date(2009, 12, 30), dt.date(2010, 1, 10), dt.date(2010, 1, 20))
    # Emerged 2010-01-01 (the end of that day is day 1 of the endgame's clock).
    assert campaign.meeting_days == (10.0, 20.0)


def test_more_fixed_meetings_after_emergence_than_the_model_holds_are_refused(tmp_path):
    """``check`` refuses what the fit could not hold (the campaign level's calendar slots):
    nine meetings after the emergence day, while one before it does not count."""
    folder = write_dataset(tmp_path / "data")
    after = ";".join(f"m{day}=2010-01-{day:02d}" for day in range(2, 2 + CALENDAR_SLOTS))
    append_campaign(folder, campaign_row(fixed_meetings=f"before=2009-12-30;{after}"))
    assert len(load_dataset(folder).campaigns[-1].meeting_days) == CALENDAR_SLOTS
    append_campaign(folder, campaign_row(id="extra_2011", fixed_meetings=f"{after};m=2010-01-31"))
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW + 1, "fixed_meetings") in refused(folder)


@pytest.mark.parametrize("meetings", ["council 2010-01-20", "council=20 Jan 2010", "=2010-01-20"])
def test_a_fixed_meeting_that_is_not_name_equals_date_is_refused(tmp_path, meetings):
    folder = write_dataset(tmp_path / "data")
    append_campaign(folder, campaign_row(fixed_meetings=meetings))
    assert ("campaigns.csv", NEXT_CAMPAIGN_ROW, "fixed_meetings") in refused(folder)


def test_every_shipped_calendar_date_was_announced_by_the_opening_day():
    """No hindsight: the calendar holds only dates public on the opening day, each sourced."""
    for folder in ("data", "examples/nato-2014"):
        question = load_dataset(folder).question
        assert question.calendar, folder
        for entry in question.calendar:
            assert entry.announced <= question.opened, (folder, entry.key)
            assert entry.source, (folder, entry.key)


def test_a_calendar_date_announced_after_the_opening_day_is_refused(tmp_path):
    folder = write_dataset(tmp_path / "data")
    toml = (folder / "question.toml").read_text()
    (folder / "question.toml").write_text(
        toml.replace("announced = 2024-01-15", "announced = 2024-03-01")
    )
    assert ("question.toml", None, "calendar.ministerial.announced") in refused(folder)
