"""Load and validate the shipped dataset (``data/``): all or nothing, every problem named."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from forecast.data.clock import CLOCKS, live_as_of
from forecast.data.records import (
    EVIDENCE_FIELDS,
    EVIDENCE_FIELDS_BEFORE_MEETINGS,
    SEVERITIES,
    Ally,
    Bloc,
    EvidenceItem,
    Grievance,
    Problem,
    ValidationError,
    Vocabulary,
    parse_date,
    required,
    validate_evidence,
)
from forecast.data.reference import (
    CAMPAIGN_COLUMNS,
    HOLDOUT_COUNT_COLUMNS,
    Campaign,
    attach_counts,
    by_rule,
    known_before,
    parse_campaign,
    parse_holdout_count,
)

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CODE_PATTERN = re.compile(r"^[A-Z]{2}$")
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

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


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """A date by which confirmation counts: confirmed on or before ``last_day``."""

    key: str
    label: str
    last_day: dt.date
    source: str


class CalendarDate(msgspec.Struct, frozen=True, kw_only=True):
    """A fixed date of the calendar known on the opening day: a meeting (its first day)
    or a hard date such as the incumbent's term end. The endgame gives mass to the days at
    and just before it (``forecast.posterior.endgame``). ``announced`` is the day its
    ``source`` made it public, on or before the question's opening day."""

    key: str
    label: str
    date: dt.date
    announced: dt.date
    source: str


class Appointment(msgspec.Struct, frozen=True, kw_only=True):
    """A past appointment: the day consensus became public and the day it was formalised."""

    name: str
    consensus: dt.date
    decided: dt.date
    source: str


class Question(msgspec.Struct, frozen=True, kw_only=True):
    """What is forecast: the candidate, the campaign start, the deadlines and the rule."""

    question: str
    candidate: str
    opened: dt.date
    campaign_start: dt.date
    campaign_start_source: str
    rule: str
    rule_source: str
    # The campaign level: who puts the candidate forward (its withdrawal ends the
    # campaign), the day the largest members' backing made the candidate the front-runner
    # (the endgame's clock starts there, as in the reference class), the organisation
    # (for the reference class's pooling) and who counts as its largest members.
    sponsor: str
    organisation: str
    emerged: dt.date
    emerged_source: str
    largest_members: tuple[str, ...]
    largest_members_source: str
    deadlines: tuple[Deadline, ...]
    appointments: tuple[Appointment, ...]
    # Fixed meetings and hard dates known on the opening day (none: no focal points).
    calendar: tuple[CalendarDate, ...] = ()
    # How the live cut-off moves (``clock.CLOCKS``): with the newest evidence (a replay)
    # or with today's date (a question still open).
    clock: str = "evidence"

    def live_as_of(self, evidence_dates: Iterable[dt.date], now: dt.date | None = None) -> dt.date:
        """The live forecast's cut-off given the evidence standing (``clock.live_as_of``)."""
        return live_as_of(self.opened, self.clock, evidence_dates, now)


class Dataset(msgspec.Struct, frozen=True, kw_only=True):
    """Everything in ``data/``, validated."""

    question: Question
    blocs: tuple[Bloc, ...]
    allies: tuple[Ally, ...]
    grievances: tuple[Grievance, ...]
    evidence: tuple[EvidenceItem, ...]
    # The reference class: campaigns decided before the opening day in which one member
    # or a defined group could block (``reference.BLOCKING_RULES``), with their counts.
    campaigns: tuple[Campaign, ...]
    # Campaigns decided before the opening day under a rule no single member could
    # block (qualified majority): the sensitivity check's extra rows, not learned from.
    other_campaigns: tuple[Campaign, ...] = ()
    # Ids of the campaigns in the file decided on or after the opening day: not learned
    # from (no hindsight), listed by ``check``.
    later_campaigns: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.allies)

    def ally(self, code: str) -> Ally:
        """The ally with this code; ``KeyError`` naming the valid codes otherwise."""
        for a in self.allies:
            if a.code == code:
                return a
        raise KeyError(f"unknown ally {code!r}; valid codes: {', '.join(sorted(self.codes))}")

    def vocabulary(self, extra_grievances: tuple[str, ...] = ()) -> Vocabulary:
        """What an evidence record may name (``extra_grievances``: ids of posted grievances)."""
        return Vocabulary(
            allies=self.codes,
            blocs=tuple(b.key for b in self.blocs),
            grievances=tuple(g.id for g in self.grievances) + extra_grievances,
        )


def load_dataset(data_dir: Path | str | None = None) -> Dataset:
    """Load and validate every file in ``data_dir``.

    Parameters
    ----------
    data_dir
        Folder holding ``question.toml``, ``blocs.csv``, ``allies.csv``,
        ``grievances.csv``, ``evidence.csv``, ``campaigns.csv`` and
        ``holdout_counts.csv`` (default: the shipped ``data/``).

    Returns
    -------
    Dataset
        Only when every file is valid: nothing half-loaded is ever returned.

    Raises
    ------
    ValidationError
        Listing every problem in every file, each with file, row, field and valid values.
    """
    folder = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    problems: list[Problem] = []
    question = _load_question(folder / "question.toml", problems)
    blocs = _load_rows(folder / "blocs.csv", problems, _bloc, unique="key")
    bloc_keys = tuple(b.key for b in blocs)
    allies = _load_rows(
        folder / "allies.csv", problems, lambda r, p: _ally(r, p, bloc_keys), unique="code"
    )
    # Members whose row has a problem elsewhere still count as members when the other
    # files are checked: one bad cell is reported once, not again in every file naming it.
    codes = tuple(a.code for a in allies)
    if any(p.file == "allies.csv" for p in problems):
        valid = {a.code for a in allies}
        codes += tuple(
            code
            for _, row in _read_csv(folder / "allies.csv", [])
            if CODE_PATTERN.match(code := row["code"].strip()) and code not in valid
        )
    opened = question.opened if question else None
    grievances = _load_rows(
        folder / "grievances.csv",
        problems,
        lambda r, p: _grievance(r, p, codes, bloc_keys, opened),
        unique="id",
    )
    vocabulary = Vocabulary(
        allies=codes, blocs=bloc_keys, grievances=tuple(g.id for g in grievances)
    )
    evidence = _load_evidence(folder / "evidence.csv", problems, vocabulary, latest=opened)
    campaign_problems: list[Problem] = []
    campaigns = _load_rows(folder / "campaigns.csv", campaign_problems, parse_campaign, unique="id")
    counts = _load_rows(
        folder / "holdout_counts.csv", campaign_problems, parse_holdout_count, numbered=True
    )
    # Counts are checked against their campaigns only when every campaign row is valid:
    # a count of a refused row is not reported again.
    if not campaign_problems:
        campaigns = attach_counts(campaigns, counts, campaign_problems)
    problems.extend(campaign_problems)
    if question is not None:
        _check_campaign_roles(question, codes, problems)
    if problems:
        raise ValidationError(problems)
    later: tuple[str, ...] = ()
    if opened is not None:
        learned = known_before(campaigns, opened)
        kept = {c.id for c in learned}
        later = tuple(c.id for c in campaigns if c.id not in kept)
        if later:
            logger.info(
                "left out %d campaign(s) decided on or after the opening day %s",
                len(later),
                opened,
            )
        campaigns = learned
    reference, others = by_rule(campaigns)
    dataset = Dataset(
        question=question,
        blocs=blocs,
        allies=allies,
        grievances=grievances,
        evidence=evidence,
        campaigns=reference,
        other_campaigns=others,
        later_campaigns=later,
    )
    logger.info(
        "loaded %d allies, %d grievances, %d evidence items from %s",
        len(allies),
        len(grievances),
        len(evidence),
        folder,
    )
    return dataset


def read_evidence(path: Path, dataset: Dataset, latest: dt.date | None) -> tuple[EvidenceItem, ...]:
    """The items of an evidence CSV laid out as ``evidence.csv`` (a replay's later
    evidence, say), validated against ``dataset`` as its own ``evidence.csv`` is.

    Parameters
    ----------
    path
        A UTF-8 CSV with the ``evidence.csv`` header.
    dataset
        The question whose allies, blocs and grievances the items may name.
    latest
        The last date an item may carry (``clock.today()`` for what is known now).

    Raises
    ------
    ValidationError
        Listing every problem, each with file, row, field and valid values.
    """
    problems: list[Problem] = []
    items = _load_evidence(path, problems, dataset.vocabulary(), latest=latest)
    if problems:
        raise ValidationError(problems)
    return items


def _load_evidence(
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

    return _load_rows(path, problems, parse, layout="evidence.csv")


def _nonempty(row: Mapping[str, str]) -> dict[str, str]:
    """CSV cells left empty mean 'not given'."""
    return {k: v for k, v in row.items() if v is not None and v.strip() != ""}


def _read_csv(
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


def _load_rows(
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
    for number, row in _read_csv(path, problems, layout):
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


def _bloc(row: dict[str, str], problems: list[Problem]) -> Bloc | None:
    key = row["key"].strip()
    if not SLUG_PATTERN.match(key):
        problems.append(Problem("key", f"{key!r} is not a key", "lower-case snake_case"))
    fields = {f: required(row, f, problems) for f in ("label", "description", "source")}
    return None if problems else Bloc(key=key, **fields)


def _ally(row: dict[str, str], problems: list[Problem], bloc_keys: tuple[str, ...]) -> Ally | None:
    code = row["code"].strip()
    if not CODE_PATTERN.match(code):
        problems.append(Problem("code", f"{code!r} is not a code", "ISO 3166-1 alpha-2, e.g. GB"))
    blocs = tuple(b.strip() for b in row["blocs"].split(";") if b.strip())
    for bloc in blocs:
        if bloc not in bloc_keys:
            problems.append(
                Problem(
                    "blocs", f"{bloc!r} is not a bloc", ", ".join(bloc_keys) + " (';'-separated)"
                )
            )
    spending = None
    text = row["spending_pct_gdp"].strip()
    if text:
        try:
            spending = float(text)
        except ValueError:
            spending = math.nan
        if not (math.isfinite(spending) and 0.0 < spending < 20.0):
            problems.append(
                Problem(
                    "spending_pct_gdp",
                    f"{text!r} is not a share of GDP",
                    "a number in (0, 20), or empty",
                )
            )
    member_since = parse_date(row["member_since"], "member_since", problems, optional=True)
    name = required(row, "name", problems)
    source = required(row, "source", problems)
    spending_source = row["spending_source"].strip()
    if spending is not None and not spending_source:
        problems.append(Problem("spending_source", "is required with a spending figure", "a URL"))
    if problems:
        return None
    return Ally(
        code=code,
        name=name,
        member_since=member_since,
        blocs=blocs,
        spending_pct_gdp=spending,
        spending_source=spending_source,
        source=source,
    )


def _grievance(
    row: dict[str, str],
    problems: list[Problem],
    codes: tuple[str, ...],
    bloc_keys: tuple[str, ...],
    opened: dt.date | None,
) -> Grievance | None:
    gid = row["id"].strip()
    if not SLUG_PATTERN.match(gid):
        problems.append(Problem("id", f"{gid!r} is not an id", "lower-case snake_case"))
    holder = row["ally"].strip()
    if holder not in codes and holder not in bloc_keys:
        problems.append(
            Problem(
                "ally",
                f"{holder!r} is neither an ally nor a bloc",
                ", ".join(sorted(codes + bloc_keys)),
            )
        )
    severity_text = row["severity"].strip()
    if severity_text not in {str(s) for s in SEVERITIES}:
        problems.append(
            Problem(
                "severity",
                f"{severity_text!r} is not a severity",
                "1 (minor), 2 (serious), 3 (blocking)",
            )
        )
    recorded = parse_date(row["recorded"], "recorded", problems)
    resolved = parse_date(row["resolved"], "resolved", problems, optional=True)
    for field, day in (("recorded", recorded), ("resolved", resolved)):
        if day is not None and opened is not None and day > opened:
            problems.append(
                Problem(field, f"{day} is after the data's opening date", f"on or before {opened}")
            )
    if recorded and resolved and resolved < recorded:
        problems.append(
            Problem(
                "resolved", f"{resolved} is before recorded {recorded}", f"on or after {recorded}"
            )
        )
    summary = required(row, "summary", problems)
    source = required(row, "source", problems)
    if problems:
        return None
    return Grievance(
        id=gid,
        ally=holder,
        summary=summary,
        severity=int(severity_text),
        recorded=recorded,
        resolved=resolved,
        source=source,
    )


def _load_question(path: Path, problems: list[Problem]) -> Question | None:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(Problem("(file)", f"cannot be read: {exc.strerror}", file=path.name))
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem("(file)", f"is not valid TOML: {exc}", file=path.name))
        return None
    lag = raw.pop("decision_lag", {}) or {}
    raw["appointments"] = lag.get("appointments", [])
    try:
        question = msgspec.convert(raw, Question, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(Problem("(file)", str(exc), "see data/README.md", path.name))
        return None
    if question.clock not in CLOCKS:
        problems.append(
            Problem("clock", f"{question.clock!r} is not a clock", ", ".join(CLOCKS), path.name)
        )
    if question.rule != "unanimity":
        problems.append(
            Problem("rule", f"{question.rule!r} is not supported", "unanimity", path.name)
        )
    keys = [d.key for d in question.deadlines]
    if not keys or len(set(keys)) != len(keys):
        problems.append(Problem("deadlines", "need at least one, with unique keys", "", path.name))
    _check_calendar(question, problems, path.name)
    if not question.appointments:
        problems.append(
            Problem(
                "decision_lag.appointments", "need at least one past appointment", "", path.name
            )
        )
    if question.campaign_start > question.opened:
        problems.append(
            Problem(
                "campaign_start",
                "is after the opening date",
                f"on or before {question.opened}",
                path.name,
            )
        )
    return question


def _check_calendar(question: Question, problems: list[Problem], file: str) -> None:
    """Calendar dates have unique keys and were public on the opening day (no hindsight)."""
    keys = [c.key for c in question.calendar]
    if len(set(keys)) != len(keys):
        problems.append(Problem("calendar", "keys must be unique", "one entry per key", file))
    for entry in question.calendar:
        if entry.announced > question.opened:
            problems.append(
                Problem(
                    f"calendar.{entry.key}.announced",
                    f"{entry.announced} is after the opening date: a date announced later "
                    "is evidence, not part of the question",
                    f"on or before {question.opened}",
                    file,
                )
            )
        if entry.date < question.emerged:
            problems.append(
                Problem(
                    f"calendar.{entry.key}.date",
                    f"{entry.date} is before the front-runner emerged",
                    f"on or after {question.emerged}",
                    file,
                )
            )


def _check_campaign_roles(
    question: Question, codes: tuple[str, ...], problems: list[Problem]
) -> None:
    """The sponsor and the largest members must be allies of ``allies.csv``."""
    for field, named in (
        ("sponsor", (question.sponsor,)),
        ("largest_members", question.largest_members),
    ):
        for code in named:
            if code not in codes:
                problems.append(
                    Problem(
                        field, f"{code!r} is not an ally", ", ".join(sorted(codes)), "question.toml"
                    )
                )
    if question.emerged < question.campaign_start:
        problems.append(
            Problem(
                "emerged",
                "is before the campaign start",
                f"on or after {question.campaign_start}",
                "question.toml",
            )
        )
