"""Runs as the API sees them: queue a fit at a cut-off, list runs, show one, withdraw
one's forecast."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecast.data.clock import today
from forecast.data.dataset import Dataset
from service.common.db import Database
from service.common.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from service.common.paging import DEFAULT_LIMIT, Key, keyset_page
from service.common.schemas import ProblemError
from service.common.tables import ForecastRow, RunRow
from service.publication.live import NEWEST, served
from service.publication.replacement import record_withdrawal
from service.runs.queue import in_transaction, queue_run
from service.runs.schemas import RunIn, RunOut

logger = logging.getLogger(__name__)

# The list's order, newest request first.
RUN_KEYS = (
    Key(RunRow.requested_at, dt.datetime.fromisoformat, descending=True),
    Key(RunRow.id, str, descending=True),
)
# What a client over the queue cap is told to wait: about one warm fit per queued run.
QUEUE_FULL_RETRY_SECONDS = 30


def run_out(run: RunRow, published: bool, withdrawn_at: dt.datetime | None = None) -> RunOut:
    return RunOut(
        id=run.id,
        status=run.status,  # type: ignore[arg-type]
        as_of=run.as_of,
        seed=run.seed,
        trigger=run.trigger,
        live=run.live,
        requested_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        attempts=run.attempts,
        evidence_ids=run.evidence_ids,
        diagnostics=run.diagnostics,
        timings=run.timings,
        error=run.error,
        published=published,
        withdrawn_at=withdrawn_at,
    )


def _withdrawable(session: Session, shown: int = 20) -> str:
    """The newest runs whose forecast is served, for an error naming what may be withdrawn."""
    ids = session.scalars(served(ForecastRow.run_id).order_by(*NEWEST).limit(shown)).all()
    return "a run whose forecast is served: " + (", ".join(ids) or "none is published")


class RunService:
    """What the run routes do."""

    def __init__(self, database: Database, dataset: Dataset, seed: int, max_queued: int = 10):
        self.database = database
        self.dataset = dataset
        self.seed = seed
        self.max_queued = max_queued

    def request(self, data: RunIn) -> tuple[RunOut, bool]:
        """Queue a fit at ``data.as_of``, or return the queued one with the same cut-off
        and seed.

        Returns
        -------
        (run, created)
            ``created`` is False when an identical run was already queued.

        Raises
        ------
        InvalidInput
            A cut-off before the campaign start or after today in UTC.
        TooManyRequests
            ``max_queued`` manual runs are already waiting.
        """
        seed = self.seed if data.seed is None else data.seed

        def work(session: Session) -> tuple[RunOut, bool]:
            self._check_cut_off(data.as_of)
            manual = (RunRow.status == "queued", RunRow.live.is_(False))
            same = session.scalars(
                select(RunRow).where(*manual, RunRow.as_of == data.as_of, RunRow.seed == seed)
            ).first()
            if same is not None:
                return run_out(same, published=False), False
            waiting = session.scalar(select(func.count()).select_from(RunRow).where(*manual))
            if (waiting or 0) >= self.max_queued:
                raise TooManyRequests(
                    f"{waiting} manual runs are queued (the limit); try again later",
                    [ProblemError("as_of", "the run queue is full", f"at most {self.max_queued}")],
                    retry_after=QUEUE_FULL_RETRY_SECONDS,
                )
            run = queue_run(session, as_of=data.as_of, seed=seed, trigger="manual")
            return run_out(run, published=False), True

        run, created = in_transaction(self.database.sessions, work)
        if created:
            logger.info("run %s queued at %s (seed %d)", run.id, run.as_of, run.seed)
        return run, created

    def _check_cut_off(self, as_of: dt.date) -> None:
        """``InvalidInput`` for a cut-off before the campaign start or after today in UTC
        (``clock.today``: no evidence is dated later, and no silence after it is known)."""
        start, end = self.dataset.question.campaign_start, today()
        valid = f"{start} to {end} (today in UTC)"
        if not start <= as_of <= end:
            raise InvalidInput(
                "as_of is out of range",
                [ProblemError("as_of", f"{as_of} is out of range", valid)],
            )

    def page(
        self, status: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[RunOut], str | None]:
        """A page of runs (of ``status``, if given), newest request first, and the cursor
        of the next page (or None).

        Raises
        ------
        BadRequest
            A cursor this list did not make.
        """
        query = select(RunRow)
        if status is not None:
            query = query.where(RunRow.status == status)
        with self.database.reader() as session:
            runs, next_cursor = keyset_page(session, query, RUN_KEYS, limit, cursor)
            forecasts = self._forecasts(session, [r.id for r in runs])
        return [self._out(r, forecasts) for r in runs], next_cursor

    def get(self, run_id: str) -> RunOut:
        """One run; ``NotFound`` for an unknown id."""
        with self.database.reader() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                raise NotFound(
                    f"no run with id {run_id!r}",
                    [ProblemError("run_id", "is not a run", "an id from GET /runs")],
                )
            return self._out(run, self._forecasts(session, [run_id]))

    def withdraw(self, run_id: str) -> RunOut:
        """Withdraw the run's published forecast: it is kept (and the run) but served
        nowhere, the forecast before it is served again, and ``/forecast/changes`` lists
        the withdrawal. Withdrawing a withdrawn run changes nothing.

        Raises
        ------
        NotFound
            An unknown run, naming the runs whose forecast is served.
        Conflict
            A run with no forecast (queued, running, failed), or the only live forecast:
            nothing would be served in its place.
        """

        def work(session: Session) -> RunOut:
            run = session.get(RunRow, run_id)
            forecast = session.get(ForecastRow, run_id, with_for_update=True)
            if run is None:
                raise NotFound(
                    f"no run with id {run_id!r}",
                    [ProblemError("run_id", "is not a run", _withdrawable(session))],
                )
            if forecast is None:
                raise Conflict(
                    f"run {run_id} ({run.status}) published no forecast to withdraw",
                    [ProblemError("run_id", "published nothing", _withdrawable(session))],
                )
            if forecast.withdrawn_at is None and not record_withdrawal(session, forecast, run):
                raise Conflict(
                    f"run {run_id} has the only live forecast: nothing would be served in its "
                    "place; post evidence to publish another first",
                    [ProblemError("run_id", "is the only live forecast", _withdrawable(session))],
                )
            return run_out(run, published=False, withdrawn_at=forecast.withdrawn_at)

        out = in_transaction(self.database.sessions, work)
        logger.warning("run %s: forecast withdrawn at %s", run_id, out.withdrawn_at)
        return out

    @staticmethod
    def _out(run: RunRow, forecasts: dict[str, dt.datetime | None]) -> RunOut:
        withdrawn_at = forecasts.get(run.id)
        return run_out(run, run.id in forecasts and withdrawn_at is None, withdrawn_at)

    @staticmethod
    def _forecasts(session: Session, run_ids: list[str]) -> dict[str, dt.datetime | None]:
        """The runs among ``run_ids`` that published a forecast, with its withdrawal time."""
        if not run_ids:
            return {}
        query = select(ForecastRow.run_id, ForecastRow.withdrawn_at).where(
            ForecastRow.run_id.in_(run_ids)
        )
        return {run_id: withdrawn_at for run_id, withdrawn_at in session.execute(query)}
