"""Which published forecast is served at a cut-off, and the history of published runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable
from typing import Any, NoReturn

import msgspec
from sqlalchemy import select

from forecast.data.clock import utcnow
from service.common.db import Database
from service.common.errors import NoForecast, NotFound
from service.common.paging import DEFAULT_LIMIT, Key, keyset_page
from service.common.schemas import ProblemError
from service.common.tables import ForecastRow, RunRow
from service.forecasts.cache import Documents
from service.forecasts.probe import Probe
from service.forecasts.schemas import HistoryRow, PublishedRef
from service.publication.live import live_forecasts, served, served_at

logger = logging.getLogger(__name__)

# The history's order, oldest cut-off first.
HISTORY_KEYS = (
    Key(ForecastRow.as_of, dt.date.fromisoformat),
    Key(ForecastRow.published_at, dt.datetime.fromisoformat),
    Key(ForecastRow.run_id, str),
)
HISTORY_CSV_COLUMNS = (
    "as_of",
    "run_id",
    "published_at",
    "deadline",
    "deadline_date",
    "p_confirmed",
    "interval_low",
    "interval_high",
)


class History:
    """Reads of the published forecasts: the run served at a cut-off, the live one, and
    one history row per run (its probabilities from the cached summary of its document)."""

    def __init__(
        self,
        database: Database,
        documents: Documents,
        live: Callable[[], Probe],
        prefix: str = "",
    ):
        self.database = database
        self.documents = documents
        self.live = live
        self.prefix = prefix  # the question's path prefix in links ("" or /questions/{slug})

    def run_id(self, as_of: dt.date | None = None) -> str:
        """The run whose forecast is served: the live forecast's (``service.publication.live``),
        or the newest served at ``as_of``.

        Raises
        ------
        NotFound, NoForecast
            As ``raise_missing``.
        """
        if as_of is None:
            run_id = self.live()[0]
        else:
            with self.database.reader() as session:
                run_id = session.scalar(served_at(as_of, ForecastRow.run_id).limit(1))
        if run_id is None:
            self.raise_missing(as_of)
        return run_id

    def latest(self) -> PublishedRef | None:
        """The live forecast's run, cut-off and publication time, or None."""
        query = live_forecasts(ForecastRow.run_id, ForecastRow.as_of, ForecastRow.published_at)
        with self.database.engine.connect() as connection:
            row = connection.execute(query.limit(1)).first()
        return msgspec.convert(row, PublishedRef, from_attributes=True) if row else None

    def raise_missing(self, as_of: dt.date | None) -> NoReturn:
        """Say why no forecast can be served.

        Raises
        ------
        NotFound
            No forecast at ``as_of`` while others are published, listing their cut-offs.
        NoForecast
            Nothing is published yet, naming the run queued or running, if any.
        """
        with self.database.reader() as session:
            cut_offs = session.scalars(
                served(ForecastRow.as_of).distinct().order_by(ForecastRow.as_of)
            ).all()
            pending = session.execute(
                select(RunRow.id, RunRow.status, RunRow.requested_at, RunRow.started_at)
                .where(RunRow.status.in_(("queued", "running")))
                .order_by(RunRow.requested_at)
            ).first()
        if as_of is not None and cut_offs:
            listed = ", ".join(d.isoformat() for d in cut_offs)
            raise NotFound(
                f"no forecast is published for the cut-off {as_of}; cut-offs: {listed}",
                [ProblemError("as_of", f"{as_of} has no published forecast", listed)],
            )
        raise NoForecast(f"no forecast has been published yet: {_pending_hint(pending)}")

    def page(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[HistoryRow], str | None]:
        """One row per published run, oldest cut-off first: a page, and the next cursor.

        Raises
        ------
        BadRequest
            A cursor this list did not make.
        """
        query = served(ForecastRow.run_id, ForecastRow.as_of, ForecastRow.published_at)
        with self.database.reader() as session:
            rows, next_cursor = keyset_page(session, query, HISTORY_KEYS, limit, cursor)
        history = []
        for run_id, as_of, published_at in rows:
            summary = self.documents.summary(run_id)
            history.append(
                HistoryRow(
                    as_of=as_of,
                    run_id=run_id,
                    published_at=published_at,
                    p_confirmed={d.key: d.p_confirmed for d in summary.deadlines},
                    interval={d.key: d.interval for d in summary.deadlines},
                    changes=f"{self.prefix}/forecast/changes/{run_id}",
                )
            )
        return history, next_cursor

    def page_csv(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[str, str | None]:
        """A page of the history as CSV: one row per published run and deadline."""
        rows, next_cursor = self.page(limit, cursor)
        out = io.StringIO()
        table = csv.writer(out, lineterminator="\n")
        table.writerow(HISTORY_CSV_COLUMNS)
        for row in rows:
            for d in self.documents.summary(row.run_id).deadlines:
                table.writerow(
                    [
                        row.as_of.isoformat(),
                        row.run_id,
                        row.published_at.isoformat(),
                        d.key,
                        d.date.isoformat(),
                        repr(d.p_confirmed),
                        repr(d.interval[0]),
                        repr(d.interval[1]),
                    ]
                )
        return out.getvalue(), next_cursor


# What a first fit costs, for the message served until one is published (README,
# performance): the worker compiles the model when it starts, from the compile cache when
# this machine has compiled it before.
FIRST_FIT_HINT = (
    "a worker compiles the model when it starts (about 10 s from the compile cache, "
    "about 60 s the first time on a machine), then fits in a few seconds"
)


def _pending_hint(pending: Any) -> str:
    """What the service is doing while nothing is published: the run it is fitting."""
    if pending is None:
        return "no run is queued: post evidence or POST /runs to fit one"
    since = pending.started_at if pending.status == "running" else pending.requested_at
    seconds = max(0, round((utcnow() - since).total_seconds()))
    return (
        f"fitting the first forecast: run {pending.id} is {pending.status} "
        f"(for {seconds} s; {FIRST_FIT_HINT}); GET /runs/{pending.id}"
    )
