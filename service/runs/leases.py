"""Run leases: which worker holds a running run, and when a run has lost its worker.

Several workers may share the queue (on PostgreSQL; on SQLite, the workers of one
machine). A claim names the worker (``host:pid``) and stamps ``heartbeat_at``; the worker
renews the stamp every quarter of the lease while it fits (``service.worker.renewal``).
A running run has lost its worker, and an idle worker takes it back, when

- its lease has lapsed: ``heartbeat_at`` older than the lease (or never set, a run
  claimed before leases existed); the worker died, or stalled for a whole lease, on any
  host. Hosts' clocks must agree to well within the lease;
- it names the idle worker itself: a worker that is not fitting holds nothing, so a run
  still marked as its own was left by a fit or a publication a storage outage cut short,
  or by a dead process whose pid it now has;
- it names a process of this host that no longer runs. A worker restarted on the same
  machine (every SQLite deployment) takes its dead predecessor's run at once rather than
  after a lease. A process whose pid is taken by another meanwhile looks alive: its run
  waits for the lease.

Names are unique while the workers that share a host name share its process ids (one
machine, or containers in one pid namespace); the rules rely on that as the claims do.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from forecast.data.clock import utcnow
from service.common.tables import RunRow
from service.common.worker_status import process_running

logger = logging.getLogger(__name__)

# A running worker renews its lease this many times per lease length.
RENEWALS_PER_LEASE = 4


def worker_name() -> str:
    """This process's name as a claimant of runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def renew_every(lease_seconds: float) -> float:
    """Seconds between renewals of a lease of ``lease_seconds``."""
    return lease_seconds / RENEWALS_PER_LEASE


def known_gone(worker: str | None) -> bool:
    """Whether ``worker`` (a claimant's name) is a process of this host that has ended.

    False for another host's worker, or a name not of the form ``host:pid``: only its
    lease can tell.
    """
    host, _, pid = (worker or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not process_running(int(pid))


def lost_its_worker(
    run: RunRow, idle_worker: str, lease_seconds: float, now: dt.datetime | None = None
) -> bool:
    """Whether the running ``run`` has lost its worker, as seen by ``idle_worker`` (a
    worker fitting nothing) at ``now``; the rules are the module's."""
    now = now or utcnow()
    lapsed = run.heartbeat_at is None or run.heartbeat_at < now - dt.timedelta(
        seconds=lease_seconds
    )
    return lapsed or run.worker == idle_worker or known_gone(run.worker)


def renew(session_factory: sessionmaker[Session], run_id: str, worker: str) -> bool:
    """Stamp the lease of ``worker`` on its running run, in a transaction of its own.

    Returns False when the run is no longer running by ``worker`` (another worker took it
    back after the lease lapsed, or it was finished): the lease is lost.
    """
    with session_factory.begin() as session:
        renewed = session.execute(
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == "running", RunRow.worker == worker)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return renewed.rowcount == 1
