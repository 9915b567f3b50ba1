"""Reading the dataset's CSV files: the expected headers, rows numbered, problems collected."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from forecast.data.records import (
    EVIDENCE_FIELDS,
    EVIDENCE_FIELDS_BEFORE_MEETINGS,
    EvidenceItem,
    Problem,
    ValidationError,
    Vocabulary,
    validate_evidence,
)
from forecast.data.reference import CAMPAIGN_COLUMNS, HOLDOUT_COUNT_COLUMNS

COLUMNS: dict[str, tuple[str, ...]] = {
    "blocs.csv": ("key", "label", "description", "source"),
    "allies.csv": (
        "code",
        "name",
        "member_since",
        "blocs",
        "spending_pct_gdp",
        "spending_source",
        "source",
    ),
    "grievances.csv": ("id", "ally", "summary", "severity", "recorded", "resolved", "source"),
    "evidence.csv": EVIDENCE_FIELDS,
    "campaigns.csv": CAMPAIGN_COLUMNS,
    "holdout_counts.csv": HOLDOUT_COUNT_COLUMNS,
}


def load_evidence(
    path: Path, problems: list[Problem], vocabulary: Vocabulary, *, latest: dt.date | None
) -> tuple[EvidenceItem, ...]:
    """Evidence rows in file order; a grievance recorded in a row may be resolved by id
    in a later row of the same file."""
    recorded: list[str] = []

    def parse(row: dict[str, str], _problems: list[Problem]) -> EvidenceItem:
        known = msgspec.structs.replace(vocabulary, grievances=(*vocabulary.grievances, *recorded))
        item = validate_evidence(_nonempty(row), known, latest=latest)
        if item.kind == "grievance":
            recorded.append(item.id)
        return item

    return load_rows(path, problems, parse, layout="evidence.csv")


def _nonempty(row: Mapping[str, str]) -> dict[str, str]:
    """CSV cells left empty mean 'not given'."""
    return {k: v for k, v in row.items() if v is not None and v.strip() != ""}


def read_csv(
    path: Path, problems: list[Problem], layout: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a UTF-8 CSV with their numbers, if its header is that of ``layout`` (a
    shipped file's name; default the file's own)."""
    name = path.name
    layout = layout or name
    expected = COLUMNS[layout]
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        problems.append(Problem("(file)", f"cannot be read: {exc.strerror}", file=name))
        return
    with handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        if header != expected and not (
            layout == "evidence.csv" and header == EVIDENCE_FIELDS_BEFORE_MEETINGS
        ):
            problems.append(
                Problem("(header)", f"columns are {list(header)}", ", ".join(expected), name, 1)
            )
            return
        for number, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                problems.append(
                    Problem(
                        "(row)", "has the wrong number of cells", f"{len(expected)}", name, number
                    )
                )
                continue
            yield number, row


def load_rows(
    path: Path,
    problems: list[Problem],
    parse: Callable[[dict[str, str], list[Problem]], Any],
    unique: str | None = None,
    numbered: bool = False,
    layout: str | None = None,
) -> tuple[Any, ...]:
    """Parse each row, collecting problems tagged with the file and row number.

    ``unique`` names a field whose value may appear in one row only; ``numbered`` pairs
    each record with its row number; ``layout`` names the shipped file whose columns it has.
    """
    records = []
    first_row: dict[Any, int] = {}
    for number, row in read_csv(path, problems, layout):
        row_problems: list[Problem] = []
        try:
            record = parse(row, row_problems)
        except ValidationError as exc:
            row_problems.extend(exc.problems)
            record = None
        if record is not None and unique is not None:
            key = getattr(record, unique)
            if key in first_row:
                row_problems.append(
                    Problem(
                        unique,
                        f"{key!r} appears twice (first in row {first_row[key]})",
                        "unique values",
                    )
                )
            first_row.setdefault(key, number)
        if row_problems:
            problems.extend(
                msgspec.structs.replace(p, file=path.name, row=number) for p in row_problems
            )
        elif record is not None:
            records.append((number, record) if numbered else record)
    return tuple(records)
