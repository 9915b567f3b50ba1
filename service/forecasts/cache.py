"""Published documents kept in memory by run id, and the bytes served with their freshness."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import select

from forecast.data.clock import today
from forecast.lru import Lru
from forecast.posterior.schema import AllyForecast
from service.common.db import Database
from service.common.errors import NotFound
from service.common.tables import ForecastRow
from service.forecasts.freshness import freshness, with_freshness
from service.forecasts.schemas import Freshness

logger = logging.getLogger(__name__)

CACHE_SIZE = 64
# Summaries are small (deadlines and allies): enough for several pages of the history.
SUMMARY_CACHE_SIZE = 4096


class View(NamedTuple):
    """A forecast document as served: its bytes and their ETag."""

    run_id: str
    body: bytes
    etag: str


def view_of(run_id: str, body: bytes) -> View:
    """The view of ``body``: its ETag is a hash of the bytes."""
    return View(run_id, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class SummaryDeadline(msgspec.Struct):
    key: str
    date: dt.date
    p_confirmed: float
    interval: list[float]


class Summary(msgspec.Struct):
    """The parts of a stored document that the history, ally and what-if routes read."""

    as_of: dt.date
    deadlines: list[SummaryDeadline]
    allies: list[AllyForecast]


class Documents:
    """Published documents by run id: the stored bytes and their summary.

    A forecast never changes once published, so nothing here is ever invalidated.
    """

    def __init__(self, database: Database):
        self.database = database
        self._views: Lru[str, View] = Lru(CACHE_SIZE)
        self._summaries: Lru[str, Summary] = Lru(SUMMARY_CACHE_SIZE)

    def view(self, run_id: str) -> View:
        """The run's stored document; ``NotFound`` for a run that published none."""
        return self._views.get_or(run_id, lambda: self._load(run_id))

    def summary(self, run_id: str) -> Summary:
        """The cut-off, deadlines and allies of the run's document."""
        return self._summaries.get_or(
            run_id, lambda: msgspec.json.decode(self.view(run_id).body, type=Summary)
        )

    def _load(self, run_id: str) -> View:
        with self.database.reader() as session:
            document = session.scalar(
                select(ForecastRow.document).where(ForecastRow.run_id == run_id)
            )
        if document is None:
            raise NotFound(f"run {run_id} published no forecast")
        return view_of(run_id, document.encode())


class ServedViews:
    """The bytes GET /forecast answers with: a run's stored document with the freshness of
    the live forecast, kept by (run id, live run id, freshness token, today's date: the
    cut-off's age and, on the live clock, whether it is behind change with the day)."""

    def __init__(self, database: Database, clock: str = "evidence"):
        self.database = database
        self.clock = clock
        self._served: Lru[tuple[Any, ...], tuple[View, Freshness]] = Lru(CACHE_SIZE)

    def peek_live(self, live_id: str, token: tuple[Any, ...]) -> View | None:
        """The live forecast as served, if it is cached for this token (never computes)."""
        served = self._served.peek((live_id, live_id, token, today()))
        return served[0] if served is not None else None

    def get(self, stored: View, live_id: str, token: tuple[Any, ...]) -> tuple[View, Freshness]:
        """``stored`` with the live forecast's freshness (read once per token and day)."""

        def serve() -> tuple[View, Freshness]:
            state = freshness(self.database, live_id, self.clock)
            return view_of(stored.run_id, with_freshness(stored.body, state)), state

        return self._served.get_or((stored.run_id, live_id, token, today()), serve)
