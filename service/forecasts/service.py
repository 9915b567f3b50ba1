"""Published forecasts as GET /forecast serves them: live, at a cut-off, or as a what-if."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path
from typing import NamedTuple

import anyio

from forecast.data.dataset import Dataset
from forecast.posterior.schema import AllyForecast
from service.common.db import Database
from service.common.errors import NoForecast
from service.common.paging import DEFAULT_LIMIT
from service.forecasts.cache import Documents, ServedViews, View, view_of
from service.forecasts.freshness import with_freshness
from service.forecasts.history import History
from service.forecasts.parameters import check_window, read_query
from service.forecasts.probe import LiveProbe
from service.forecasts.schemas import Freshness, HistoryRow, PublishedRef
from service.forecasts.whatif import WhatIfs

logger = logging.getLogger(__name__)


class Served(NamedTuple):
    """What a request is answered from: the run's stored view, the view served (with the
    freshness of the live forecast), and the parsed what-if parameters."""

    stored: View
    served: View
    freshness: Freshness
    dates: list[dt.date]
    what_if: dict[str, str]


class ForecastService:
    """Reads published forecasts; a forecast never changes, so caches are keyed by run id.

    Each request costs one indexed query for the current run id (``LiveProbe``); a new
    publication is therefore seen by the next request, with no invalidation to get wrong.
    The documents (``Documents``), the bytes served with their freshness (``ServedViews``),
    the cut-off and history reads (``History``) and the what-if processes (``WhatIfs``)
    are each their own object; this one decides which of them answers a request.
    """

    def __init__(
        self,
        database: Database,
        dataset: Dataset,
        artifacts_dir: Path,
        what_if_workers: int = 1,
        what_if_queue: int = 4,
        prefix: str = "",
        what_ifs: WhatIfs | None = None,
    ):
        self.database = database
        self.dataset = dataset
        self.artifacts_dir = artifacts_dir
        self.live = LiveProbe(database)
        self.documents = Documents(database)
        self.served_views = ServedViews(database, dataset.question.clock)
        # ``prefix``: the question's path in the links of what it serves ("" for the
        # default question's unprefixed endpoints, else /questions/{slug}).
        self.published = History(database, self.documents, self.live, prefix)
        # The process's what-ifs, shared by the questions it serves (else its own).
        self.what_ifs = what_ifs or WhatIfs(what_if_workers, what_if_queue)

    async def view(
        self,
        *,
        as_of: str | None = None,
        by: str | None = None,
        assume: str | None = None,
        client: str = "anonymous",
    ) -> View:
        """The forecast of the live cut-off (or of ``as_of``), with extra deadlines and
        what-if outcomes recomputed from the run's stored draws.

        The common request (the live forecast, already cached, on SQLite) is answered on
        the event loop in microseconds; anything that may wait on the database runs in a
        worker thread, and what-ifs are computed by ``WhatIfs`` (single flight, bounded).

        Raises
        ------
        See ``stored_view``; ``Busy`` (503) when every what-if slot is taken, and
        ``TooManyRequests`` (429) when ``client`` held its share of them for a second.
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
        body = await self.what_ifs.get(
            self.artifacts_dir / run_id, found.stored.body, found.dates, found.what_if, client
        )
        return view_of(run_id, with_freshness(body, found.freshness))

    def cached_live(self) -> View | None:
        """The live forecast if it is cached and finding it cannot wait (SQLite), else None.

        Safe on the event loop: one indexed read on a local file, no lock is waited for.
        """
        if not self.database.is_sqlite:
            return None
        run_id, token = self.live()
        if run_id is None:
            return None
        return self.served_views.peek_live(run_id, token)

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
        query = read_query(as_of, by, assume, self.dataset.codes)
        live_id, token = self.live()
        if live_id is None:
            self.published.raise_missing(query.cut_off)
        run_id = live_id if query.cut_off is None else self.current_run_id(query.cut_off)
        stored = self.documents.view(run_id)
        if query.dates:
            campaign_start = self.dataset.question.campaign_start
            check_window(query.dates, campaign_start, self.documents.summary(run_id).as_of)
        served, state = self.served_views.get(stored, live_id, token)
        return Served(stored, served, state, query.dates, query.what_if)

    def current_run_id(self, as_of: dt.date | None = None) -> str:
        """The run whose forecast is served: the live one, or the newest at ``as_of``."""
        return self.published.run_id(as_of)

    def latest(self) -> PublishedRef | None:
        """The live forecast's run, cut-off and publication time, or None."""
        return self.published.latest()

    def live_allies(self) -> dict[str, AllyForecast]:
        """Each ally's entry in the live forecast; empty while nothing is published."""
        try:
            run_id = self.current_run_id()
        except NoForecast:
            return {}
        return {a.code: a for a in self.documents.summary(run_id).allies}

    def history(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[HistoryRow], str | None]:
        """One row per published run, oldest cut-off first: a page, and the next cursor.

        Raises
        ------
        BadRequest
            A cursor this list did not make.
        """
        return self.published.page(limit, cursor)

    def history_csv(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[str, str | None]:
        """A page of the history as CSV: one row per published run and deadline."""
        return self.published.page_csv(limit, cursor)

    def close(self) -> None:
        self.live.close()
        self.what_ifs.close()
