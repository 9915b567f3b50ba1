"""Two worker processes on one PostgreSQL database: each run published once, and the run
of a worker killed while it fits taken up by the other once its lease has lapsed."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from forecast.polling import wait_until
from service.common.db import Database, connect
from service.common.tables import ForecastRow, RunRow
from service.runs.queue import in_transaction, queue_run
from service.settings import Settings
from tests.service.conftest import GATE_CONFIG, SAMPLER_CONFIG

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2.0


class Worker:
    """``python -m tests.service.stand_in_worker`` as the host ``host``."""

    def __init__(self, settings: Settings, host: str, root: Path, hold: Path):
        self.host, self.log = host, root / f"{host}.log"
        env = {
            **os.environ,
            "FORECAST_DATABASE_URL": settings.database_url,
            "FORECAST_DATA_DIR": str(settings.data_dir),
            "FORECAST_QUESTIONS": settings.questions,
            "FORECAST_ARTIFACTS_DIR": str(root / host),
            "FORECAST_SAMPLER_CONFIG": json.dumps(SAMPLER_CONFIG),
            "FORECAST_GATE_CONFIG": json.dumps(GATE_CONFIG),
            "FORECAST_POLL_SECONDS": "0.05",
            "FORECAST_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "STAND_IN_HOST": host,
            "STAND_IN_HOLD": str(hold),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.service.stand_in_worker"],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.name = f"{host}:{self.process.pid}"

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        return "worker ready" in self.log.read_text()


@pytest.fixture
def workers(pg_settings: Settings, tmp_path: Path) -> Iterator[list[Worker]]:
    hold = tmp_path / "hold"
    started = [Worker(pg_settings, host, tmp_path, hold) for host in ("host-a", "host-b")]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
                worker.process.wait(30)


def queue_manual(database: Database, days: range) -> list[str]:
    def work(session):
        return [
            queue_run(session, as_of=dt.date(2024, 3, day), seed=1, trigger="manual").id
            for day in days
        ]

    return in_transaction(database.sessions, work)


def runs(database: Database, ids: list[str]) -> list[RunRow]:
    with database.reader() as session:
        return list(session.scalars(select(RunRow).where(RunRow.id.in_(ids))))


def published(database: Database) -> list[str]:
    with database.reader() as session:
        return list(session.scalars(select(ForecastRow.run_id)))


@pytest.mark.slow
def test_two_workers_share_the_queue_and_one_takes_up_the_run_of_the_other_killed(
    workers, pg_settings, tmp_path
):
    database = connect(pg_settings.database_url)
    logs = lambda: "\n".join(w.log.read_text()[-3000:] for w in workers)  # noqa: E731
    try:
        for worker in workers:
            wait_until(worker.ready, f"{worker.host} ready", 60, every=0.1)

        # Several runs at once: each claimed once and published once, by both workers.
        batch = queue_manual(database, range(1, 11))
        wait_until(
            lambda: all(r.status == "succeeded" for r in runs(database, batch)),
            "the batch published",
            30,
            every=0.1,
        )
        done = runs(database, batch)
        assert all(r.attempts == 1 for r in done), logs()
        assert sorted(published(database)) == sorted(batch)
        assert {r.worker for r in done} == {w.name for w in workers}, logs()

        # A worker killed while it fits: its lease is renewed while it lives, then lapses.
        (tmp_path / "hold").touch()
        (held,) = queue_manual(database, range(20, 21))
        wait_until(lambda: runs(database, [held])[0].status == "running", "a claim", 10)
        holder = next(w for w in workers if w.name == runs(database, [held])[0].worker)
        time.sleep(LEASE_SECONDS * 1.5)
        (run,) = runs(database, [held])
        assert (run.status, run.worker, run.attempts) == ("running", holder.name, 1), logs()
        holder.process.send_signal(signal.SIGKILL)
        holder.process.wait(10)
        killed_at = time.monotonic()
        (tmp_path / "hold").unlink()
        wait_until(lambda: runs(database, [held])[0].status == "succeeded", "the run taken up", 20)
        taken_after = time.monotonic() - killed_at
        (other,) = [w for w in workers if w is not holder]
        (run,) = runs(database, [held])
        assert (run.worker, run.attempts) == (other.name, 2), logs()
        assert published(database).count(held) == 1
        # Not before the lease lapsed (renewed up to a quarter lease before the kill).
        assert taken_after >= LEASE_SECONDS * 0.5, logs()
    finally:
        database.dispose()
