"""The reference class: past consensus appointments (``data/campaigns.csv``), validated."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

import msgspec

from forecast.data.records import Problem, parse_date

logger = logging.getLogger(__name__)

CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "id",
    "organisation",
    "post",
    "front_runner",
    "emerged",
    "largest_members",
    "all_largest_backed",
    "heavyweight_objection",
    "rival_candidacy",
    "holdouts",
    "holdout_reasons",
    "fixed_meetings",
    "outcome",
    "outcome_date",
    "source",
    "notes",
)
OUTCOMES: tuple[str, ...] = ("confirmed", "dropped")
YES_NO: dict[str, bool] = {"yes": True, "no": False}
# The campaign-level covariates, as known on the day the front-runner emerged.
CAMPAIGN_COVARIATES: tuple[str, ...] = (
    "all_largest_backed",
    "heavyweight_objection",
    "rival_candidacy",
)
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


class Campaign(msgspec.Struct, frozen=True, kw_only=True):
    """One past appointment decided by consensus in which a front-runner met holdouts."""

    id: str
    organisation: str
    post: str
    front_runner: str
    emerged: dt.date
    largest_members: tuple[str, ...]
    all_largest_backed: bool
    heavyweight_objection: bool
    rival_candidacy: bool
    holdouts: int
    holdout_reasons: str
    fixed_meetings: str
    outcome: str
    outcome_date: dt.date
    source: str
    notes: str
    # The dates of ``fixed_meetings`` (first days), in order.
    meetings: tuple[dt.date, ...] = ()

    @property
    def confirmed(self) -> bool:
        return self.outcome == "confirmed"

    @property
    def days(self) -> float:
        """Days from emergence to the end of the outcome's day (a same-day outcome is 1)."""
        return self.day(self.outcome_date)

    def day(self, date: dt.date) -> float:
        """Days from emergence to the end of ``date``, the endgame's clock."""
        return endgame_day(self.emerged, date)

    @property
    def meeting_days(self) -> tuple[float, ...]:
        """The fixed meetings after the emergence day, on the endgame's clock."""
        return tuple(self.day(m) for m in self.meetings if m > self.emerged)


def endgame_day(emerged: dt.date, date: dt.date) -> float:
    """The endgame's clock: days from a front-runner's emergence to the end of ``date``
    (the emergence day itself ends day 1)."""
    return float((date - emerged).days + 1)


def parse_meetings(text: str, problems: list[Problem]) -> tuple[dt.date, ...]:
    """``name=YYYY-MM-DD;name=YYYY-MM-DD`` (empty for none) as sorted dates."""
    dates = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, day = part.partition("=")
        if not sep or not _SLUG.match(name.strip()):
            problems.append(
                Problem(
                    "fixed_meetings",
                    f"{part!r} is not name=date",
                    "name=YYYY-MM-DD entries separated by ';', e.g. nato_summit=2009-04-03",
                )
            )
            continue
        date = parse_date(day, "fixed_meetings", problems)
        if date is not None:
            dates.append(date)
    return tuple(sorted(dates))


def _check_dates(emerged: dt.date | None, ended: dt.date | None, problems: list) -> None:
    """The outcome follows the emergence."""
    if emerged and ended and ended < emerged:
        problems.append(
            Problem(
                "outcome_date", f"{ended} is before emerged {emerged}", f"on or after {emerged}"
            )
        )


def parse_campaign(row: dict[str, str], problems: list[Problem]) -> Campaign | None:
    """Validate one row of ``campaigns.csv``; problems name the field and the valid values.

    A campaign decided on or after a question's opening day is valid here; the dataset
    leaves it out of that question's reference class (``known_before``)."""
    cid = row["id"].strip()
    if not _SLUG.match(cid):
        problems.append(Problem("id", f"{cid!r} is not an id", "lower-case snake_case"))
    organisation = row["organisation"].strip()
    if not _SLUG.match(organisation):
        problems.append(
            Problem("organisation", f"{organisation!r} is not a slug", "lower-case, e.g. nato")
        )
    flags = {}
    for field in CAMPAIGN_COVARIATES:
        text = row[field].strip().lower()
        if text not in YES_NO:
            problems.append(Problem(field, f"{row[field]!r} is not yes or no", "yes, no"))
        flags[field] = YES_NO.get(text, False)
    holdouts_text = row["holdouts"].strip()
    if not holdouts_text.isdigit():
        problems.append(
            Problem("holdouts", f"{holdouts_text!r} is not a count", "a whole number >= 0")
        )
    outcome = row["outcome"].strip()
    if outcome not in OUTCOMES:
        problems.append(Problem("outcome", f"{outcome!r} is not an outcome", ", ".join(OUTCOMES)))
    emerged = parse_date(row["emerged"], "emerged", problems)
    ended = parse_date(row["outcome_date"], "outcome_date", problems)
    _check_dates(emerged, ended, problems)
    meetings = parse_meetings(row["fixed_meetings"], problems)
    text = {}
    for field in ("post", "front_runner", "largest_members", "source"):
        text[field] = row[field].strip()
        if not text[field]:
            problems.append(Problem(field, "is required", "non-empty text"))
    if problems:
        return None
    return Campaign(
        id=cid,
        organisation=organisation,
        post=text["post"],
        front_runner=text["front_runner"],
        emerged=emerged,
        largest_members=tuple(m.strip() for m in text["largest_members"].split(";") if m.strip()),
        holdouts=int(holdouts_text),
        holdout_reasons=row["holdout_reasons"].strip(),
        fixed_meetings=row["fixed_meetings"].strip(),
        meetings=meetings,
        outcome=outcome,
        outcome_date=ended,
        source=text["source"],
        notes=row["notes"].strip(),
        **flags,
    )


def known_before(campaigns: Sequence[Campaign], opened: dt.date) -> tuple[Campaign, ...]:
    """The campaigns decided before ``opened``: the reference class a question opened that
    day may learn from (a question about 2009 must not learn from 2014)."""
    return tuple(c for c in campaigns if c.outcome_date < opened)
