"""One "today" (the date in UTC) and the live cut-off of each clock; an evidence file read
as the shipped one is."""

from __future__ import annotations

import datetime as dt

import pytest

from forecast.data import clock
from forecast.data.dataset import load_dataset, read_evidence
from forecast.data.records import ValidationError
from tests.synthetic import write_dataset

OPENED = dt.date(2024, 2, 22)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC), dt.date(2026, 12, 1)),
        (dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC), dt.date(2026, 12, 1)),
        # 23:30 in New York on 30 November is already 1 December in UTC.
        (
            dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            dt.date(2026, 12, 1),
        ),
    ],
)
def test_today_is_the_date_in_utc(monkeypatch, now, day):
    monkeypatch.setattr(clock, "utcnow", lambda: now.astimezone(dt.UTC))
    assert clock.today() == day


def test_the_evidence_clock_stops_at_the_newest_evidence_and_the_live_clock_runs_to_today():
    newest = [dt.date(2024, 3, 1), dt.date(2024, 3, 5)]
    today = dt.date(2024, 4, 10)
    assert clock.live_as_of(OPENED, "evidence", [], today) == OPENED
    assert clock.live_as_of(OPENED, "evidence", newest, today) == dt.date(2024, 3, 5)
    assert clock.live_as_of(OPENED, "live", newest, today) == today
    assert clock.live_as_of(OPENED, "live", [], dt.date(2024, 1, 1)) == OPENED


def test_a_clock_other_than_evidence_or_live_is_refused_naming_both(tmp_path):
    folder = write_dataset(tmp_path / "data")
    toml = folder / "question.toml"
    toml.write_text('clock = "wall"\n' + toml.read_text())
    with pytest.raises(ValidationError) as refused:
        load_dataset(folder)
    (problem,) = refused.value.problems
    assert (problem.field, problem.valid) == ("clock", "evidence, live")


def later_file(folder, rows: list[str], header: str | None = None):
    shipped = (folder / "evidence.csv").read_text(encoding="utf-8").splitlines()[0]
    path = folder / "later.csv"
    path.write_text("\n".join([header or shipped, *rows]) + "\n", encoding="utf-8")
    return path


def test_an_evidence_file_is_read_as_evidence_csv_is_with_a_grievance_resolved_later(tmp_path):
    folder = write_dataset(tmp_path / "data")
    dataset = load_dataset(folder)
    columns = (folder / "evidence.csv").read_text(encoding="utf-8").splitlines()[0].split(",")

    def row(**cells: str) -> str:
        return ",".join(cells.get(c, "") for c in columns)

    recorded = row(
        ally="DD",
        kind="grievance",
        date="2024-03-01",
        severity="2",
        summary="Ré",
        source="https://example.org/a",
    )
    path = later_file(folder, [recorded])
    (grievance,) = read_evidence(path, dataset, latest=dt.date(2024, 4, 1))
    assert grievance.summary == "Ré"  # UTF-8 whatever the machine's locale
    resolved = row(
        ally="DD",
        kind="grievance_resolved",
        date="2024-03-09",
        grievance=grievance.id,
        summary="settled",
        source="https://example.org/b",
    )
    items = read_evidence(later_file(folder, [recorded, resolved]), dataset, latest=None)
    assert [e.kind for e in items] == ["grievance", "grievance_resolved"]


def test_an_evidence_file_with_other_columns_or_a_later_date_is_refused_naming_each(tmp_path):
    folder = write_dataset(tmp_path / "data")
    dataset = load_dataset(folder)
    with pytest.raises(ValidationError) as header:
        read_evidence(later_file(folder, [], header="ally,kind,date"), dataset, latest=None)
    assert [p.field for p in header.value.problems] == ["(header)"]

    shipped = (folder / "evidence.csv").read_text(encoding="utf-8").splitlines()[1]
    with pytest.raises(ValidationError) as later:
        read_evidence(
            later_file(folder, [shipped]), dataset, latest=OPENED - dt.timedelta(days=400)
        )
    assert [(p.file, p.row, p.field) for p in later.value.problems] == [("later.csv", 2, "date")]
