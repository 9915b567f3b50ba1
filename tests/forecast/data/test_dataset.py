"""Loading and validating the dataset: the shipped files, refused rows, evidence records."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecast.data.dataset import load_dataset
from forecast.data.records import (
    EARLIEST_DATE,
    EVIDENCE_FIELDS,
    EVIDENCE_KINDS,
    MAX_SOURCE_CHARS,
    MAX_SUMMARY_CHARS,
    SEVERITIES,
    EvidenceItem,
    ValidationError,
    Vocabulary,
    validate_evidence,
)
from tests.synthetic import write_dataset

SYNTHETIC_CODES = "AA, BB, CC, DD, EE, FF, GG"
# Rows of the synthetic files: the header is row 1, so the next evidence row is row 7.
NEXT_EVIDENCE_ROW = 7
NEXT_ALLY_ROW = 9


@pytest.fixture(scope="module")
def shipped():
    return load_dataset()


def evidence_row(**fields: str) -> dict[str, str]:
    row = {
        "ally": "DD",
        "kind": "endorsement",
        "date": "2024-02-20",
        "source": "test",
        "summary": "test row",
        "reliability": "",
        "severity": "",
        "grievance": "",
    }
    return row | fields


def append_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(newline="") as handle:
        columns = next(csv.reader(handle))
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=columns).writerows(rows)


def replace_header(path: Path, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace(old, new)
    path.write_text("".join(lines))


def test_shipped_data_has_32_allies(shipped):
    assert len(shipped.allies) == 32


@pytest.mark.parametrize("code", ["US", "GB", "DE", "FR", "NL"])
def test_shipped_data_has_a_full_reliability_endorsement_from(shipped, code):
    endorsements = [e for e in shipped.evidence if e.ally == code and e.kind == "endorsement"]
    assert any(e.reliability == 1.0 for e in endorsements)


def test_shipped_data_lists_sweden_without_a_membership_date(shipped):
    assert shipped.ally("SE").member_since is None


def test_shipped_data_holds_nothing_dated_after_its_opening_date(shipped):
    assert max(e.date for e in shipped.evidence) <= shipped.question.opened


BAD_ROWS = {
    "unknown ally code": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(ally="ZZ")]),
        NEXT_EVIDENCE_ROW,
        "ally",
        SYNTHETIC_CODES,
    ),
    "bad kind": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(kind="rumour")]),
        NEXT_EVIDENCE_ROW,
        "kind",
        ", ".join(EVIDENCE_KINDS),
    ),
    "bad date": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(date="2024-02-30")]),
        NEXT_EVIDENCE_ROW,
        "date",
        "YYYY-MM-DD",
    ),
    "reliability 0": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(reliability="0")]),
        NEXT_EVIDENCE_ROW,
        "reliability",
        "(0, 1]",
    ),
    "reliability 1.5": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(reliability="1.5")]),
        NEXT_EVIDENCE_ROW,
        "reliability",
        "(0, 1]",
    ),
    "reliability x": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(reliability="x")]),
        NEXT_EVIDENCE_ROW,
        "reliability",
        "(0, 1]",
    ),
    "grievance without severity": (
        "evidence.csv",
        lambda d: append_rows(d / "evidence.csv", [evidence_row(kind="grievance")]),
        NEXT_EVIDENCE_ROW,
        "severity",
        "1 (minor), 2 (serious), 3 (blocking)",
    ),
    "unknown grievance id": (
        "evidence.csv",
        lambda d: append_rows(
            d / "evidence.csv", [evidence_row(kind="grievance_resolved", grievance="no_such")]
        ),
        NEXT_EVIDENCE_ROW,
        "grievance",
        "east_representation, ee_veto",
    ),
    "wrong header": (
        "evidence.csv",
        lambda d: replace_header(d / "evidence.csv", "reliability", "confidence"),
        1,
        "(header)",
        "ally, kind, date, source, summary, reliability, severity, grievance",
    ),
    "duplicate code": (
        "allies.csv",
        lambda d: append_rows(
            d / "allies.csv",
            [
                {
                    "code": "AA",
                    "name": "Ally AA again",
                    "member_since": "1949-08-24",
                    "blocs": "eu",
                    "spending_pct_gdp": "2.0",
                    "spending_source": "synthetic",
                    "source": "synthetic",
                }
            ],
        ),
        NEXT_ALLY_ROW,
        "code",
        "unique",
    ),
}


@pytest.mark.parametrize(
    ("file", "spoil", "row", "field", "valid"), BAD_ROWS.values(), ids=BAD_ROWS.keys()
)
def test_a_bad_row_is_refused_naming_file_row_field_and_valid_values(
    tmp_path, file, spoil, row, field, valid
):
    folder = write_dataset(tmp_path / "data")
    spoil(folder)
    with pytest.raises(ValidationError) as caught:
        load_dataset(folder)
    matching = [p for p in caught.value.problems if (p.file, p.row, p.field) == (file, row, field)]
    assert matching, caught.value.problems
    message = str(caught.value)
    assert f"{file}, row {row}, field '{field}'" in message
    assert valid in message


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_rows(
        folder / "evidence.csv",
        [
            evidence_row(ally="ZZ", kind="rumour"),
            evidence_row(reliability="x"),
            evidence_row(date="yesterday"),
        ],
    )
    append_rows(
        folder / "grievances.csv",
        [
            {
                "id": "new_one",
                "ally": "AA",
                "summary": "s",
                "severity": "5",
                "recorded": "2024-01-01",
                "resolved": "",
                "source": "s",
            }
        ],
    )
    with pytest.raises(ValidationError) as caught:
        load_dataset(folder)
    found = {(p.file, p.row, p.field) for p in caught.value.problems}
    assert found == {
        ("evidence.csv", 7, "ally"),
        ("evidence.csv", 7, "kind"),
        ("evidence.csv", 8, "reliability"),
        ("evidence.csv", 9, "date"),
        ("grievances.csv", 4, "severity"),
    }


def test_one_bad_row_among_good_ones_refuses_the_whole_dataset(tmp_path):
    folder = write_dataset(tmp_path / "data")
    append_rows(folder / "evidence.csv", [evidence_row(), evidence_row(ally="ZZ")])
    result = None
    with pytest.raises(ValidationError):
        result = load_dataset(folder)
    assert result is None


VOCABULARY = Vocabulary(allies=("AA", "BB"), blocs=("eu",), grievances=("g_one",))
LATEST = dt.date(2024, 2, 22)
# Values that make up evidence records, valid and not: JSON and CSV types, and a few
# values each field accepts so that some records pass. JSON decoding refuses integers
# of thousands of digits, so they are bounded.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**600), max_value=10**600),
    st.floats(),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(
        [
            "AA",
            "BB",
            *EVIDENCE_KINDS,
            "2024-02-01",
            "1949-04-03",
            "2030-01-01",
            "0.5",
            "1",
            "0",
            "2",
            "g_one",
            "x" * (MAX_SUMMARY_CHARS + 1),
        ]
    ),
)
ANY_RECORD = st.dictionaries(
    st.one_of(st.sampled_from(EVIDENCE_FIELDS), st.text(max_size=8)), ANY_VALUE, max_size=10
)


def check_in_range(item: EvidenceItem, latest: dt.date | None) -> None:
    assert item.ally in VOCABULARY.allies
    assert item.kind in EVIDENCE_KINDS
    assert EARLIEST_DATE <= item.date <= (latest or dt.date.max)
    assert 0.0 < item.reliability <= 1.0
    assert 0 < len(item.source) <= MAX_SOURCE_CHARS
    assert 0 < len(item.summary) <= MAX_SUMMARY_CHARS
    if item.kind == "grievance":
        assert item.severity in SEVERITIES
    else:
        assert item.severity is None
    if item.kind == "grievance_resolved":
        assert item.grievance in VOCABULARY.grievances
    else:
        assert item.grievance is None


@given(raw=ANY_RECORD, latest=st.sampled_from([None, LATEST]))
def test_validate_evidence_returns_an_in_range_item_or_names_each_bad_field(raw, latest):
    try:
        item = validate_evidence(raw, VOCABULARY, latest=latest)
    except ValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.field in set(EVIDENCE_FIELDS) | set(raw)
            assert problem.message
    else:
        check_in_range(item, latest)


@st.composite
def valid_records(draw) -> dict:
    kind = draw(st.sampled_from(EVIDENCE_KINDS))
    raw = {
        "ally": draw(st.sampled_from(VOCABULARY.allies)),
        "kind": kind,
        "date": draw(st.dates(min_value=EARLIEST_DATE, max_value=LATEST)).isoformat(),
        "source": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
        "summary": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
    }
    if draw(st.booleans()):
        raw["reliability"] = draw(st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
    if kind == "grievance":
        raw["severity"] = draw(st.sampled_from([*SEVERITIES, *map(str, SEVERITIES)]))
    if kind == "grievance_resolved":
        raw["grievance"] = draw(st.sampled_from(VOCABULARY.grievances))
    if kind == "meeting":
        ahead = draw(st.integers(min_value=1, max_value=3650))
        raw["meeting_date"] = (dt.date.fromisoformat(raw["date"]) + dt.timedelta(ahead)).isoformat()
    return raw


@given(raw=valid_records())
def test_validate_evidence_accepts_every_valid_record_as_given(raw):
    item = validate_evidence(raw, VOCABULARY, latest=LATEST)
    check_in_range(item, LATEST)
    assert (item.ally, item.kind, item.date.isoformat()) == (raw["ally"], raw["kind"], raw["date"])
    assert item.reliability == float(raw.get("reliability", 1.0))


def test_a_meetings_first_day_is_part_of_its_content_id_and_other_ids_are_unchanged():
    """Two meetings announced the same day for different days are two items; an item of
    another kind keeps the id it had before meetings existed (hashed by hand here)."""
    import hashlib

    def meeting(day: dt.date) -> EvidenceItem:
        return EvidenceItem(
            ally="AA",
            kind="meeting",
            date=dt.date(2024, 3, 1),
            source="s",
            summary="m",
            meeting_date=day,
        )

    assert meeting(dt.date(2024, 3, 20)).id != meeting(dt.date(2024, 4, 3)).id
    endorsement = EvidenceItem(
        ally="AA", kind="endorsement", date=dt.date(2024, 3, 1), source="s", summary="e"
    )
    key = "|".join(["AA", "endorsement", "2024-03-01", "s", "e", repr(1.0), "", ""])
    assert endorsement.id == "ev_" + hashlib.sha256(key.encode()).hexdigest()[:16]
