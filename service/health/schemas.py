"""Response body of /health (msgspec structs; they are the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from msgspec import Meta, Struct

from service.forecasts.schemas import PublishedRef

logger = logging.getLogger(__name__)


class WorkerOut(Struct, kw_only=True):
    """The worker's last report of its database writes (``service.common.worker_status``)."""

    pid: int
    writes_enabled: bool
    writes_reason: str | None = None
    reported_at: dt.datetime
    phase: Annotated[
        Literal["compiling", "ready"],
        Meta(description="compiling the model (no run is fitted meanwhile) or ready for runs"),
    ] = "ready"
    phase_started_at: Annotated[
        dt.datetime | None, Meta(description="When the compile began, while compiling")
    ] = None
    expected_seconds: Annotated[
        float | None,
        Meta(description="How long the compile is expected to take: the last one's time"),
    ] = None


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
