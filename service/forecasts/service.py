"""Published forecasts: the live one from a cache with an ETag, what-ifs, cut-offs and history."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

import anyio
import msgspec
from sqlalchemy import and_, or_, select

from forecast.data.dataset import Dataset
from forecast.data.records import ValidationError
from forecast.posterior.document import parse_assume, parse_by
from service.common.db import Database
from service.common.errors import BadRequest, NoForecast, NotFound, Unavailable
from service.common.paging import DEFAULT_LIMIT, decode_cursor, encode_cursor
from service.common.schemas import (
    VALID,
    AllyForecast,
    Freshness,
    HistoryRow,
    ProblemError,
    PublishedRef,
)
from service.common.tables import ForecastRow, RunRow
from service.forecasts.freshness import freshness, with_freshness
from service.forecasts.whatif import WhatIfs

logger = logging.getLogger(__name__)

CACHE_SIZE = 64
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
# ``by`` dates are accepted from the campaign start to this many years after the cut-off:
# later dates say nothing the curve does not, and an open range invites cache flooding.
BY_WINDOW_YEARS = 3
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class View(NamedTuple):
    """A forecast document as served: its bytes and their ETag."""

    run_id: str
    body: bytes
    etag: str


class _Deadline(msgspec.Struct):
    key: str
    date: dt.date
    p_confirmed: float
    interval: list[float]


class Served(NamedTuple):
    """What a request is answered from: the run's stored view, the view served (with the
    freshness of the live forecast), and the parsed what-if parameters."""

    stored: View
    served: View
    freshness: Freshness
    dates: list[dt.date]
    what_if: dict[str, str]


class _Summary(msgspec.Struct):
    """The parts of a stored document that the history, ally and what-if routes read."""

    as_of: dt.date
    deadlines: list[_Deadline]
    allies: list[AllyForecast]


def view_of(run_id: str, body: bytes) -> View:
    return View(run_id, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class _Lru(Generic[K, V]):
    """A small least-recently-used cache, safe to share between request threads."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()
        self.lock = threading.Lock()

    def peek(self, key: K) -> V | None:
        with self.lock:
            return self.items.get(key)

    def get_or(self, key: K, make: Callable[[], V]) -> V:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()  # outside the lock: a slow rerender does not block other keys
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


Probe = tuple[str | None, tuple[Any, ...]]


class _LiveProbe:
    """Finds the live forecast's run id, and a token of what its freshness depends on, on
    every request, cheaply.

    One DBAPI connection is held in autocommit mode, so the lookup is a single
    ``SELECT`` of subqueries instead of a pooled, transactional round trip; it runs in
    whatever thread serves the request, one at a time. The token (the newest live run and
    its status, the evidence and retraction counts) changes whenever evidence is stored,
    retracted or restored (each queues or joins a live run) and whenever that run starts
    or ends.

    The counts read the whole evidence table (about 300 us a request at 5,000 rows). On
    SQLite, ``PRAGMA data_version`` (a few microseconds, whatever the size) changes
    whenever any other connection, in this process or another, commits; the ``SELECT``
    runs only then, and otherwise the last answer stands. This connection never writes,
    so every change is another connection's.
    """

    SQL = (
        "SELECT (SELECT run_id FROM forecasts ORDER BY as_of DESC, published_at DESC, "
        "run_id DESC LIMIT 1), (SELECT id || ' ' || status FROM runs WHERE live = TRUE "
        "ORDER BY requested_at DESC, id DESC LIMIT 1), "
        "(SELECT count(*) FROM evidence), (SELECT count(retracted_at) FROM evidence)"
    )

    def __init__(self, database: Database):
        self.database = database
        self.lock = threading.Lock()
        self.connection: Any = None
        self.seen: tuple[int, Probe] | None = None  # SQLite: (data_version, its answer)

    def __call__(self) -> Probe:
        errors = self.database.engine.dialect.loaded_dbapi.Error
        with self.lock:
            try:
                return self._query()
            except errors:
                self._drop()  # stale (the database restarted?): once more on a new connection
            try:
                return self._query()
            except errors as exc:
                self._drop()
                logger.error("the database does not answer: %s", exc)
                raise Unavailable("the database does not answer") from None

    def _query(self) -> Probe:
        if self.connection is None:
            self.connection = self.database.engine.raw_connection()
            if not self.database.is_sqlite:  # SQLite connections are autocommit already
                self.connection.driver_connection.autocommit = True
        cursor = self.connection.cursor()
        try:
            if not self.database.is_sqlite:
                return self._read(cursor)
            cursor.execute("PRAGMA data_version")
            version = cursor.fetchone()[0]
            if self.seen is None or self.seen[0] != version:
                self.seen = version, self._read(cursor)
            return self.seen[1]
        finally:
            cursor.close()

    def _read(self, cursor: Any) -> Probe:
        cursor.execute(self.SQL)
        row = cursor.fetchone()
        return row[0], tuple(row[1:])

    def _drop(self) -> None:
        """Discard the connection (never hand an autocommit one back to the pool)."""
        if self.connection is not None:
            self.connection.invalidate()
            self.connection = None
        self.seen = None  # a version belongs to its connection

    def close(self) -> None:
        with self.lock:
            self._drop()


class ForecastService:
    """Reads published forecasts; a forecast never changes, so caches are keyed by run id.

    Each request costs one indexed query for the current run id; a new publication is
    therefore seen by the next request, with no invalidation to get wrong.
    """

    def __init__(
        self,
        database: Database,
        dataset: Dataset,
        artifacts_dir: Path,
        what_if_workers: int = 1,
        what_if_queue: int = 4,
    ):
        self.database = database
        self.dataset = dataset
        self.artifacts_dir = artifacts_dir
        self._views: _Lru[str, View] = _Lru(CACHE_SIZE)
        # Keyed by (run id, live run id, probe token): what was served with its freshness.
        self._served: _Lru[tuple[Any, ...], tuple[View, Freshness]] = _Lru(CACHE_SIZE)
        self.what_ifs = WhatIfs(artifacts_dir, what_if_workers, what_if_queue)
        self._summaries: _Lru[str, _Summary] = _Lru(4096)
        self._live = _LiveProbe(database)
        self._order = (
            ForecastRow.as_of.desc(),
            ForecastRow.published_at.desc(),
            ForecastRow.run_id.desc(),
        )

    async def view(
        self, *, as_of: str | None = None, by: str | None = None, assume: str | None = None
    ) -> View:
        """The forecast of the live cut-off (or of ``as_of``), with extra deadlines and
        what-if outcomes recomputed from the run's stored draws.

        The common request (the live forecast, already cached, on SQLite) is answered on
        the event loop in microseconds; anything that may wait on the database runs in a
        worker thread, and what-ifs are computed by ``WhatIfs`` (single flight, bounded).

        Raises
        ------
        See ``stored_view``; and ``Busy`` (503) when every what-if slot is taken.
        """
        if not (as_of or by or assume):
            cached = self.cached_live()
            if cached is not None:
                return cached
        found = await anyio.to_thread.run_sync(
            functools.partial(self.stored_view, as_of=as_of, by=by, assume=assume)
        )
        if not found.dates and not found.what_if:
            return found.served
        run_id = found.stored.run_id
        body = await self.what_ifs.get(run_id, found.stored.body, found.dates, found.what_if)
        return view_of(run_id, with_freshness(body, found.freshness))

    def cached_live(self) -> View | None:
        """The live forecast if it is cached and finding it cannot wait (SQLite), else None.

        Safe on the event loop: one indexed read on a local file, no lock is waited for.
        """
        if not self.database.is_sqlite:
            return None
        run_id, token = self._live()
        if run_id is None:
            return None
        served = self._served.peek((run_id, run_id, token))
        return served[0] if served is not None else None

    def stored_view(
        self, *, as_of: str | None = None, by: str | None = None, assume: str | None = None
    ) -> Served:
        """The published forecast to serve and the parsed what-if parameters (a thread).

        Raises
        ------
        BadRequest
            A parameter that cannot be read, or a ``by`` date outside the window, naming
            it and its valid values.
        NotFound
            No forecast at ``as_of``, listing the cut-offs that have one.
        NoForecast
            Nothing is published yet.
        """
        cut_off = _parse_date(as_of, "as_of")
        dates = _parameter(lambda: parse_by(by))
        what_if = _parameter(lambda: parse_assume(assume, self.dataset.codes))
        live_id, token = self._live()
        if live_id is None:
            self._raise_missing(cut_off)
        run_id = live_id if cut_off is None else self.current_run_id(cut_off)
        stored = self._views.get_or(run_id, lambda: self._load(run_id))
        if dates:
            self._check_window(dates, self._summary(run_id).as_of)

        def serve() -> tuple[View, Freshness]:
            state = freshness(self.database, live_id)
            return view_of(run_id, with_freshness(stored.body, state)), state

        served, state = self._served.get_or((run_id, live_id, token), serve)
        return Served(stored, served, state, dates, what_if)

    def by_window(self, as_of: dt.date) -> tuple[dt.date, dt.date]:
        """The ``by`` dates a forecast at ``as_of`` answers: campaign start to a few years on."""
        start = self.dataset.question.campaign_start
        try:
            end = as_of.replace(year=as_of.year + BY_WINDOW_YEARS)
        except ValueError:  # 29 February
            end = as_of.replace(year=as_of.year + BY_WINDOW_YEARS, day=28)
        return start, end

    def _check_window(self, dates: list[dt.date], as_of: dt.date) -> None:
        start, end = self.by_window(as_of)
        outside = [d for d in dates if not start <= d <= end]
        if outside:
            valid = (
                f"dates from {start} (the campaign start) to {end} ({BY_WINDOW_YEARS} years "
                f"after the cut-off {as_of})"
            )
            raise BadRequest(
                f"by date {outside[0]} is outside the window {start} to {end}",
                [ProblemError("by", f"{d} is outside the window", valid) for d in outside],
            )

    def current_run_id(self, as_of: dt.date | None = None) -> str:
        """The run whose forecast is served: greatest cut-off (or ``as_of``), then newest."""
        if as_of is None:
            run_id = self._live()[0]
        else:
            query = select(ForecastRow.run_id).where(ForecastRow.as_of == as_of)
            with self.database.reader() as session:
                run_id = session.scalar(query.order_by(*self._order).limit(1))
        if run_id is None:
            self._raise_missing(as_of)
        return run_id

    def close(self) -> None:
        self._live.close()
        self.what_ifs.close()

    def latest(self) -> PublishedRef | None:
        """The live forecast's run, cut-off and publication time, or None."""
        query = select(ForecastRow.run_id, ForecastRow.as_of, ForecastRow.published_at)
        with self.database.engine.connect() as connection:
            row = connection.execute(query.order_by(*self._order).limit(1)).first()
        return PublishedRef(run_id=row[0], as_of=row[1], published_at=row[2]) if row else None

    def live_allies(self) -> dict[str, AllyForecast]:
        """Each ally's entry in the live forecast; empty while nothing is published."""
        try:
            run_id = self.current_run_id()
        except NoForecast:
            return {}
        return {a.code: a for a in self._summary(run_id).allies}

    def history(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[HistoryRow], str | None]:
        """One row per published run, oldest cut-off first: a page, and the next cursor.

        Raises
        ------
        BadRequest
            A cursor this list did not make.
        """
        query = select(ForecastRow.run_id, ForecastRow.as_of, ForecastRow.published_at).order_by(
            ForecastRow.as_of, ForecastRow.published_at, ForecastRow.run_id
        )
        if cursor is not None:
            as_of, published_at, run_id = decode_cursor(
                cursor, dt.date.fromisoformat, dt.datetime.fromisoformat, str
            )
            query = query.where(
                or_(
                    ForecastRow.as_of > as_of,
                    and_(ForecastRow.as_of == as_of, ForecastRow.published_at > published_at),
                    and_(
                        ForecastRow.as_of == as_of,
                        ForecastRow.published_at == published_at,
                        ForecastRow.run_id > run_id,
                    ),
                )
            )
        with self.database.reader() as session:
            rows = session.execute(query.limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        history = []
        for run_id, as_of, published_at in rows:
            summary = self._summary(run_id)
            history.append(
                HistoryRow(
                    as_of=as_of,
                    run_id=run_id,
                    published_at=published_at,
                    p_confirmed={d.key: d.p_confirmed for d in summary.deadlines},
                    interval={d.key: d.interval for d in summary.deadlines},
                    changes=f"/forecast/changes/{run_id}",
                )
            )
        last = history[-1] if more else None
        next_cursor = encode_cursor([last.as_of, last.published_at, last.run_id]) if last else None
        return history, next_cursor

    def history_csv(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[str, str | None]:
        """A page of the history as CSV: one row per published run and deadline."""
        rows, next_cursor = self.history(limit, cursor)
        out = io.StringIO()
        table = csv.writer(out, lineterminator="\n")
        table.writerow(HISTORY_CSV_COLUMNS)
        for row in rows:
            for d in self._summary(row.run_id).deadlines:
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

    def _summary(self, run_id: str) -> _Summary:
        return self._summaries.get_or(
            run_id,
            lambda: msgspec.json.decode(
                self._views.get_or(run_id, lambda: self._load(run_id)).body, type=_Summary
            ),
        )

    def _load(self, run_id: str) -> View:
        with self.database.reader() as session:
            document = session.scalar(
                select(ForecastRow.document).where(ForecastRow.run_id == run_id)
            )
        if document is None:
            raise NotFound(f"run {run_id} published no forecast")
        return view_of(run_id, document.encode())

    def _raise_missing(self, as_of: dt.date | None) -> NoReturn:
        with self.database.reader() as session:
            cut_offs = session.scalars(
                select(ForecastRow.as_of).distinct().order_by(ForecastRow.as_of)
            ).all()
            pending = session.scalars(
                select(RunRow.id).where(RunRow.status.in_(("queued", "running")))
            ).first()
        if as_of is not None and cut_offs:
            listed = ", ".join(d.isoformat() for d in cut_offs)
            raise NotFound(
                f"no forecast is published for the cut-off {as_of}; cut-offs: {listed}",
                [ProblemError("as_of", f"{as_of} has no published forecast", listed)],
            )
        hint = (
            f"run {pending} is queued or running; try again shortly (GET /runs/{pending})"
            if pending
            else "no run is queued: post evidence or POST /runs to fit one"
        )
        raise NoForecast(f"no forecast has been published yet: {hint}")


def _parse_date(text: str | None, field: str) -> dt.date | None:
    if text is None or text.strip() == "":
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"invalid {field}", [ProblemError(field, f"{text!r} is not a date", VALID[field])]
        ) from None


def _parameter(parse: Callable[[], V]) -> V:
    try:
        return parse()
    except ValidationError as exc:
        fields = ", ".join(dict.fromkeys(p.field for p in exc.problems))
        raise BadRequest(f"invalid {fields}", exc.problems) from None
