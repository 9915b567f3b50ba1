"""Typed dataset records and the one validator that checks file rows and posts alike."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

logger = logging.getLogger(__name__)

EVIDENCE_KINDS: tuple[str, ...] = (
    "endorsement",
    "objection",
    "candidacy",
    "withdrawal",
    "grievance",
    "grievance_resolved",
    "accession",
    "meeting",
    "statement",
)
SEVERITIES: tuple[int, ...] = (1, 2, 3)
EVIDENCE_FIELDS: tuple[str, ...] = (
    "ally",
    "kind",
    "date",
    "source",
    "summary",
    "reliability",
    "severity",
    "grievance",
    "meeting_date",
)
# The evidence columns before ``meeting_date``: a CSV file without it still loads.
EVIDENCE_FIELDS_BEFORE_MEETINGS: tuple[str, ...] = EVIDENCE_FIELDS[:-1]
# Bounds that keep free text readable in a table and in the database.
MAX_SOURCE_CHARS = 500
MAX_SUMMARY_CHARS = 2000
EARLIEST_DATE = dt.date(1949, 4, 4)  # the North Atlantic Treaty was signed that day


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with one field of one row."""

    field: str
    message: str
    valid: str = ""
    file: str = ""
    row: int | None = None

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"row {self.row}" if self.row is not None else "",
                f"field '{self.field}'",
            )
            if part
        )
        valid = f" (valid: {self.valid})" if self.valid else ""
        return f"{where}: {self.message}{valid}"


class ValidationError(ValueError):
    """Raised with every problem found, so a user can fix them all at once."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class Bloc(msgspec.Struct, frozen=True, kw_only=True):
    """A grouping of allies whose members may share a stance (partially pooled in the model)."""

    key: str
    label: str
    description: str
    source: str


class Ally(msgspec.Struct, frozen=True, kw_only=True):
    """An ally (or pending member) with the covariates the model uses."""

    code: str
    name: str
    member_since: dt.date | None
    blocs: tuple[str, ...]
    spending_pct_gdp: float | None
    spending_source: str
    source: str


class Grievance(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded grievance against the candidate, held by an ally or a whole bloc."""

    id: str
    ally: str
    summary: str
    severity: int
    recorded: dt.date
    resolved: dt.date | None
    source: str


class EvidenceItem(msgspec.Struct, frozen=True, kw_only=True):
    """One dated piece of evidence; the same schema as ``POST /evidence`` accepts."""

    ally: str
    kind: str
    date: dt.date
    source: str
    summary: str
    reliability: float = 1.0
    severity: int | None = None
    grievance: str | None = None
    # Only for kind ``meeting``: the first day of the meeting announced on ``date``.
    meeting_date: dt.date | None = None

    @property
    def id(self) -> str:
        """Content id: the same item posted twice gets the same id and is stored once."""
        parts = [
            self.ally,
            self.kind,
            self.date.isoformat(),
            self.source.strip(),
            self.summary.strip(),
            repr(float(self.reliability)),
            str(self.severity or ""),
            self.grievance or "",
        ]
        if self.meeting_date is not None:  # items of the other kinds keep their ids
            parts.append(self.meeting_date.isoformat())
        key = "|".join(parts)
        return "ev_" + hashlib.sha256(key.encode()).hexdigest()[:16]


class Vocabulary(msgspec.Struct, frozen=True, kw_only=True):
    """The values a row may name: ally codes, bloc keys and grievance ids."""

    allies: tuple[str, ...]
    blocs: tuple[str, ...] = ()
    grievances: tuple[str, ...] = ()


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def parse_date(value: Any, field: str, problems: list[Problem], *, optional: bool = False):
    """Parse an ISO date, appending a problem instead of raising."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        problems.append(Problem(field, "is required", "a date as YYYY-MM-DD"))
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(Problem(field, f"{value!r} is not a date", "a date as YYYY-MM-DD"))
        return None


def required(
    row: Mapping[str, str], field: str, problems: list[Problem], valid: str = "non-empty text"
) -> str:
    """A CSV row's text field, stripped; a problem if it is empty."""
    value = (row.get(field) or "").strip()
    if not value:
        problems.append(Problem(field, "is required", valid))
    return value


def _text(raw: Mapping[str, Any], field: str, limit: int, problems: list[Problem]) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        problems.append(
            Problem(field, "is required", f"non-empty text, at most {limit} characters")
        )
        return ""
    if len(value) > limit:
        problems.append(Problem(field, f"has {len(value)} characters", f"at most {limit}"))
    return value.strip()


def validate_evidence(
    raw: Mapping[str, Any],
    vocabulary: Vocabulary,
    *,
    latest: dt.date | None = None,
) -> EvidenceItem:
    """Check one evidence record and return it typed.

    Parameters
    ----------
    raw
        Field name to value, as read from a CSV row (strings) or a JSON body.
    vocabulary
        The ally codes and grievance ids a record may name.
    latest
        The last date a record may carry (the data's opening date for shipped
        files, today for posts); ``None`` for no bound.

    Returns
    -------
    EvidenceItem

    Raises
    ------
    ValidationError
        With every problem of the record, each naming its field and the valid values.
    """
    problems: list[Problem] = []
    unknown = sorted(set(raw) - set(EVIDENCE_FIELDS))
    for field in unknown:
        problems.append(Problem(field, "is not an evidence field", _listing(EVIDENCE_FIELDS)))

    ally = raw.get("ally")
    if ally not in vocabulary.allies:
        problems.append(
            Problem("ally", f"{ally!r} is not an ally code", _listing(vocabulary.allies))
        )
    kind = raw.get("kind")
    if kind not in EVIDENCE_KINDS:
        problems.append(
            Problem("kind", f"{kind!r} is not an evidence kind", ", ".join(EVIDENCE_KINDS))
        )

    date = parse_date(raw.get("date"), "date", problems)
    if date is not None:
        upper = latest or dt.date.max
        if not EARLIEST_DATE <= date <= upper:
            bound = latest.isoformat() if latest else "any later date"
            problems.append(
                Problem("date", f"{date} is out of range", f"{EARLIEST_DATE} to {bound}")
            )
    source = _text(raw, "source", MAX_SOURCE_CHARS, problems)
    summary = _text(raw, "summary", MAX_SUMMARY_CHARS, problems)

    reliability = _reliability(raw.get("reliability"), problems)
    severity = _severity(raw.get("severity"), kind, problems)
    grievance = _grievance(raw.get("grievance"), kind, vocabulary, problems)
    meeting_date = _meeting_date(raw.get("meeting_date"), kind, date, problems)

    if problems:
        raise ValidationError(problems)
    return EvidenceItem(
        ally=ally,
        kind=kind,
        date=date,
        source=source,
        summary=summary,
        reliability=reliability,
        severity=severity,
        grievance=grievance,
        meeting_date=meeting_date,
    )


def _meeting_date(
    value: Any, kind: Any, announced: dt.date | None, problems: list[Problem]
) -> dt.date | None:
    """A meeting's first day: required for kind ``meeting``, after the day it was
    announced (the item's ``date``), and empty for every other kind."""
    if kind != "meeting":
        if not _blank(value):
            problems.append(
                Problem("meeting_date", "is only for kind 'meeting'", "empty for other kinds")
            )
        return None
    valid = "the meeting's first day as YYYY-MM-DD, after the item's date (its announcement)"
    if _blank(value):
        problems.append(Problem("meeting_date", "is required for kind 'meeting'", valid))
        return None
    day = parse_date(value, "meeting_date", problems)
    if day is not None and announced is not None and day <= announced:
        problems.append(Problem("meeting_date", f"{day} is not after {announced}", valid))
        return None
    return day


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _reliability(value: Any, problems: list[Problem]) -> float:
    if _blank(value):
        return 1.0
    valid = "a number in (0, 1]; empty means 1"
    if isinstance(value, bool):
        problems.append(Problem("reliability", f"{value!r} is not a number", valid))
        return 1.0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        problems.append(Problem("reliability", f"{value!r} is not a number", valid))
        return 1.0
    if not (math.isfinite(number) and 0.0 < number <= 1.0):
        problems.append(Problem("reliability", f"{value!r} is out of range", valid))
    return number


def _severity(value: Any, kind: Any, problems: list[Problem]) -> int | None:
    valid = "1 (minor), 2 (serious), 3 (blocking)"
    if kind != "grievance":
        if not _blank(value):
            problems.append(
                Problem("severity", "is only for kind 'grievance'", "empty for other kinds")
            )
        return None
    if _blank(value) or isinstance(value, bool):
        problems.append(Problem("severity", "is required for kind 'grievance'", valid))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if number not in SEVERITIES:
        problems.append(Problem("severity", f"{value!r} is not a severity", valid))
        return None
    return int(number)


def _grievance(value: Any, kind: Any, vocabulary: Vocabulary, problems: list[Problem]):
    if kind != "grievance_resolved":
        if not _blank(value):
            problems.append(
                Problem(
                    "grievance",
                    "is only for kind 'grievance_resolved'",
                    "empty for other kinds",
                )
            )
        return None
    if value not in vocabulary.grievances:
        problems.append(
            Problem(
                "grievance",
                f"{value!r} is not a recorded grievance",
                _listing(vocabulary.grievances) or "none recorded",
            )
        )
        return None
    return value
