"""The question (``question.toml``): what is forecast, its deadlines and calendar, checked."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from forecast.data.clock import CLOCKS, live_as_of
from forecast.data.records import Problem

# A question's slug: its name in URLs (``/questions/{slug}/``) and in the track record.
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SLUG_RULE = "lower-case letters, digits and hyphens, at most 63, not starting with a hyphen"


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
    # The question's name in URLs and the track record (``questions.question_slug``);
    # empty: its directory's name.
    slug: str = ""

    def live_as_of(self, evidence_dates: Iterable[dt.date], now: dt.date | None = None) -> dt.date:
        """The live forecast's cut-off given the evidence standing (``clock.live_as_of``)."""
        return live_as_of(self.opened, self.clock, evidence_dates, now)


def load_question(path: Path, problems: list[Problem]) -> Question | None:
    """The question in ``path``, checked; None (with the problems noted) if it cannot be read."""
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
    if question.slug and not SLUG_PATTERN.match(question.slug):
        problems.append(Problem("slug", f"{question.slug!r} is not a slug", SLUG_RULE, path.name))
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


def check_campaign_roles(
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
