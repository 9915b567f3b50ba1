"""``python -m service``: start the worker, then migrate, seed and serve the API.

The worker starts first, before this process imports the API: its seconds of imports and
compiling overlap with the API's imports and the migrations, and it waits for the
database's schema (``service.common.db.wait_for_schema``) before it reads or writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import types

from service.settings import CONFIG_ERROR, settings_for_process

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
    supervisor = None if args.no_worker else WorkerSupervisor()
    if supervisor is not None:
        supervisor.start()
    # uvicorn re-raises the SIGTERM it caught once it has shut down; this handler turns
    # it (or one that comes sooner) into an exit that stops the worker below instead of
    # killing this process.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        # Imported once the worker is starting: these imports take a second or two.
        from service.startup import StartError, prepare, serve_api

        try:
            prepare(settings, fit_if_empty=args.fit_if_empty)
        except StartError as exc:
            logger.error("the questions cannot be served: %s", exc)
            return 1
        serve_api(settings)
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0


def _exit_on_signal(signum: int, _frame: types.FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
