"""Whether the live forecast reflects every stored evidence item (and today, on the live
clock), and if not, why not; how old its cut-off is."""

from __future__ import annotations

import logging

import msgspec
from sqlalchemy import select

from forecast.data.clock import today
from service.common.db import Database
from service.common.tables import EvidenceRow, ForecastRow, RunRow
from service.forecasts.schemas import FailedRun, Freshness, PendingRun
from service.publication.live import live_runs

logger = logging.getLogger(__name__)


def freshness(database: Database, live_run_id: str, clock: str = "evidence") -> Freshness:
    """Compare the evidence the live forecast was fitted on with the evidence stored now,
    and its cut-off with today (``clock.today``).

    An item stored since (or retracted since) is pending; on the ``live`` clock, so is
    every day since the cut-off. The newest run that follows the evidence says why it is
    not reflected yet: it is queued or running (``pending_run``), or it failed
    (``failed_run``, with the gate's reason).
    """
    with database.reader() as session:
        fitted = set(
            session.scalar(select(RunRow.evidence_ids).where(RunRow.id == live_run_id)) or ()
        )
        as_of = session.scalar(select(ForecastRow.as_of).where(ForecastRow.run_id == live_run_id))
        rows = session.execute(select(EvidenceRow.id, EvidenceRow.retracted_at)).all()
        newest = session.execute(
            live_runs(RunRow.id, RunRow.status, RunRow.error, RunRow.finished_at).limit(1)
        ).first()
    age = (today() - as_of).days if as_of is not None else None
    standing = {i for i, retracted_at in rows if retracted_at is None}
    retracted = {i for i, retracted_at in rows if retracted_at is not None}
    pending = sorted((standing - fitted) | (retracted & fitted))
    behind = clock == "live" and age is not None and age > 0
    if not pending and not behind:
        return Freshness(up_to_date=True, pending_evidence=[], clock=clock, cut_off_age_days=age)
    pending_run = failed_run = None
    if newest is not None and newest.status in ("queued", "running"):
        pending_run = PendingRun(run_id=newest.id, status=newest.status)
    elif newest is not None and newest.status == "failed":
        failed_run = FailedRun(
            run_id=newest.id, reason=newest.error or "failed", finished_at=newest.finished_at
        )
    return Freshness(
        up_to_date=False,
        pending_evidence=pending,
        pending_run=pending_run,
        failed_run=failed_run,
        clock=clock,
        cut_off_age_days=age,
    )


def with_freshness(body: bytes, state: Freshness) -> bytes:
    """The document's JSON bytes with ``freshness`` added as its last field."""
    body = body.rstrip()
    if not body.endswith(b"}"):
        raise ValueError("a forecast document is a JSON object")
    return body[:-1] + b',"freshness":' + msgspec.json.encode(state) + b"}"
