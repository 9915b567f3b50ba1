"""Database tables (SQLAlchemy 2 typed ORM): evidence, runs and published forecasts."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)

RUN_STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed")
RUN_TRIGGERS: tuple[str, ...] = ("evidence", "retraction", "startup", "manual")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC and read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    pass


class QuestionRow(Base):
    """The question whose records these tables hold (one row: its slug)."""

    __tablename__ = "question"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)


class EvidenceRow(Base):
    """One evidence item (shipped or posted); retraction marks it, never deletes it."""

    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ally: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(32))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    reliability: Mapped[float] = mapped_column(Float)
    severity: Mapped[int | None] = mapped_column(Integer)
    grievance: Mapped[str | None] = mapped_column(String(64))
    meeting_date: Mapped[dt.date | None] = mapped_column(Date)  # kind "meeting" only
    origin: Mapped[str] = mapped_column(String(16))  # "shipped" (data/) or "posted"
    run_id: Mapped[str | None] = mapped_column(String(32))  # the run queued for it
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    retracted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def retracted(self) -> bool:
        """Whether the item is retracted (it is kept, and listed as such)."""
        return self.retracted_at is not None


class RunRow(Base):
    """A fit at one cut-off: queued by the API, claimed and finished by the worker."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_status_requested", "status", "requested_at"),
        # The newest live run (freshness of the live forecast, on every GET /forecast).
        Index("ix_runs_live_requested", "live", "requested_at", "id"),
        # At most one queued live run: concurrent evidence posts coalesce onto it.
        Index(
            "uq_runs_one_queued_live",
            "live",
            unique=True,
            sqlite_where=text("status = 'queued' AND live"),
            postgresql_where=text("status = 'queued' AND live"),
        ),
        # One queued manual run per cut-off and seed: a repeated POST /runs joins it.
        Index(
            "uq_runs_one_queued_manual",
            "as_of",
            "seed",
            unique=True,
            sqlite_where=text("status = 'queued' AND NOT live"),
            postgresql_where=text("status = 'queued' AND NOT live"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[dt.date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    live: Mapped[bool] = mapped_column(Boolean)  # follows the evidence (vs a fixed cut-off)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    evidence_ids: Mapped[list[str] | None] = mapped_column(JSON)
    diagnostics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))  # "host:pid" of the claimant
    # The claimant's lease: renewed while it fits; a run whose lease lapsed is taken back
    # (``service.runs.leases``).
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ForecastRow(Base):
    """A published forecast: the GET /forecast document of a succeeded run, as JSON text."""

    __tablename__ = "forecasts"
    __table_args__ = (Index("ix_forecasts_latest", "as_of", "published_at", "run_id"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    document: Mapped[str] = mapped_column(Text)
    # What changed since the forecast it replaced (service.publication.replacement's
    # difference); null for forecasts published before it was recorded.
    change: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set by DELETE /runs/{id}: the forecast is kept but served nowhere; ``withdrawal`` is
    # the change that made (back to the forecast served in its place).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
