"""The reference class (campaigns.csv) and the question's campaign fields: loaded and validated."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from forecast.data.dataset import load_dataset
from forecast.data.records import ValidationError
from forecast.data.reference import CAMPAIGN_COLUMNS
from tests.synthetic import write_dataset

# The synthetic campaigns.csv holds 10 rows after its header: the next row is row 12.
NEXT_CAMPAIGN_ROW = 12


def campaign_row(**fields: str) -> dict[str, str]:
    row = {
        "id": "extra_2010",
        "organisation": "nato",
        "post": "Secretary General",
        "front_runner": "Someone",
        "emerged": "2010-01-01",
        "largest_members": "US;GB",
        "all_largest_backed": "yes",
        "heavyweight_objection": "no",
        "rival_candidacy": "no",
        "holdouts": "1",
        "holdout_reasons": "r",
        "fixed_meetings": "",
        "outcome": "confirmed",
        "outcome_date": "2010-02-01",
        "source": "s",
        "notes": "",
    }
    return row | fields


def append_campaign(folder: Path, row: dict[str, str]) -> None:
    with (folder / "campaigns.csv").open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(CAMPAIGN_COLUMNS)).writerow(row)


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


def test_fixed_meetings_are_read_as_dates_and_only_those_after_emergence_count(tmp_path):
    folder = write_dataset(tmp_path / "data")
    meetings = "before=2009-12-30;council=2010-01-20;summit=2010-01-10"
    append_campaign(folder, campaign_row(fixed_meetings=meetings))
    campaign = load_dataset(folder).campaigns[-1]
    assert campaign.meetings == (dt.date(2009, 12, 30), dt.date(2010, 1, 10), dt.date(2010, 1, 20))
    # Emerged 2010-01-01 (the end of that day is day 1 of the endgame's clock).
    assert campaign.meeting_days == (10.0, 20.0)


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
