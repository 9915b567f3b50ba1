"""The durable run queue: coalesced live runs, claims by workers, results and recovery."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forecast.data.clock import today, utcnow
from forecast.data.dataset import Dataset
from forecast.data.records import EVIDENCE_FIELDS, EvidenceItem
from forecast.pipeline.store import new_run_id
from service.common.db import Database
from service.common.tables import EvidenceRow, ForecastRow, RunRow
from service.publication.live import live_forecasts
from service.publication.replacement import record_change
from service.runs.leases import lost_its_worker

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
T = TypeVar("T")


class Claimed(NamedTuple):
    """A run the worker now owns, with the evidence it is to be fitted on."""

    run_id: str
    as_of: dt.date
    seed: int
    evidence: list[EvidenceItem]


def in_transaction(
    session_factory: sessionmaker[Session], work: Callable[[Session], T], retries: int = 3
) -> T:
    """Run ``work`` in one transaction, retried when a concurrent writer won a unique key.

    On SQLite writers are serialised (``BEGIN IMMEDIATE``) and this never retries; on
    PostgreSQL two requests may insert the same evidence or the only queued live run at
    once, and the loser sees the winner's row on its retry.
    """
    for attempt in range(1, retries + 1):
        try:
            with session_factory.begin() as session:
                return work(session)
        except IntegrityError:
            logger.info("a concurrent write took the same key; retrying (%d)", attempt)
    with session_factory.begin() as session:
        return work(session)


def evidence_item(row: EvidenceRow) -> EvidenceItem:
    return EvidenceItem(**{field: getattr(row, field) for field in EVIDENCE_FIELDS})


def live_run_as_of(session: Session, dataset: Dataset) -> dt.date:
    """The cut-off of a run that follows the evidence.

    ``Question.live_as_of`` on the evidence still standing (the opening date or the
    newest evidence, if later; today, on the ``live`` clock), and never before the
    cut-off of a live forecast served or a live run being fitted, since ``GET /forecast``
    serves the greatest cut-off among live forecasts and a new one must take its place.
    Manual runs and withdrawn forecasts do not count: neither can move the live cut-off.
    """
    newest = session.scalar(
        select(func.max(EvidenceRow.date)).where(EvidenceRow.retracted_at.is_(None))
    )
    published = session.scalar(live_forecasts(ForecastRow.as_of).limit(1))
    running = session.scalar(
        select(func.max(RunRow.as_of)).where(RunRow.status == "running", RunRow.live.is_(True))
    )
    cut_offs = (newest, published, running)
    return dataset.question.live_as_of(d for d in cut_offs if d is not None)


def queue_live_run(session: Session, dataset: Dataset, *, trigger: str, seed: int) -> RunRow:
    """Reuse the queued live run (moving its cut-off) or queue one; the caller commits."""
    as_of = live_run_as_of(session, dataset)
    queued = session.scalars(
        select(RunRow).where(RunRow.status == "queued", RunRow.live.is_(True)).with_for_update()
    ).first()
    if queued is not None:
        queued.as_of = as_of
        return queued
    return queue_run(session, as_of=as_of, seed=seed, trigger=trigger, live=True)


def follow_clock(database: Database, dataset: Dataset, seed: int) -> str | None:
    """On the ``live`` clock, queue a live run once today has passed the cut-off of every
    live run (published, queued, running or failed), so that each day without news counts.

    Nothing is queued before the first live run (``--fit-if-empty`` asks for that), nor
    twice for one day: a run that failed today waits for news or for tomorrow. The check
    is a read; the write transaction is taken only when a run is due. Returns the queued
    run's id, or None.
    """
    if dataset.question.clock != "live":
        return None
    newest_live = select(func.max(RunRow.as_of)).where(RunRow.live.is_(True))
    with database.reader() as session:
        newest = session.scalar(newest_live)
    if newest is None or newest >= today():
        return None

    def work(session: Session) -> str | None:
        newest = session.scalar(newest_live)  # again, in the transaction that writes
        if newest is None or newest >= today():
            return None
        run = queue_live_run(session, dataset, trigger="clock", seed=seed)
        logger.info("run %s queued: the live cut-off moved to %s", run.id, run.as_of)
        return run.id

    return in_transaction(database.sessions, work)


def queue_run(
    session: Session, *, as_of: dt.date, seed: int, trigger: str, live: bool = False
) -> RunRow:
    """Queue a fit (at a fixed cut-off unless ``live``); the caller commits."""
    run = RunRow(
        id=new_run_id(),
        status="queued",
        as_of=as_of,
        seed=seed,
        trigger=trigger,
        live=live,
        requested_at=utcnow(),
        attempts=0,
    )
    session.add(run)
    session.flush()  # the unique index on queued live runs fails here, not at commit
    return run


def has_queued(reader: sessionmaker[Session]) -> bool:
    """Whether any run is queued: a plain read, which takes no write lock (on SQLite in
    WAL mode it runs beside writers), so an idle worker can ask often."""
    with reader() as session:
        return (
            session.scalars(select(RunRow.id).where(RunRow.status == "queued").limit(1)).first()
            is not None
        )


def claim_next(session_factory: sessionmaker[Session], worker: str) -> Claimed | None:
    """Mark the next queued run running by ``worker``, with a fresh lease, and load its
    evidence, in one transaction.

    A live run (new evidence) comes before every manual one, then the oldest first: a
    backlog of ``POST /runs`` never delays the forecast readers see.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite (which has no row locks):
    the write transaction plus an ``UPDATE ... WHERE status = 'queued'`` that only one
    claimant can win.
    """
    with session_factory.begin() as session:
        run_id = session.scalars(
            select(RunRow.id)
            .where(RunRow.status == "queued")
            .order_by(RunRow.live.desc(), RunRow.requested_at, RunRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if run_id is None:
            return None
        won = session.execute(
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == "queued")
            .values(
                status="running",
                started_at=(now := utcnow()),
                heartbeat_at=now,
                attempts=RunRow.attempts + 1,
                worker=worker,
            )
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:
            return None
        run = session.get_one(RunRow, run_id, populate_existing=True)
        rows = session.scalars(
            select(EvidenceRow)
            .where(EvidenceRow.retracted_at.is_(None), EvidenceRow.date <= run.as_of)
            .order_by(EvidenceRow.date, EvidenceRow.id)
        ).all()
        run.evidence_ids = [r.id for r in rows]
        return Claimed(run.id, run.as_of, run.seed, [evidence_item(r) for r in rows])


def publish(
    session_factory: sessionmaker[Session],
    run_id: str,
    worker: str,
    document: dict[str, Any],
    document_json: str,
    diagnostics: dict[str, Any],
    timings: dict[str, Any],
) -> bool:
    """Mark the run succeeded and publish its forecast with what it changed, in one
    transaction; False (nothing published) when ``worker`` no longer holds the run."""
    published_at = _timestamp(document.get("published_at")) or utcnow()
    with session_factory.begin() as session:
        run = _finish(session, run_id, worker, "succeeded", None, diagnostics, timings)
        if run is None:
            return False
        change = record_change(session, run, msgspec.json.decode(document_json))
        session.add(
            ForecastRow(
                run_id=run_id,
                as_of=run.as_of,
                published_at=published_at,
                document=document_json,
                change=change,
            )
        )
    return True


def _finish(
    session: Session,
    run_id: str,
    worker: str,
    status: str,
    error: str | None,
    diagnostics: dict[str, Any] | None,
    timings: dict[str, Any] | None,
) -> RunRow | None:
    """Mark the run finished (row-locked) with its outcome, if it is still running by
    ``worker``; else None, and the outcome is discarded.

    A worker that stalled for a whole lease may find its run taken back (queued, or
    claimed and perhaps finished by another worker): its result is not the run's.
    """
    run = session.get_one(RunRow, run_id, with_for_update=True)
    if run.status != "running" or run.worker != worker:
        logger.warning(
            "run %s: %s result of %s discarded: the run is %s, by %s (the lease was lost)",
            run_id,
            status,
            worker,
            run.status,
            run.worker or "no worker",
        )
        return None
    run.status = status
    run.finished_at = utcnow()
    run.error = error
    run.diagnostics = diagnostics
    run.timings = timings
    return run


def fail(
    session_factory: sessionmaker[Session],
    run_id: str,
    worker: str,
    error: str,
    diagnostics: dict[str, Any] | None = None,
    timings: dict[str, Any] | None = None,
) -> bool:
    """Mark the run failed; nothing is published. False (nothing recorded) when
    ``worker`` no longer holds the run."""
    with session_factory.begin() as session:
        return _finish(session, run_id, worker, "failed", error, diagnostics, timings) is not None


def requeue(session_factory: sessionmaker[Session], run_id: str, worker: str) -> None:
    """Give back a run interrupted by a shutdown, if ``worker`` still holds it; the
    interrupted attempt does not count."""
    with session_factory.begin() as session:
        run = session.get_one(RunRow, run_id, with_for_update=True)
        if run.status == "running" and run.worker == worker:
            run.attempts = max(run.attempts - 1, 0)
            _back_to_queue(session, run, "the worker was stopped")


def recover(database: Database, worker: str, lease_seconds: float) -> list[str]:
    """Runs that lost their worker go back to the queue; their ids.

    Called by ``worker`` when it fits nothing: at its start and as it polls. Which runs
    have lost their worker (a lease lapsed, the idle worker's own, a process of this host
    that has ended) is ``service.runs.leases``'s rule; a run whose worker renews its lease
    is left alone. A run that has already been started ``MAX_ATTEMPTS`` times is marked
    failed instead. The search is a plain read; the write transaction is taken only when
    it finds one.
    """
    running = select(RunRow).where(RunRow.status == "running").order_by(RunRow.requested_at)
    with database.reader() as session:
        found = [
            r.id for r in session.scalars(running) if lost_its_worker(r, worker, lease_seconds)
        ]
    if not found:
        return []
    recovered = []
    with database.sessions.begin() as session:
        locked = session.scalars(running.where(RunRow.id.in_(found)).with_for_update()).all()
        # Again under the row locks: a lease renewed meanwhile keeps its run.
        for run in (r for r in locked if lost_its_worker(r, worker, lease_seconds)):
            if run.attempts >= MAX_ATTEMPTS:
                run.status = "failed"
                run.finished_at = utcnow()
                run.error = f"the worker died during each of its {run.attempts} attempts"
                logger.error("run %s failed: %s", run.id, run.error)
            else:
                _back_to_queue(session, run, "the worker died or stalled")
            recovered.append(run.id)
    return recovered


def _back_to_queue(session: Session, run: RunRow, why: str) -> None:
    """Queue the run again, unless it is live and a newer live run already covers it."""
    if run.live:
        newer = session.scalars(
            select(RunRow.id).where(RunRow.status == "queued", RunRow.live.is_(True))
        ).first()
        if newer is not None:
            run.status = "failed"
            run.finished_at = utcnow()
            run.error = f"{why} during this run; superseded by queued run {newer}"
            logger.warning("run %s: %s", run.id, run.error)
            return
    run.status = "queued"
    run.started_at = None
    run.worker = None
    run.heartbeat_at = None
    session.flush()
    logger.warning("run %s queued again: %s during it (attempt %d)", run.id, why, run.attempts)


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
