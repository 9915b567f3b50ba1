"""Health: the database answers, what is published, and how many runs wait."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from forecast import __version__
from service.common.db import Database
from service.common.errors import Unavailable
from service.common.outages import WriteStatus
from service.common.schemas import HealthOut
from service.common.tables import RunRow
from service.forecasts.service import ForecastService

logger = logging.getLogger(__name__)


class HealthService:
    def __init__(
        self,
        database: Database,
        forecasts: ForecastService,
        writes_enabled: bool,
        write_status: WriteStatus | None = None,
    ):
        self.database = database
        self.forecasts = forecasts
        self.writes_enabled = writes_enabled
        self.write_status = write_status or WriteStatus(database)

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
        writable = self.write_status.enabled()
        reason = None if writable else f"the database cannot be written: {self.write_status.reason}"
        if not self.writes_enabled:
            reason = "FORECAST_API_TOKEN is not set"
        return HealthOut(
            status="ok",
            version=__version__,
            database=self.database.engine.dialect.name,
            writes_enabled=self.writes_enabled and writable,
            writes_reason=reason,
            forecast=latest,
            queued=counts.get("queued", 0),
            running=counts.get("running", 0),
        )
