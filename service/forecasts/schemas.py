"""Response bodies of /forecast, its history and changes (msgspec structs; the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from msgspec import Meta, Struct

from forecast.posterior.schema import ForecastDocument
from service.common.schemas import EvidenceKind

logger = logging.getLogger(__name__)


class PendingRun(Struct, kw_only=True):
    run_id: str
    status: Literal["queued", "running"]


class FailedRun(Struct, kw_only=True):
    run_id: str
    reason: Annotated[str, Meta(description="The gate's reason, or the error's type")]
    finished_at: dt.datetime | None


class Freshness(Struct, kw_only=True):
    """Whether the live forecast reflects every stored evidence item (and, on the live
    clock, today), and if not why; and how old its cut-off is."""

    up_to_date: bool
    pending_evidence: Annotated[
        list[str],
        Meta(description="Ids of items stored (or retracted) since the live forecast's run"),
    ]
    pending_run: Annotated[
        PendingRun | None, Meta(description="The run queued or fitting for them")
    ] = None
    failed_run: Annotated[
        FailedRun | None,
        Meta(description="The newest run for them, when it failed (the gate's reason)"),
    ] = None
    clock: Annotated[
        str,
        Meta(
            description="How the live cut-off moves: 'evidence' (a replay: the newest "
            "evidence date) or 'live' (a question still open: today in UTC, so that "
            "silence counts; behind, and not up to date, once the day has moved)"
        ),
    ] = "evidence"
    cut_off_age_days: Annotated[
        int | None,
        Meta(description="Days from the live forecast's cut-off to today in UTC"),
    ] = None


class ForecastOut(ForecastDocument, kw_only=True):
    """The published forecast (``by`` deadlines are keyed ``by_YYYY-MM-DD``), with its
    freshness: the document a run stored, and whether newer evidence awaits a run."""

    freshness: Freshness


class HistoryRow(Struct, kw_only=True):
    """One published run: P(confirmed) per deadline key, with its 94% interval."""

    as_of: dt.date
    run_id: str
    published_at: dt.datetime
    p_confirmed: dict[str, float]
    interval: dict[str, list[float]]
    changes: Annotated[str, Meta(description="What changed with this run (GET it)")]


class ProbabilityChange(Struct, kw_only=True):
    before: Annotated[float | None, Meta(description="None: no forecast before")]
    after: Annotated[
        float | None, Meta(description="None: a withdrawal left no forecast at its cut-off")
    ]
    delta: float | None


class DeadlineChange(ProbabilityChange, kw_only=True):
    key: str


class AllyChange(ProbabilityChange, kw_only=True):
    """An ally's P(ever endorses), before and after."""

    code: str
    name: str


class ChangedEvidence(Struct, kw_only=True):
    id: str
    change: Literal["added", "retracted"]
    ally: str
    kind: EvidenceKind
    date: dt.date
    source: str
    summary: str


class ChangeOut(Struct, kw_only=True):
    """A published run and what changed since the forecast it replaced; or (``event``
    ``withdrawn``) a run's withdrawal and what changed back."""

    run_id: str
    as_of: dt.date
    published_at: dt.datetime
    previous_run_id: Annotated[str | None, Meta(description="None for the first forecast")]
    added: Annotated[list[str], Meta(description="Ids of evidence this run has, the other not")]
    retracted: Annotated[list[str], Meta(description="Ids of evidence retracted since")]
    evidence: Annotated[list[ChangedEvidence], Meta(description="Those items, with sources")]
    deadlines: list[DeadlineChange]
    p_ever_confirmed: ProbabilityChange
    allies: Annotated[list[AllyChange], Meta(description="The allies that moved most")]
    event: Annotated[
        Literal["published", "withdrawn"],
        Meta(
            description="`withdrawn`: the run's forecast was withdrawn; `previous_run_id` is that "
            "run, the probabilities move to those of `restored_run_id`, served in its place"
        ),
    ] = "published"
    withdrawn_at: Annotated[
        dt.datetime | None, Meta(description="When the run's forecast was withdrawn, if it was")
    ] = None
    restored_run_id: Annotated[
        str | None, Meta(description="The forecast served in place of a withdrawn one")
    ] = None


class PublishedRef(Struct, kw_only=True):
    run_id: str
    as_of: dt.date
    published_at: dt.datetime
