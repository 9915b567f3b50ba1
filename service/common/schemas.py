"""Request and response bodies of the HTTP API (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from forecast.data.records import (
    EVIDENCE_FIELDS,
    EVIDENCE_KINDS,
    MAX_SOURCE_CHARS,
    MAX_SUMMARY_CHARS,
)
from forecast.posterior.schema import (
    AllyForecast,
    ForecastDocument,
)

logger = logging.getLogger(__name__)

# What each request field or query parameter accepts: shown in the OpenAPI schema and as
# the ``valid`` of a problem that names the field.
VALID: dict[str, str] = {
    "body": "a JSON object with the fields " + ", ".join(EVIDENCE_FIELDS),
    "ally": "an ally's ISO 3166-1 alpha-2 code (GET /allies)",
    "kind": ", ".join(EVIDENCE_KINDS),
    "date": "the day the fact became public, as YYYY-MM-DD, not after today",
    "source": (
        "an absolute http(s) URL (https://host/...) or a citation without a scheme (a seed "
        f"file's name, 'Reuters, 22 Feb 2024'), at most {MAX_SOURCE_CHARS} characters"
    ),
    "summary": f"what happened, at most {MAX_SUMMARY_CHARS} characters",
    "reliability": "a number in (0, 1]: 1 for a public, named statement (the default)",
    "severity": "1 (minor), 2 (serious), 3 (blocking); only for kind 'grievance'",
    "grievance": (
        "the id of a recorded grievance (GET /allies/{code}) or of a posted grievance "
        "(GET /evidence); only for kind 'grievance_resolved'"
    ),
    "meeting_date": (
        "the first day of the meeting announced on the item's date, as YYYY-MM-DD, after "
        "that date; only for kind 'meeting' (it joins the calendar's fixed dates)"
    ),
    "as_of": "a cut-off date as YYYY-MM-DD",
    "seed": f"an integer from 0 to {2**32 - 1}",
    "by": "extra deadlines as YYYY-MM-DD, comma-separated, e.g. 2024-03-15,2024-04-30",
    "assume": "what-if outcomes CODE:OUTCOME, comma-separated, OUTCOME endorsed or opposed",
    "limit": "an integer from 1 to 500",
    "cursor": "the cursor of the next page, from the Link header of the previous one",
    "status": "queued, running, succeeded, failed",
    "include_retracted": "true or false",
}

EvidenceKind = Literal[EVIDENCE_KINDS]  # type: ignore[valid-type]
RunStatus = Literal["queued", "running", "succeeded", "failed"]


class ProblemError(Struct, frozen=True):
    """One field of the request that is wrong, and what it accepts."""

    field: str
    message: str
    valid: str = ""


class Problem(Struct, kw_only=True):
    """An error answer (RFC 9457 problem details) with the fields at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str = ""
    errors: list[ProblemError] = msgspec.field(default_factory=list)


class EvidenceIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A piece of evidence: the same fields as a row of ``data/evidence.csv``."""

    ally: Annotated[str, Meta(description=VALID["ally"], examples=["HU"])]
    kind: Annotated[EvidenceKind, Meta(description="One of: " + VALID["kind"])]
    date: Annotated[dt.date, Meta(description=VALID["date"])]
    source: Annotated[str, Meta(description=VALID["source"], max_length=MAX_SOURCE_CHARS)]
    summary: Annotated[str, Meta(description=VALID["summary"], max_length=MAX_SUMMARY_CHARS)]
    reliability: Annotated[float, Meta(gt=0.0, le=1.0, description=VALID["reliability"])] = 1.0
    severity: Annotated[Literal[1, 2, 3] | None, Meta(description=VALID["severity"])] = None
    grievance: Annotated[str | None, Meta(description=VALID["grievance"])] = None
    meeting_date: Annotated[dt.date | None, Meta(description=VALID["meeting_date"])] = None


class EvidencePosted(Struct, kw_only=True):
    """Where a posted item went: ``created``, a ``duplicate`` or ``restored`` (was retracted)."""

    evidence_id: str
    run_id: str | None
    stored: Literal["created", "duplicate", "restored"]


class EvidenceOut(Struct, kw_only=True):
    """A stored evidence item; retracted items are kept and flagged."""

    id: str
    ally: str
    kind: EvidenceKind
    date: dt.date
    source: str
    summary: str
    reliability: float
    severity: int | None
    grievance: str | None
    meeting_date: dt.date | None
    origin: Literal["shipped", "posted"]
    created_at: dt.datetime
    retracted: bool
    retracted_at: dt.datetime | None
    run_id: str | None


class EvidenceRetracted(Struct, kw_only=True):
    """A retraction and the rerun it queued."""

    evidence_id: str
    retracted_at: dt.datetime
    run_id: str | None


class RunIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """A fit at a fixed cut-off."""

    as_of: Annotated[
        dt.date,
        Meta(description="Cut-off date, from the campaign start to today in UTC"),
    ]
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1, description=VALID["seed"])] | None = None


class RunOut(Struct, kw_only=True):
    """A run and what it produced."""

    id: str
    status: RunStatus
    as_of: dt.date
    seed: int
    trigger: str
    live: bool
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int
    evidence_ids: list[str] | None
    diagnostics: dict[str, Any] | None
    timings: dict[str, Any] | None
    error: str | None
    published: Annotated[bool, Meta(description="Its forecast is served (not withdrawn)")]
    withdrawn_at: Annotated[
        dt.datetime | None, Meta(description="When its forecast was withdrawn (DELETE /runs/{id})")
    ] = None


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


class GrievanceOut(Struct, kw_only=True):
    id: str
    holder: str
    summary: str
    severity: int
    recorded: dt.date
    resolved: dt.date | None
    source: str


class AllyOut(Struct, kw_only=True):
    """An ally, with its entry in the live forecast once one is published."""

    code: str
    name: str
    member_since: dt.date | None
    blocs: list[str]
    spending_pct_gdp: float | None
    spending_source: str
    source: str
    forecast: AllyForecast | None = None


class AllyDetail(AllyOut, kw_only=True):
    """An ally with the grievances it holds (own or its blocs') and its evidence."""

    grievances: list[GrievanceOut] = msgspec.field(default_factory=list)
    evidence: list[EvidenceOut] = msgspec.field(default_factory=list)


class PublishedRef(Struct, kw_only=True):
    run_id: str
    as_of: dt.date
    published_at: dt.datetime


class WorkerOut(Struct, kw_only=True):
    """The worker's last report of its database writes (``service.common.worker_status``)."""

    pid: int
    writes_enabled: bool
    writes_reason: str | None = None
    reported_at: dt.datetime


class HealthOut(Struct, kw_only=True):
    status: Literal["ok"]
    version: str
    database: str
    # False when writes are refused or would not be published: no token configured, or
    # the database cannot be written by this process or by the worker.
    writes_enabled: bool
    writes_reason: str | None = None
    forecast: PublishedRef | None
    queued: int
    running: int
    # None when no worker is running (or it has not reported yet).
    worker: WorkerOut | None = None
