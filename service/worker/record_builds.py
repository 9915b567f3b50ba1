"""The worker rebuilds a missing or stale track record when it has nothing else to do, in
a child process at the lowest CPU priority.

The record replays every resolved question at its checkpoints (minutes of fitting:
``forecast/checks/track_record.py``). The worker checks the record at most once a minute
while idle (``forecast.track_record_file.read_status``, against the served questions); when
it is missing or stale it starts ``python -m forecast track-record`` at nice 19, which
dies with the worker, and goes on serving runs: a rerun outranks it for the cores (the
worker runs at ``FORECAST_WORKER_NICE``). A build that fails is logged and not tried
again for an hour. ``FORECAST_TRACK_RECORD_BUILD=off`` switches this off (the record is
then made by hand, with the command ``GET /track-record`` names).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from forecast.data.questions import QuestionDir
from forecast.processes import die_with_parent
from forecast.track_record_file import read_status

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 60.0
RETRY_AFTER_FAILURE_SECONDS = 3600.0
LOWEST_PRIORITY = 19
LOG_FILE = "track-record-build.log"


class RecordBuilds:
    """Starts, watches and stops the track record's background build."""

    def __init__(
        self,
        record: Path,
        questions: Sequence[QuestionDir],
        log_dir: Path,
        enabled: bool = True,
        clock=time.monotonic,
        command: Sequence[str] | None = None,
    ):
        self.record, self.questions, self.log_dir = record, list(questions), log_dir
        self.enabled = enabled and any(q.resolved for q in questions)
        self.clock = clock
        # The build: the CLI's track-record on the served questions (tests give another).
        self.command = list(command) if command is not None else self._command()
        self.process: subprocess.Popen[bytes] | None = None
        self.next_check = 0.0
        self.just_built = False  # the last build succeeded and its record is not checked yet

    def when_idle(self) -> None:
        """Called when no run is queued: watch a build, or start one if the record is
        missing or stale (checked at most once a minute)."""
        if not self.enabled:
            return
        if self.process is not None:
            self._watch()
            return
        if self.clock() < self.next_check:
            return
        self.next_check = self.clock() + CHECK_EVERY_SECONDS
        found = read_status(self.record, self.questions)
        built, self.just_built = self.just_built, False
        if found.status == "ok":
            return
        if built:
            # A record just made that this process still finds stale: its code changed
            # under it (this process reads the code it started with). Not rebuilt in a loop.
            logger.warning(
                "track record %s: rebuilt, still %s for this worker (%s); next try in an hour "
                "(restart the service after changing its code)",
                self.record,
                found.status,
                found.reason,
            )
            self.next_check = self.clock() + RETRY_AFTER_FAILURE_SECONDS
            return
        self._start(found.reason or found.status)

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "forecast", "track-record", "--out", str(self.record)]
        command += ["--questions", ",".join(str(q.path) for q in self.questions)]
        return [*command, "--data", str(self.questions[0].path)] if self.questions else command

    def _start(self, why: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        parent = os.getpid()
        with (self.log_dir / LOG_FILE).open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=lambda: _lowest_priority_child(parent),
            )
        logger.info(
            "track record %s (%s): rebuilding it at the lowest priority (pid %d, log %s)",
            self.record,
            why,
            self.process.pid,
            self.log_dir / LOG_FILE,
        )

    def _watch(self) -> None:
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return
        self.process = None
        if code == 0:
            logger.info("track record %s rebuilt", self.record)
            self.next_check, self.just_built = self.clock(), True
        else:
            logger.error(
                "the track record's build exited with %s (log: %s); next try in an hour",
                code,
                self.log_dir / LOG_FILE,
            )
            self.next_check = self.clock() + RETRY_AFTER_FAILURE_SECONDS

    def stop(self) -> None:
        """Stop a build in progress (the worker is stopping)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _lowest_priority_child(parent: int) -> None:
    """In the child, before it runs the command: nice 19, and die with the worker."""
    os.nice(LOWEST_PRIORITY - os.nice(0))
    die_with_parent(parent)
