"""Several workers on one queue, on SQLite and PostgreSQL: each run claimed once, a run
whose lease lapsed taken back, and a worker that lost its run publishing nothing."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from forecast.data.clock import utcnow
from service.common.db import Database, connect
from service.common.tables import ForecastRow, RunRow
from service.runs.leases import renew_every
from service.runs.queue import (
    claim_next,
    fail,
    has_queued,
    in_transaction,
    publish,
    queue_run,
    recover,
)
from service.worker.loop import process_one
from service.worker.renewal import Renewal
from service.worker.writes import WorkerWrites

LEASE_SECONDS = 60.0
# Workers of other hosts: only their leases can tell whether they still run.
ONE, OTHER = "host-one:101", "host-two:202"


@pytest.fixture(params=["settings", "pg_settings"])
def shared(request) -> Iterator[Database]:
    """A database the workers share: SQLite, then PostgreSQL."""
    database = connect(request.getfixturevalue(request.param).database_url)
    yield database
    database.dispose()


def manual_runs(database: Database, count: int) -> list[str]:
    """``count`` manual runs queued, one a day from 2024-03-01."""

    def work(session):
        start = dt.date(2024, 3, 1)
        return [
            queue_run(session, as_of=start + dt.timedelta(days=i), seed=1, trigger="manual").id
            for i in range(count)
        ]

    return in_transaction(database.sessions, work)


def run_row(database: Database, run_id: str) -> RunRow:
    with database.reader() as session:
        return session.get_one(RunRow, run_id)


def age_lease(database: Database, run_id: str, seconds: float) -> None:
    """Make the run's last heartbeat ``seconds`` old."""
    with database.sessions.begin() as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(heartbeat_at=utcnow() - dt.timedelta(seconds=seconds))
        )


def forecasts_of(database: Database, run_id: str) -> int:
    with database.reader() as session:
        return session.scalar(
            select(func.count()).select_from(ForecastRow).where(ForecastRow.run_id == run_id)
        )


def test_racing_claimants_claim_every_run_exactly_once(shared):
    queued = manual_runs(shared, 60)
    claimants = [f"host-{i}:{i}" for i in range(4)]
    claims: dict[str, list[str]] = {name: [] for name in claimants}
    start = threading.Barrier(len(claimants))

    def claim_all(name: str) -> None:
        start.wait()
        while True:
            claimed = claim_next(shared.sessions, name)
            if claimed is not None:
                claims[name].append(claimed.run_id)
            elif not has_queued(shared.reader):
                return

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in claimants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [run_id for runs in claims.values() for run_id in runs]
    assert sorted(every) == sorted(queued)  # each once, none missed
    for name, runs in claims.items():
        for run_id in runs:
            run = run_row(shared, run_id)
            assert (run.status, run.worker, run.attempts) == ("running", name, 1)
            assert run.heartbeat_at is not None


def test_a_run_whose_lease_lapsed_is_taken_back_and_one_renewed_is_not(shared):
    stale, fresh = manual_runs(shared, 2)
    assert claim_next(shared.sessions, ONE).run_id == stale
    assert claim_next(shared.sessions, OTHER).run_id == fresh
    age_lease(shared, stale, LEASE_SECONDS + 1)
    age_lease(shared, fresh, LEASE_SECONDS - 5)
    assert recover(shared, "host-three:303", LEASE_SECONDS) == [stale]
    taken, kept = run_row(shared, stale), run_row(shared, fresh)
    assert (taken.status, taken.worker, taken.attempts) == ("queued", None, 1)
    assert (kept.status, kept.worker) == ("running", OTHER)
    assert claim_next(shared.sessions, "host-three:303").run_id == stale


def test_a_renewing_worker_keeps_its_run_past_the_lease(shared):
    (run_id,) = manual_runs(shared, 1)
    claim_next(shared.sessions, ONE)
    lease = 0.4
    with Renewal(shared.sessions, run_id, ONE, renew_every(lease)) as renewal:
        for _ in range(6):  # three leases in all
            time.sleep(lease / 2)
            assert recover(shared, OTHER, lease) == []
    assert not renewal.lost
    time.sleep(lease * 1.5)  # the renewals stopped with the block: the lease lapses
    assert recover(shared, OTHER, lease) == [run_id]


def test_the_renewal_stops_when_the_run_was_taken_back(shared):
    (run_id,) = manual_runs(shared, 1)
    claim_next(shared.sessions, ONE)
    age_lease(shared, run_id, LEASE_SECONDS + 1)
    recover(shared, OTHER, LEASE_SECONDS)
    with Renewal(shared.sessions, run_id, ONE, 0.01) as renewal:
        time.sleep(0.3)
    assert renewal.lost
    assert run_row(shared, run_id).heartbeat_at is None  # nothing renewed on a queued run


def test_the_idle_worker_takes_back_a_lapsed_run_as_it_polls(shared, tmp_path):
    (run_id,) = manual_runs(shared, 1)
    claim_next(shared.sessions, ONE)
    now = [0.0]
    writes = WorkerWrites(shared, tmp_path / "status.json", OTHER, LEASE_SECONDS, lambda: now[0])
    assert writes.ready()  # at its start: the run's lease is fresh
    assert run_row(shared, run_id).status == "running"
    age_lease(shared, run_id, LEASE_SECONDS + 1)
    now[0] += renew_every(LEASE_SECONDS)
    assert writes.ready()
    assert (run_row(shared, run_id).status, run_row(shared, run_id).worker) == ("queued", None)


def test_a_worker_takes_back_its_own_run_and_a_dead_local_workers_at_once(shared, dead_worker):
    # What a restart on one machine (every SQLite deployment) needs: no lease to wait.
    own, predecessors, elsewhere = manual_runs(shared, 3)
    assert claim_next(shared.sessions, "host-three:303").run_id == own
    assert claim_next(shared.sessions, dead_worker).run_id == predecessors
    assert claim_next(shared.sessions, ONE).run_id == elsewhere
    assert recover(shared, "host-three:303", LEASE_SECONDS) == [own, predecessors]
    assert run_row(shared, elsewhere).status == "running"  # another host's: its lease is fresh


def test_a_worker_that_lost_its_lease_publishes_and_fails_nothing(shared):
    (run_id,) = manual_runs(shared, 1)
    claim_next(shared.sessions, ONE)
    age_lease(shared, run_id, LEASE_SECONDS + 1)  # ONE stalled for a whole lease
    assert recover(shared, OTHER, LEASE_SECONDS) == [run_id]
    # Back in the queue: ONE's late result is discarded.
    assert not publish(shared.sessions, run_id, ONE, {}, "{}", {"passed": True}, {})
    assert not fail(shared.sessions, run_id, ONE, "late")
    assert run_row(shared, run_id).status == "queued"
    # Claimed again by OTHER: ONE still cannot record it, OTHER can.
    claim_next(shared.sessions, OTHER)
    assert not publish(shared.sessions, run_id, ONE, {}, "{}", {"passed": True}, {})
    assert forecasts_of(shared, run_id) == 0
    assert publish(shared.sessions, run_id, OTHER, {}, "{}", {"passed": True}, {})
    assert not fail(shared.sessions, run_id, ONE, "late")
    run = run_row(shared, run_id)
    assert (run.status, run.worker, run.error, forecasts_of(shared, run_id)) == (
        "succeeded",
        OTHER,
        None,
        1,
    )


class Stalling:
    """A forecaster during whose fit the worker stalls for a whole lease: another worker
    takes its run back meanwhile."""

    def __init__(self, forecaster, database: Database):
        self.forecaster, self.database = forecaster, database

    def run(self, *args, run_id: str, **kwargs):
        age_lease(self.database, run_id, LEASE_SECONDS + 1)
        assert recover(self.database, OTHER, LEASE_SECONDS) == [run_id]
        return self.forecaster.run(*args, run_id=run_id, **kwargs)


def test_the_worker_discards_a_fit_whose_run_was_taken_back_and_goes_on(
    database, settings, forecaster, caplog
):
    (run_id,) = manual_runs(database, 1)
    assert process_one(database.sessions, Stalling(forecaster, database), settings) == run_id
    run = run_row(database, run_id)
    assert (run.status, run.worker, forecasts_of(database, run_id)) == ("queued", None, 0)
    assert "discarded" in caplog.text
