"""``python -m service``: migrate, seed, start the worker, serve the API with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import types

import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.data.dataset import Dataset, load_dataset
from forecast.data.records import ValidationError
from service.app import create_app
from service.common.db import Database, connect, migrate
from service.common.tables import ForecastRow, RunRow
from service.evidence.service import seed_evidence
from service.forecasts.live import live_forecasts
from service.http.server import server_options
from service.runs.queue import in_transaction, queue_live_run
from service.settings import CONFIG_ERROR, Settings, settings_for_process

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0
RESTART_BACKOFF_SECONDS = 5.0


class WorkerSupervisor:
    """Runs ``python -m service.worker`` as a child; restarts it if it dies unasked."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _spawn(self) -> None:
        env = {**os.environ, "FORECAST_PARENT_PID": str(os.getpid())}
        self.process = subprocess.Popen([sys.executable, "-m", "service.worker"], env=env)
        logger.info("worker started (pid %d)", self.process.pid)

    def _watch(self) -> None:
        while not self.stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            if self.stopping.is_set():
                return
            if code == CONFIG_ERROR:
                logger.error("the worker cannot start (see above); runs stay queued")
                return
            logger.error(
                "worker exited with %s; restarting in %.0f s", code, RESTART_BACKOFF_SECONDS
            )
            if self.stopping.wait(RESTART_BACKOFF_SECONDS):
                return
            self._spawn()

    def stop(self) -> None:
        """SIGTERM (a run in progress is handed back to the queue), SIGKILL if it hangs."""
        self.stopping.set()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("worker did not stop in %.0f s; killing it", STOP_TIMEOUT_SECONDS)
            self.process.kill()
            self.process.wait()


def queue_first_run(database: Database, dataset: Dataset, seed: int) -> str | None:
    """Queue a live run if no live forecast is served and no run is queued or running."""

    def work(session: Session) -> str | None:
        if session.scalar(live_forecasts(ForecastRow.run_id).limit(1)) is not None:
            return None
        pending = select(RunRow.id).where(RunRow.status.in_(("queued", "running"))).limit(1)
        if session.scalar(pending) is not None:
            return None
        return queue_live_run(session, dataset, trigger="startup", seed=seed).id

    return in_transaction(database.sessions, work)


def prepare(settings: Settings, *, fit_if_empty: bool) -> None:
    """Migrate the database, seed the shipped evidence once, queue a first run if asked."""
    dataset = load_dataset(settings.data_dir)
    database = connect(settings.database_url)
    try:
        migrate(database)
        seed_evidence(database, dataset)
        if fit_if_empty:
            run_id = queue_first_run(database, dataset, settings.seed)
            if run_id:
                logger.info("no forecast is published yet: queued run %s", run_id)
    finally:
        database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument(
        "--fit-if-empty",
        action="store_true",
        help="queue a first run when no forecast is published and none is queued",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="serve only; run `python -m service.worker` separately (one per database)",
    )
    args = parser.parse_args(argv)
    settings = settings_for_process()
    if settings is None:
        return CONFIG_ERROR
    try:
        prepare(settings, fit_if_empty=args.fit_if_empty)
    except ValidationError as exc:
        logger.error("the data in %s is not valid: %s", settings.data_dir, exc)
        return 1
    supervisor = None if args.no_worker else WorkerSupervisor()
    if supervisor is not None:
        supervisor.start()
    # uvicorn re-raises the SIGTERM it caught once it has shut down; this handler turns
    # it into an exit that stops the worker below instead of killing this process.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(create_app(settings), **server_options(settings))
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0


def _exit_on_signal(signum: int, _frame: types.FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
