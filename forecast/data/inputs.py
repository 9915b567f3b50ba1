"""The model's input frame: one row per ally, covariates and outcomes as of a cut-off date."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import msgspec
import numpy as np
import pandas as pd

from forecast.data.dataset import Dataset
from forecast.data.question import Question
from forecast.data.records import EvidenceItem, Problem, ValidationError
from forecast.data.reference import (
    CALENDAR_SLOTS,
    CAMPAIGN_COVARIATES,
    PATH_SLOTS,
    Campaign,
    endgame_day,
)

logger = logging.getLogger(__name__)

# Fixed columns of the frame, in order; the model reads nothing else.
FRAME_COLUMNS: tuple[str, ...] = (
    "member",
    "status",
    "spending_z",
    "spending_imputed",
    "grievance",
    "rival",
    "objection",
    "event",
    "event_day",
    "reliability",
    "censor_day",
    "wave",
)
STATUSES: tuple[str, ...] = ("endorsed", "undecided", "opposed", "not_member")
# A day on which at least this many members endorse publicly is a coordinated
# announcement (a wave): it says each had decided by then, not when (the CDF), as the
# aggregate reports do. Read as decisions within the week before, a wave of twenty pulled
# the timing spread towards zero and the sampler diverged.
WAVE_SIZE = 4
# Endorsements on or before this day of the campaign are the sponsor's own.
SPONSOR_DAY = 1.0


class SpendingScale(msgspec.Struct, frozen=True):
    """Standardisation of defence spending, fixed at fit time and stored with the run."""

    mean: float
    sd: float


class CampaignState(msgspec.Struct, frozen=True, kw_only=True):
    """The campaign as a whole at a cut-off, in the reference class's terms.

    ``covariates`` follow ``forecast.model.CAMPAIGN_COVARIATES`` (each in [0, 1], weighted by
    the reliability of the evidence behind it); ``emerged_offset`` is the day the
    front-runner emerged, counted from the campaign start (the endgame's clock starts
    there); ``elapsed`` the days from emergence to the end of the cut-off; ``withdrawn``
    whether the sponsor has withdrawn the candidate by then (the campaign is over).
    ``holdouts`` counts the members holding out at the cut-off, as the reference class
    counts them at emergence (``holdouts``); ``calendar_days`` are the question's fixed
    dates on the endgame's clock (days from emergence to the end of each date).
    ``path`` is how the campaign got here, as ``(days, holdouts, rival)``: the days from
    emergence to the cut-off spent with each number of holdouts and rival candidacy
    (``holdout_path``; the endgame's clock runs slower with more holdouts).
    """

    covariates: tuple[float, ...]
    emerged_offset: float
    elapsed: float
    withdrawn: bool
    holdouts: int = 0
    calendar_days: tuple[float, ...] = ()
    path: tuple[tuple[float, float, float], ...] = ()

    @property
    def rival(self) -> float:
        """A member's standing rival candidacy (the endgame's covariate as well)."""
        return self.covariates[CAMPAIGN_COVARIATES.index("rival_candidacy")]


class ModelInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What the model is conditioned on at one cut-off.

    ``frame`` has one row per ally (index ``code``) and the columns of ``FRAME_COLUMNS``;
    ``blocs`` is the ally-by-bloc membership matrix (0/1). Days count from the campaign
    start: ``event_day`` is the endorsement day (mid-day), ``censor_day`` the end of ``as_of``.
    """

    as_of: dt.date
    campaign_start: dt.date
    frame: pd.DataFrame
    blocs: pd.DataFrame
    spending_scale: SpendingScale
    evidence_ids: tuple[str, ...]
    campaign: CampaignState
    # The reference class and the organisation of the current campaign (fixed per dataset).
    reference: tuple[Campaign, ...]
    organisation: str

    def day(self, date: dt.date) -> float:
        """Days from the campaign start to the end of ``date`` (a deadline counts whole)."""
        return float((date - self.campaign_start).days + 1)


def spending_scale(dataset: Dataset) -> SpendingScale:
    """Mean and sd of the published spending figures (allies without one are left out).

    With fewer than two distinct figures spending cannot be standardised: every member's
    standardised spending is then 0 (as for a member without a figure), so spending says
    nothing about that question's members.
    """
    values = np.array([a.spending_pct_gdp for a in dataset.allies if a.spending_pct_gdp])
    if values.size < 2 or float(values.std(ddof=1)) == 0.0:
        logger.warning(
            "%d spending figure(s) in allies.csv: spending is left out of this question",
            values.size,
        )
        return SpendingScale(float(values.mean()) if values.size else 0.0, float("inf"))
    return SpendingScale(float(values.mean()), float(values.std(ddof=1)))


def setup_frame(
    dataset: Dataset,
    evidence: Iterable[EvidenceItem],
    as_of: dt.date,
    scale: SpendingScale | None = None,
) -> ModelInputs:
    """Build the model's input frame at ``as_of`` from the dataset and the evidence log.

    Only evidence dated on or before ``as_of`` is used; silence until ``as_of`` is
    evidence too (undecided allies are censored there).

    Parameters
    ----------
    dataset
        The validated shipped data (allies, blocs, grievances, question).
    evidence
        Evidence items (shipped and posted), in any order; retracted items left out.
    as_of
        The cut-off date.
    scale
        Spending standardisation to reuse (a stored fit's); computed from the data if None.

    Returns
    -------
    ModelInputs

    Raises
    ------
    ValidationError
        If ``as_of`` is before the campaign start.
    """
    start = dataset.question.campaign_start
    if as_of < start:
        raise ValidationError(
            [Problem("as_of", f"{as_of} is before the campaign start", f"on or after {start}")]
        )
    used = sorted((e for e in evidence if e.date <= as_of), key=lambda e: (e.date, e.id))
    scale = scale or spending_scale(dataset)
    history = _History(dataset, used)
    rows = []
    for ally in dataset.allies:
        rows.append(_row(ally.code, history, dataset, as_of, scale))
    frame = pd.DataFrame(rows, index=pd.Index(dataset.codes, name="code"))[list(FRAME_COLUMNS)]
    frame["censor_day"] = float((as_of - start).days + 1)
    frame["wave"] = mark_waves(frame)
    bloc_keys = [b.key for b in dataset.blocs]
    blocs = pd.DataFrame(
        [[float(k in a.blocs) for k in bloc_keys] for a in dataset.allies],
        index=frame.index,
        columns=pd.Index(bloc_keys, name="bloc"),
    )
    numeric = frame.drop(columns=["status"]).astype(float).to_numpy()
    if not np.isfinite(numeric).all():
        raise ValueError("input frame has a NaN or infinite value")
    return ModelInputs(
        as_of=as_of,
        campaign_start=start,
        frame=frame,
        blocs=blocs,
        spending_scale=scale,
        evidence_ids=tuple(e.id for e in used),
        campaign=_campaign_state(history, dataset, frame, as_of),
        reference=dataset.campaigns,
        organisation=dataset.question.organisation,
    )


def mark_waves(frame: pd.DataFrame) -> np.ndarray:
    """1 for a public endorsement announced on a day with ``WAVE_SIZE`` or more of them."""
    public = (
        (frame["event"] > 0)
        & (frame["reliability"] >= 1.0)
        & (frame["member"] > 0)
        & (frame["event_day"] > SPONSOR_DAY)
    )
    counts = frame.loc[public, "event_day"].value_counts()
    size = frame["event_day"].map(counts).fillna(0.0)
    return (public & (size >= WAVE_SIZE)).to_numpy(float)


def _campaign_state(
    history: _History, dataset: Dataset, frame: pd.DataFrame, as_of: dt.date
) -> CampaignState:
    """The campaign-level covariates at ``as_of`` (the reference class has them at emergence).

    All the largest members backing: the least reliable of their endorsements (0 if one
    has none); a heavyweight's objection: the most reliable open objection among them; a
    rival candidacy: the most reliable one standing among the members; a blocking
    objection: the most reliable open objection among the members (under unanimity, the
    only rule a question may have, every member can block).
    """
    question = dataset.question
    largest = frame.loc[list(question.largest_members)]
    backed = float(np.min(np.where(largest["event"] > 0, largest["reliability"], 0.0)))
    heavyweight = float(largest["objection"].max())
    members = frame[frame["member"] > 0]
    holdouts, rival = endgame_state(members)
    covariates = {
        "all_largest_backed": backed,
        "heavyweight_objection": heavyweight,
        "rival_candidacy": rival,
        "blocking_objection": float(members["objection"].max()) if len(members) else 0.0,
    }
    return CampaignState(
        path=holdout_path(history, dataset, as_of),
        covariates=tuple(covariates[k] for k in CAMPAIGN_COVARIATES),
        emerged_offset=float((question.emerged - question.campaign_start).days),
        elapsed=endgame_day(question.emerged, as_of),
        withdrawn=bool(history.items(question.sponsor, "withdrawal", as_of)),
        holdouts=holdouts,
        calendar_days=tuple(
            endgame_day(question.emerged, d) for d in calendar_dates(history, question, as_of)
        ),
    )


def calendar_dates(history: _History, question: Question, as_of: dt.date) -> tuple[dt.date, ...]:
    """The fixed dates known at ``as_of``: the question's calendar and the meetings
    announced by evidence of kind ``meeting`` dated on or before it (each from the day it
    was announced), in date order. Beyond ``CALENDAR_SLOTS`` dates, those nearest the
    cut-off are kept (a date long past or far ahead says least about the days ahead)."""
    dates = {c.date for c in question.calendar}
    dates |= {e.meeting_date for e in history.all_items("meeting", as_of)}
    if len(dates) > CALENDAR_SLOTS:
        kept = sorted(dates, key=lambda d: (abs((d - as_of).days), d))[:CALENDAR_SLOTS]
        logger.warning(
            "%d fixed dates known at %s; the %d nearest are modelled: %s",
            len(dates),
            as_of,
            CALENDAR_SLOTS,
            ", ".join(d.isoformat() for d in sorted(kept)),
        )
        dates = set(kept)
    return tuple(sorted(dates))


def holdout_path(
    history: _History, dataset: Dataset, as_of: dt.date
) -> tuple[tuple[float, float, float], ...]:
    """The days from emergence to the end of ``as_of`` spent in each state of the
    campaign, ``(days, holdouts, rival)``, the states in order of first appearance.

    The state (the holdouts counted by ``holding_out``, the most reliable standing rival
    candidacy) is read on the emergence day and on every later day on which something
    on record changed: an evidence item, a grievance recorded or resolved, an accession.
    A day's state holds from its start, as a past campaign's dated count does
    (``Campaign.holdout_path``). Beyond ``PATH_SLOTS`` states, each state after the
    first ``PATH_SLOTS - 1`` joins the kept state nearest it in holdouts (the clock's
    rate differs little between neighbours; a path that long is not in the reference
    class).
    """
    question = dataset.question
    emerged = question.emerged
    if as_of < emerged:
        return ()
    changes = {e.date for items in history.by_ally.values() for e in items}
    changes |= {d for _, _, recorded, resolved in history.grievances for d in (recorded, resolved)}
    changes |= {a.member_since for a in dataset.allies if a.member_since is not None}
    days = [emerged, *sorted(d for d in changes if d is not None and emerged < d <= as_of)]
    ends = [*((d - emerged).days for d in days[1:]), endgame_day(emerged, as_of)]
    spent: dict[tuple[float, float], float] = {}
    for day, start, end in zip(days, [0, *ends[:-1]], ends, strict=True):
        state = _state_on(history, dataset, day)
        spent[state] = spent.get(state, 0.0) + float(end - start)
    kept = list(spent)[: PATH_SLOTS - 1]
    for state in list(spent)[PATH_SLOTS - 1 :]:
        nearest = min(kept, key=lambda k: (abs(k[0] - state[0]), abs(k[1] - state[1])))
        spent[nearest] += spent.pop(state)
    return tuple((days_in, holdouts, rival) for (holdouts, rival), days_in in spent.items())


def _state_on(history: _History, dataset: Dataset, day: dt.date) -> tuple[float, float]:
    """(holdouts, rival) on ``day`` (``endgame_state``)."""
    scale = SpendingScale(0.0, 1.0)  # spending does not enter the state
    frame = pd.DataFrame([_row(a.code, history, dataset, day, scale) for a in dataset.allies])
    holdouts, rival = endgame_state(frame[frame["member"] > 0])
    return float(holdouts), rival


def endgame_state(members: pd.DataFrame) -> tuple[int, float]:
    """The members' state the endgame reads: how many hold out (``holdout_count``) and
    the most reliable standing rival candidacy among them."""
    rival = float(members["rival"].max()) if len(members) else 0.0
    return holdout_count(members), rival


def holdout_count(members: pd.DataFrame) -> int:
    """Members holding out at the cut-off, counted as ``campaigns.csv`` counts them
    (``holding_out``)."""
    return int(holding_out(members).sum())


# A member's reasons to hold out, by the frame's column that records each.
HOLDOUT_REASONS: dict[str, str] = {
    "grievance": "an open grievance (its own or its bloc's)",
    "rival": "a rival candidacy",
    "objection": "a public objection",
}


def holding_out(frame: pd.DataFrame) -> pd.Series:
    """Per ally, whether it holds out at the cut-off: a member reported undecided or
    opposed, with a reason on record (no report of support, and an open grievance of its
    own or its bloc's, a standing rival candidacy or an open objection). Silence alone is
    not holding out (data/README.md)."""
    reason = (frame[list(HOLDOUT_REASONS)] > 0).any(axis=1)
    return (frame["member"] > 0) & (frame["event"] == 0) & reason


def holdout_reasons(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Per ally, its reasons on record to hold out (``HOLDOUT_REASONS``' words), empty
    for an ally that does not hold out (``holding_out``)."""
    out = holding_out(frame)
    return [
        tuple(text for column, text in HOLDOUT_REASONS.items() if row[column] > 0)
        if out[code]
        else ()
        for code, row in frame.iterrows()
    ]


class _History:
    """The evidence log indexed for "what was true of ally X on day D" questions."""

    def __init__(self, dataset: Dataset, evidence: list[EvidenceItem]):
        self.dataset = dataset
        self.by_ally: dict[str, list[EvidenceItem]] = {}
        for item in evidence:
            self.by_ally.setdefault(item.ally, []).append(item)
        resolved = {e.grievance: e.date for e in evidence if e.kind == "grievance_resolved"}
        # (holder, severity weight, recorded, resolved)
        self.grievances: list[tuple[str, float, dt.date, dt.date | None]] = []
        for g in dataset.grievances:
            ends = [d for d in (g.resolved, resolved.get(g.id)) if d is not None]
            self.grievances.append((g.ally, float(g.severity), g.recorded, min(ends, default=None)))
        for e in evidence:
            if e.kind == "grievance":
                weight = float(e.severity) * e.reliability
                self.grievances.append((e.ally, weight, e.date, resolved.get(e.id)))

    def all_items(self, kind: str, day: dt.date) -> list[EvidenceItem]:
        """Items of ``kind`` dated on or before ``day``, whichever ally they name."""
        return [
            e for items in self.by_ally.values() for e in items if e.kind == kind and e.date <= day
        ]

    def items(self, code: str, kind: str, day: dt.date) -> list[EvidenceItem]:
        return [e for e in self.by_ally.get(code, []) if e.kind == kind and e.date <= day]

    def member(self, code: str, day: dt.date) -> bool:
        since = self.dataset.ally(code).member_since
        return (since is not None and since <= day) or bool(self.items(code, "accession", day))

    def grievance(self, code: str, blocs: tuple[str, ...], day: dt.date) -> float:
        """Severity of the worst grievance open on ``day``, own or bloc-wide.

        The maximum, not the sum: overlapping complaints from one ally (several bloc-wide
        irritants) are one reservation, not additive vetoes.
        """
        holders = {code, *blocs}
        return max(
            (
                weight
                for holder, weight, recorded, resolved in self.grievances
                if holder in holders and recorded <= day and (resolved is None or resolved > day)
            ),
            default=0.0,
        )

    def rival(self, code: str, day: dt.date) -> float:
        """Reliability of a rival candidacy by this ally still standing on ``day``."""
        withdrawn = max((e.date for e in self.items(code, "withdrawal", day)), default=None)
        standing = [
            e.reliability
            for e in self.items(code, "candidacy", day)
            if withdrawn is None or e.date > withdrawn
        ]
        return max(standing, default=0.0)

    def objection(self, code: str, day: dt.date) -> float:
        """Reliability of an objection not since answered by an endorsement."""
        endorsed = max((e.date for e in self.items(code, "endorsement", day)), default=None)
        open_ = [
            e.reliability
            for e in self.items(code, "objection", day)
            if endorsed is None or e.date > endorsed
        ]
        return max(open_, default=0.0)

    def endorsement(self, code: str, day: dt.date) -> tuple[dt.date, float] | None:
        """Date and combined reliability of the endorsement reports so far.

        Independent reports combine as P(at least one is true) = 1 - prod(1 - r); the
        date is that of the most reliable report (the earliest among equals).
        """
        reports = self.items(code, "endorsement", day)
        if not reports:
            return None
        best = min(reports, key=lambda e: (-e.reliability, e.date))
        combined = 1.0 - float(np.prod([1.0 - e.reliability for e in reports]))
        return best.date, combined


def _row(
    code: str, history: _History, dataset: Dataset, as_of: dt.date, scale: SpendingScale
) -> dict[str, object]:
    ally = dataset.ally(code)
    endorsement = history.endorsement(code, as_of)
    if endorsement and history.objection(code, as_of) >= endorsement[1]:
        # A reversal: an objection dated after the member's last endorsement report
        # (``_History.objection`` counts only those), and at least as reliable as the
        # reports of support, withdraws that support from its day. A less reliable one
        # (a rumour against a public statement) leaves the endorsement standing.
        endorsement = None
    # Covariates are read on the day that matters: the endorsement day for allies that
    # endorsed, the cut-off for the rest (dated covariates switch on and off).
    day = endorsement[0] if endorsement else as_of
    member = history.member(code, as_of)
    objection = history.objection(code, as_of)
    if not member:
        status = "not_member"
    elif endorsement and endorsement[1] >= 1.0:
        status = "endorsed"
    elif objection > 0:
        status = "opposed"
    else:
        status = "undecided"
    spending = ally.spending_pct_gdp
    start = dataset.question.campaign_start
    return {
        "member": float(member),
        "status": status,
        # No published figure (Iceland has no armed forces): imputed at the allies' mean.
        "spending_z": 0.0 if spending is None else (spending - scale.mean) / scale.sd,
        "spending_imputed": float(spending is None),
        "grievance": history.grievance(code, ally.blocs, day),
        "rival": history.rival(code, day),
        "objection": history.objection(code, day),
        "event": float(endorsement is not None),
        "event_day": (max((endorsement[0] - start).days, 0) + 0.5) if endorsement else 1.0,
        "reliability": endorsement[1] if endorsement else 1.0,
        "censor_day": 0.0,
        "wave": 0.0,
    }
