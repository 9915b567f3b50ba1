"""Published forecasts: the live one from a cache with an ETag, what-ifs, cut-offs and history."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

import anyio
import msgspec
import numpy as np
from sqlalchemy import select

from forecast.data import Dataset
from forecast.document import parse_assume, parse_by, rerender
from forecast.schema import ValidationError
from service.db import Database
from service.errors import BadRequest, NoForecast, NotFound, Unavailable
from service.models import ForecastRow, RunRow
from service.schemas import VALID, AllyForecast, HistoryRow, ProblemError, PublishedRef

logger = logging.getLogger(__name__)

CACHE_SIZE = 64
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class View(NamedTuple):
    """A forecast document as served: its bytes and their ETag."""

    run_id: str
    body: bytes
    etag: str


class _Deadline(msgspec.Struct):
    key: str
    p_confirmed: float
    interval: list[float]


class _Summary(msgspec.Struct):
    """The parts of a stored document that the history and ally routes read."""

    deadlines: list[_Deadline]
    allies: list[AllyForecast]


def encode(document: Any) -> bytes:
    """JSON bytes of a document that may hold numpy scalars or arrays."""
    return msgspec.json.encode(document, enc_hook=_numpy_to_python)


def _numpy_to_python(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


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


class _LiveProbe:
    """Finds the live forecast's run id on every request, cheaply.

    One DBAPI connection is held in autocommit mode, so the lookup is a single indexed
    ``SELECT`` (a few microseconds on SQLite) instead of a pooled, transactional round
    trip; it runs in whatever thread serves the request, one at a time.
    """

    SQL = "SELECT run_id FROM forecasts ORDER BY as_of DESC, published_at DESC, run_id DESC LIMIT 1"

    def __init__(self, database: Database):
        self.database = database
        self.lock = threading.Lock()
        self.connection: Any = None

    def __call__(self) -> str | None:
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

    def _query(self) -> str | None:
        if self.connection is None:
            self.connection = self.database.engine.raw_connection()
            if not self.database.is_sqlite:  # SQLite connections are autocommit already
                self.connection.driver_connection.autocommit = True
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row[0] if row else None

    def _drop(self) -> None:
        """Discard the connection (never hand an autocommit one back to the pool)."""
        if self.connection is not None:
            self.connection.invalidate()
            self.connection = None

    def close(self) -> None:
        with self.lock:
            self._drop()


class ForecastService:
    """Reads published forecasts; a forecast never changes, so caches are keyed by run id.

    Each request costs one indexed query for the current run id; a new publication is
    therefore seen by the next request, with no invalidation to get wrong.
    """

    def __init__(self, database: Database, dataset: Dataset, artifacts_dir: Path):
        self.database = database
        self.dataset = dataset
        self.artifacts_dir = artifacts_dir
        self._views: _Lru[str, View] = _Lru(CACHE_SIZE)
        self._what_ifs: _Lru[tuple[Any, ...], View] = _Lru(CACHE_SIZE)
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
        the event loop in microseconds; anything that may wait on the database or compute
        runs in a worker thread.

        Raises
        ------
        See ``view_blocking``.
        """
        if not (as_of or by or assume):
            cached = self.cached_live()
            if cached is not None:
                return cached
        return await anyio.to_thread.run_sync(
            functools.partial(self.view_blocking, as_of=as_of, by=by, assume=assume)
        )

    def cached_live(self) -> View | None:
        """The live forecast if it is cached and finding it cannot wait (SQLite), else None.

        Safe on the event loop: one indexed read on a local file, no lock is waited for.
        """
        if not self.database.is_sqlite:
            return None
        run_id = self._live()
        return self._views.peek(run_id) if run_id is not None else None

    def view_blocking(
        self, *, as_of: str | None = None, by: str | None = None, assume: str | None = None
    ) -> View:
        """``view`` for a worker thread.

        Raises
        ------
        BadRequest
            A parameter that cannot be read, naming it and its valid form.
        NotFound
            No forecast at ``as_of``, listing the cut-offs that have one.
        NoForecast
            Nothing is published yet.
        """
        cut_off = _parse_date(as_of, "as_of")
        dates = _parameter(lambda: parse_by(by))
        what_if = _parameter(lambda: parse_assume(assume, self.dataset.codes))
        run_id = self.current_run_id(cut_off)
        stored = self._views.get_or(run_id, lambda: self._load(run_id))
        if not dates and not what_if:
            return stored
        key = (run_id, tuple(dates), tuple(sorted(what_if.items())))
        return self._what_ifs.get_or(key, lambda: self._what_if(stored, dates, what_if))

    def current_run_id(self, as_of: dt.date | None = None) -> str:
        """The run whose forecast is served: greatest cut-off (or ``as_of``), then newest."""
        if as_of is None:
            run_id = self._live()
        else:
            query = select(ForecastRow.run_id).where(ForecastRow.as_of == as_of)
            with self.database.reader() as session:
                run_id = session.scalar(query.order_by(*self._order).limit(1))
        if run_id is None:
            self._raise_missing(as_of)
        return run_id

    def close(self) -> None:
        self._live.close()

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

    def history(self) -> list[HistoryRow]:
        """One row per published run, oldest cut-off first."""
        query = select(ForecastRow.run_id, ForecastRow.as_of, ForecastRow.published_at).order_by(
            ForecastRow.as_of, ForecastRow.published_at, ForecastRow.run_id
        )
        with self.database.reader() as session:
            rows = session.execute(query).all()
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
                )
            )
        return history

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

    def _what_if(self, stored: View, dates: list[dt.date], what_if: dict[str, str]) -> View:
        run_dir = self.artifacts_dir / stored.run_id
        try:
            document = rerender(run_dir, msgspec.json.decode(stored.body), by=dates, assume=what_if)
        except FileNotFoundError:
            logger.error("run %s has no stored draws in %s", stored.run_id, run_dir)
            field = "by" if dates else "assume"
            raise Unavailable(
                f"the stored draws of run {stored.run_id} are missing: only the published "
                "forecast can be served",
                [ProblemError(field, "cannot be computed for this run", "omit it")],
            ) from None
        return view_of(stored.run_id, encode(document))

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
