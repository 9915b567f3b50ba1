"""Request and response bodies of /runs (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from msgspec import Meta, Struct

from service.common.schemas import VALID, RunStatus

logger = logging.getLogger(__name__)


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
