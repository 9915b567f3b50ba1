"""The reference class: past consensus appointments (``data/campaigns.csv``) and their
dated holdout counts (``data/holdout_counts.csv``), validated."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

import msgspec

from forecast.data.records import Problem, parse_date, required

logger = logging.getLogger(__name__)

CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "id",
    "organisation",
    "post",
    "rule",
    "front_runner",
    "emerged",
    "largest_members",
    "all_largest_backed",
    "heavyweight_objection",
    "blocking_objection",
    "rival_candidacy",
    "fallback",
    "holdouts",
    "holdout_reasons",
    "fixed_meetings",
    "outcome",
    "outcome_date",
    "source",
    "notes",
)
HOLDOUT_COUNT_COLUMNS: tuple[str, ...] = (
    "campaign",
    "date",
    "holdouts",
    "members",
    "objecting",
    "rivals",
    "blocking",
    "blocking_objecting",
    "source",
    "note",
)
OUTCOMES: tuple[str, ...] = ("confirmed", "dropped")
# Who can block, on the day the front-runner emerged (data/README.md): every member, a
# defined group (the UN Security Council's permanent members), or no single member.
RULES: tuple[str, ...] = ("unanimity", "veto_group", "qualified_majority")
# The rules under which one member or a defined group can block: the reference class of
# a question decided by consensus. Rows under ``qualified_majority`` are kept for the
# sensitivity check (``backtest --campaigns --with-majority``).
BLOCKING_RULES: tuple[str, ...] = ("unanimity", "veto_group")
YES_NO: dict[str, bool] = {"yes": True, "no": False}
# The campaign-level covariates, as known on the day the front-runner emerged.
CAMPAIGN_COVARIATES: tuple[str, ...] = (
    "all_largest_backed",
    "heavyweight_objection",
    "rival_candidacy",
    "blocking_objection",
)
# Further flags of a campaign on its emergence day, recorded for the reference class. A
# fallback cannot be read from a question's evidence log (no kind records an extension
# or a second candidate under discussion), so it is not a covariate.
CAMPAIGN_FLAGS: tuple[str, ...] = (*CAMPAIGN_COVARIATES, "fallback")
# Stretches of a campaign's holdout path in the compiled campaign level (``holdout_path``):
# the emergence count and each later count before the outcome's day.
PATH_SLOTS = 8
# Fixed dates per campaign in the compiled campaign level (its calendar of focal points):
# a past campaign's meetings after its emergence, or a question's calendar and the
# meetings announced since (of which those nearest the cut-off are kept).
CALENDAR_SLOTS = 8
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


class HoldoutCount(msgspec.Struct, frozen=True, kw_only=True):
    """A dated count of a past campaign's holdouts: how many members held out that day,
    of how many whose consent was needed, and how many of them objected in public or
    fielded a rival (``note`` says who and why)."""

    campaign: str
    date: dt.date
    holdouts: int
    members: int
    objecting: int
    rivals: int
    source: str
    note: str
    # How many of the holdouts, and of those objecting, could block alone. The rule says
    # it for ``unanimity`` (every holdout) and ``qualified_majority`` (none); under
    # ``veto_group`` the file gives it (the veto holders among them), or None if unknown.
    # Set from the campaign's rule by ``attach_counts``.
    blocking: int | None = None
    blocking_objecting: int | None = None


class Campaign(msgspec.Struct, frozen=True, kw_only=True):
    """One past appointment decided by consensus in which a front-runner met holdouts."""

    id: str
    organisation: str
    post: str
    rule: str
    front_runner: str
    emerged: dt.date
    largest_members: tuple[str, ...]
    all_largest_backed: bool
    heavyweight_objection: bool
    blocking_objection: bool
    rival_candidacy: bool
    fallback: bool
    holdouts: int
    holdout_reasons: str
    fixed_meetings: str
    outcome: str
    outcome_date: dt.date
    source: str
    notes: str
    # The dates of ``fixed_meetings`` (first days), in order.
    meetings: tuple[dt.date, ...] = ()
    # The dated holdout counts of ``holdout_counts.csv``, in date order (the first is on
    # the emergence day).
    counts: tuple[HoldoutCount, ...] = ()

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

    def holdout_path(self, until: dt.date | None = None) -> tuple[tuple[float, int], ...]:
        """The holdouts over the campaign: ``(start, holdouts)`` per stretch, ``start`` in
        days from emergence (0 for the emergence count, the start of its day for a later
        count). The stretches run to the outcome: counts dated on the outcome's day (the
        veto or the deal itself) or, with ``until``, on or after ``until`` are left out."""
        end = self.outcome_date if until is None else min(until, self.outcome_date)
        return tuple(
            (float((n.date - self.emerged).days), n.holdouts)
            for n in self.counts
            if n.date == self.emerged or n.date < end
        )


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
    rule = row["rule"].strip()
    if rule not in RULES:
        problems.append(Problem("rule", f"{rule!r} is not a rule", ", ".join(RULES)))
    flags = {}
    for field in CAMPAIGN_FLAGS:
        text = row[field].strip().lower()
        if text not in YES_NO:
            problems.append(Problem(field, f"{row[field]!r} is not yes or no", "yes, no"))
        flags[field] = YES_NO.get(text, False)
    holdouts = _count(row, "holdouts", problems)
    outcome = row["outcome"].strip()
    if outcome not in OUTCOMES:
        problems.append(Problem("outcome", f"{outcome!r} is not an outcome", ", ".join(OUTCOMES)))
    emerged = parse_date(row["emerged"], "emerged", problems)
    ended = parse_date(row["outcome_date"], "outcome_date", problems)
    _check_dates(emerged, ended, problems)
    meetings = parse_meetings(row["fixed_meetings"], problems)
    after = [m for m in meetings if emerged is None or m > emerged]
    if len(after) > CALENDAR_SLOTS:
        problems.append(
            Problem(
                "fixed_meetings",
                f"{len(after)} meetings after the emergence day",
                f"at most {CALENDAR_SLOTS} (the campaign level's calendar slots)",
            )
        )
    text = {
        f: required(row, f, problems) for f in ("post", "front_runner", "largest_members", "source")
    }
    if problems:
        return None
    return Campaign(
        id=cid,
        organisation=organisation,
        post=text["post"],
        rule=rule,
        front_runner=text["front_runner"],
        emerged=emerged,
        largest_members=tuple(m.strip() for m in text["largest_members"].split(";") if m.strip()),
        holdouts=holdouts,
        holdout_reasons=row["holdout_reasons"].strip(),
        fixed_meetings=row["fixed_meetings"].strip(),
        meetings=meetings,
        outcome=outcome,
        outcome_date=ended,
        source=text["source"],
        notes=row["notes"].strip(),
        **flags,
    )


def _count(row: dict[str, str], field: str, problems: list[Problem], least: int = 0) -> int:
    """A whole number of members, at least ``least``."""
    text = row[field].strip()
    if not text.isdigit() or int(text) < least:
        problems.append(Problem(field, f"{text!r} is not a count", f"a whole number >= {least}"))
        return 0
    return int(text)


def parse_holdout_count(row: dict[str, str], problems: list[Problem]) -> HoldoutCount | None:
    """Validate one row of ``holdout_counts.csv`` on its own (``attach_counts`` checks it
    against its campaign)."""
    campaign = row["campaign"].strip()
    if not _SLUG.match(campaign):
        problems.append(Problem("campaign", f"{campaign!r} is not an id", "an id of campaigns.csv"))
    date = parse_date(row["date"], "date", problems)
    counts = {f: _count(row, f, problems) for f in ("holdouts", "objecting", "rivals")}
    members = _count(row, "members", problems, least=1)
    given = {
        f: _count(row, f, problems) if row[f].strip() else None
        for f in ("blocking", "blocking_objecting")
    }
    if not problems:
        if counts["holdouts"] > members:
            problems.append(
                Problem(
                    "holdouts",
                    f"{counts['holdouts']} is more than the {members} members",
                    f"at most {members}",
                )
            )
        for field, bound in (
            ("objecting", "holdouts"),
            ("rivals", "holdouts"),
            ("blocking", "holdouts"),
            ("blocking_objecting", "objecting"),
            ("blocking_objecting", "blocking"),
        ):
            value = counts.get(field, given.get(field))
            limit = counts.get(bound, given.get(bound))
            if value is not None and limit is not None and value > limit:
                problems.append(
                    Problem(field, f"{value} is more than the {limit} {bound}", f"at most {limit}")
                )
    source = required(row, "source", problems, "a URL")
    if problems:
        return None
    return HoldoutCount(
        campaign=campaign,
        date=date,
        members=members,
        source=source,
        note=row["note"].strip(),
        **counts,
        **given,
    )


def attach_counts(
    campaigns: Sequence[Campaign],
    counts: Sequence[tuple[int, HoldoutCount]],
    problems: list[Problem],
) -> tuple[Campaign, ...]:
    """Each campaign with its dated counts, checked against it.

    ``counts`` pairs each count with its row number in ``holdout_counts.csv``. A count
    must name a campaign, fall between its emergence and its outcome, and be the only
    one of its day; every campaign needs a count on its emergence day equal to its
    ``holdouts``. Problems name the file, the row and the field.
    """
    by_id = {c.id: c for c in campaigns}
    rows: dict[str, dict[dt.date, HoldoutCount]] = {c.id: {} for c in campaigns}
    file = "holdout_counts.csv"
    for number, count in counts:
        campaign = by_id.get(count.campaign)
        if campaign is None:
            problems.append(
                Problem(
                    "campaign",
                    f"{count.campaign!r} is not in campaigns.csv",
                    "an id of campaigns.csv",
                    file,
                    number,
                )
            )
            continue
        if not campaign.emerged <= count.date <= campaign.outcome_date:
            problems.append(
                Problem(
                    "date",
                    f"{count.date} is outside the campaign",
                    f"{campaign.emerged} (emerged) to {campaign.outcome_date} (outcome)",
                    file,
                    number,
                )
            )
            continue
        given = (count.blocking, count.blocking_objecting)
        if campaign.rule != "veto_group" and given != (None, None):
            problems.append(
                Problem(
                    "blocking",
                    f"is given for a campaign under {campaign.rule}, where the rule says it",
                    "empty unless the campaign's rule is veto_group",
                    file,
                    number,
                )
            )
            continue
        if campaign.rule == "unanimity":
            count = msgspec.structs.replace(
                count, blocking=count.holdouts, blocking_objecting=count.objecting
            )
        elif campaign.rule == "qualified_majority":
            count = msgspec.structs.replace(count, blocking=0, blocking_objecting=0)
        if count.date in rows[campaign.id]:
            problems.append(
                Problem(
                    "date",
                    f"a second count of {count.campaign} on {count.date}",
                    "one count per campaign and day",
                    file,
                    number,
                )
            )
            continue
        rows[campaign.id][count.date] = count
    attached = []
    for number, campaign in enumerate(campaigns, start=2):
        first = rows[campaign.id].get(campaign.emerged)
        if first is None or first.holdouts != campaign.holdouts:
            found = "none" if first is None else str(first.holdouts)
            problems.append(
                Problem(
                    "holdouts",
                    f"the count of {campaign.id} on its emergence day {campaign.emerged} in "
                    f"holdout_counts.csv is {found}",
                    f"a holdout_counts.csv row dated {campaign.emerged} with holdouts "
                    f"{campaign.holdouts}",
                    "campaigns.csv",
                    number,
                )
            )
        dated = tuple(rows[campaign.id][d] for d in sorted(rows[campaign.id]))
        attached.append(msgspec.structs.replace(campaign, counts=dated))
        stretches = len(attached[-1].holdout_path())
        if stretches > PATH_SLOTS:
            problems.append(
                Problem(
                    "date",
                    f"{campaign.id} has {stretches} counts before its outcome's day",
                    f"at most {PATH_SLOTS} (the campaign level's holdout path)",
                    file,
                )
            )
    return tuple(attached)


def known_before(campaigns: Sequence[Campaign], opened: dt.date) -> tuple[Campaign, ...]:
    """The campaigns decided before ``opened``, each with only its counts dated before
    it: the reference class a question opened that day may learn from (a question about
    2009 must not learn from 2014)."""
    return tuple(
        msgspec.structs.replace(c, counts=tuple(n for n in c.counts if n.date < opened))
        for c in campaigns
        if c.outcome_date < opened
    )


def by_rule(campaigns: Sequence[Campaign]) -> tuple[tuple[Campaign, ...], tuple[Campaign, ...]]:
    """The campaigns in which one member or a defined group could block
    (``BLOCKING_RULES``), and the others."""
    blocks = [c.rule in BLOCKING_RULES for c in campaigns]
    return (
        tuple(c for c, b in zip(campaigns, blocks, strict=True) if b),
        tuple(c for c, b in zip(campaigns, blocks, strict=True) if not b),
    )
