"""Health: the database answers, what is published, and how many runs wait."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from forecast import __version__
from service.common.db import Database
from service.common.errors import Unavailable
from service.common.schemas import HealthOut
from service.common.tables import RunRow
from service.forecasts.service import ForecastService

logger = logging.getLogger(__name__)


class HealthService:
    def __init__(self, database: Database, forecasts: ForecastService, writes_enabled: bool):
        self.database = database
        self.forecasts = forecasts
        self.writes_enabled = writes_enabled

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
        return HealthOut(
            status="ok",
            version=__version__,
            database=self.database.engine.dialect.name,
            writes_enabled=self.writes_enabled,
            forecast=latest,
            queued=counts.get("queued", 0),
            running=counts.get("running", 0),
        )
