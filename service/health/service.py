"""Health: the database answers and takes writes (this process's and the worker's), what
is published, and how many runs wait."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from forecast import __version__
from service.common.db import Database
from service.common.errors import Unavailable
from service.common.outages import WriteStatus
from service.common.tables import RunRow
from service.common.worker_status import read_report
from service.forecasts.service import ForecastService
from service.health.schemas import HealthOut, WorkerOut

logger = logging.getLogger(__name__)


class HealthService:
    def __init__(
        self,
        database: Database,
        forecasts: ForecastService,
        writes_enabled: bool,
        write_status: WriteStatus | None = None,
        worker_status: Path | None = None,
    ):
        self.database = database
        self.forecasts = forecasts
        self.writes_enabled = writes_enabled
        self.write_status = write_status or WriteStatus(database)
        # The worker's status file (``service.common.worker_status``), if one is expected.
        self.worker_status = worker_status

    def check(self) -> HealthOut:
        """``Unavailable`` (503) when the database does not answer."""
        query = (
            select(RunRow.status, func.count())
            .where(RunRow.status.in_(("queued", "running")))
            .group_by(RunRow.status)
        )
        try:
            latest = self.forecasts.latest()
            with self.database.reader() as session:
                counts = {status: count for status, count in session.execute(query)}
        except SQLAlchemyError as exc:
            logger.error("health check: the database does not answer: %s", exc)
            raise Unavailable("the database does not answer") from None
        worker = self.worker()
        reasons = [
            None if self.writes_enabled else "FORECAST_API_TOKEN is not set",
            None
            if self.write_status.enabled()
            else f"the database cannot be written: {self.write_status.reason}",
            None
            if worker is None or worker.writes_enabled
            else f"the worker cannot write to the database: {worker.writes_reason}",
        ]
        reason = next((r for r in reasons if r is not None), None)
        return HealthOut(
            status="ok",
            version=__version__,
            database=self.database.engine.dialect.name,
            writes_enabled=reason is None,
            writes_reason=reason,
            forecast=latest,
            queued=counts.get("queued", 0),
            running=counts.get("running", 0),
            worker=worker,
        )

    def worker(self) -> WorkerOut | None:
        """The running worker's last report of its writes and its phase, or None."""
        report = None if self.worker_status is None else read_report(self.worker_status)
        if report is None:
            return None
        started = report.phase_started
        started_at = None if started is None else dt.datetime.fromtimestamp(started, dt.UTC)
        return WorkerOut(
            pid=report.pid,
            writes_enabled=report.writes_reason is None,
            writes_reason=report.writes_reason,
            reported_at=dt.datetime.fromtimestamp(report.reported_at, dt.UTC),
            phase="compiling" if report.phase == "compiling" else "ready",
            phase_started_at=started_at,
            expected_seconds=report.expected_seconds,
        )
