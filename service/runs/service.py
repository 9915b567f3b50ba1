"""Runs as the API sees them: queue a fit at a cut-off, list runs, show one."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecast.data.dataset import Dataset
from service.common.clock import today
from service.common.db import Database
from service.common.errors import InvalidInput, NotFound, TooManyRequests
from service.common.schemas import ProblemError, RunIn, RunOut
from service.common.tables import ForecastRow, RunRow
from service.runs.queue import in_transaction, queue_run

logger = logging.getLogger(__name__)

MAX_LIST = 500
# What a client over the queue cap is told to wait: about one warm fit per queued run.
QUEUE_FULL_RETRY_SECONDS = 30


def run_out(run: RunRow, published: bool) -> RunOut:
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
    )


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
            A cut-off before the campaign start or after today.
        TooManyRequests
            ``max_queued`` manual runs are already waiting.
        """
        start, end = self.dataset.question.campaign_start, today()
        if not start <= data.as_of <= end:
            raise InvalidInput(
                "as_of is out of range",
                [ProblemError("as_of", f"{data.as_of} is out of range", f"{start} to {end}")],
            )
        seed = self.seed if data.seed is None else data.seed

        def work(session: Session) -> tuple[RunOut, bool]:
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

    def list(self, status: str | None = None, limit: int = 50) -> list[RunOut]:
        """Runs, newest request first."""
        query = select(RunRow).order_by(RunRow.requested_at.desc(), RunRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(RunRow.status == status)
        with self.database.reader() as session:
            runs = session.scalars(query).all()
            published = self._published(session, [r.id for r in runs])
        return [run_out(r, r.id in published) for r in runs]

    def get(self, run_id: str) -> RunOut:
        """One run; ``NotFound`` for an unknown id."""
        with self.database.reader() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                raise NotFound(
                    f"no run with id {run_id!r}",
                    [ProblemError("run_id", "is not a run", "an id from GET /runs")],
                )
            return run_out(run, bool(self._published(session, [run_id])))

    @staticmethod
    def _published(session: Session, run_ids: list[str]) -> set[str]:
        if not run_ids:
            return set()
        query = select(ForecastRow.run_id).where(ForecastRow.run_id.in_(run_ids))
        return set(session.scalars(query))
