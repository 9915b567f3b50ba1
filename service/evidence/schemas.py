"""Request and response bodies of /evidence (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from msgspec import Meta, Struct

from forecast.data.records import MAX_SOURCE_CHARS, MAX_SUMMARY_CHARS
from service.common.schemas import VALID, EvidenceKind

logger = logging.getLogger(__name__)


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
