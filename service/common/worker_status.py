"""The worker's report of its database writes: a small file the API process reads.

The worker writes it when a write of its own fails for want of storage, on each probe
write while that lasts, and once its writes work again; ``/health`` reads it. It is a
file beside the run artifacts, not a row, because it has to say that the database cannot
be written. It is replaced atomically (a temporary file renamed over it); if that fails
(a full disk), it is overwritten in place, which needs no new blocks: every report is
padded to the same size.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import msgspec

from forecast.files import replacing

logger = logging.getLogger(__name__)

# In the artifacts directory, which the worker writes and the API process reads.
WORKER_STATUS_FILE = "worker-status.json"
# Beside it: the last compile's time in seconds, which the next start expects.
COMPILE_FILE = "worker-compile-seconds.json"
# Every report is padded to this many bytes (JSON allows trailing spaces).
REPORT_BYTES = 2048


class WorkerReport(msgspec.Struct, kw_only=True):
    """What the worker last found of its writes. Times are Unix seconds."""

    pid: int
    host: str
    reported_at: float
    # Why the worker's last write (or probe write) failed; None while they work.
    writes_reason: str | None = None
    failing_since: float | None = None
    # What the worker is doing: compiling the model (from ``phase_started``, expected to
    # take ``expected_seconds``, the last compile's time, if known) or ready for runs.
    phase: str = "ready"
    phase_started: float | None = None
    expected_seconds: float | None = None


def report_now(
    writes_reason: str | None = None,
    failing_since: float | None = None,
    *,
    phase: str = "ready",
    expected_seconds: float | None = None,
) -> WorkerReport:
    """This process's report, stamped now (a ``compiling`` phase starts now)."""
    now = time.time()
    return WorkerReport(
        pid=os.getpid(),
        host=socket.gethostname(),
        reported_at=now,
        writes_reason=None if writes_reason is None else writes_reason[:200],
        failing_since=failing_since,
        phase=phase,
        phase_started=now if phase == "compiling" else None,
        expected_seconds=expected_seconds,
    )


def read_compile_seconds(folder: Path) -> float | None:
    """How long the last worker took to compile the model (``COMPILE_FILE``), or None."""
    try:
        return float(msgspec.json.decode((folder / COMPILE_FILE).read_bytes())["seconds"])
    except (OSError, msgspec.DecodeError, KeyError, TypeError, ValueError):
        return None


def write_compile_seconds(folder: Path, seconds: float) -> None:
    """Keep this compile's time: the next start expects as long (the page counts down)."""
    try:
        with replacing(folder / COMPILE_FILE) as partial:
            partial.write_bytes(msgspec.json.encode({"seconds": round(seconds, 1)}))
    except OSError as exc:
        logger.warning("the compile time cannot be kept in %s: %s", folder, exc)


def write_report(path: Path, report: WorkerReport) -> bool:
    """Replace the report at ``path``; False (logged) if it could not be written at all."""
    data = msgspec.json.encode(report).ljust(REPORT_BYTES)
    try:
        with replacing(path) as partial:
            partial.write_bytes(data)
        return True
    except OSError as exc:  # the partial file is gone; a read-only folder? write in place
        replace_error = exc
    try:
        with path.open("r+b") as handle:
            handle.write(data)
            handle.truncate(len(data))
        return True
    except OSError as exc:
        logger.error(
            "the worker's status file %s cannot be written: %s; then %s", path, replace_error, exc
        )
        return False


def read_report(path: Path) -> WorkerReport | None:
    """The worker's last report, or None: no report, one that cannot be read (a report
    overwritten in place while read is read again by the next request), or one left by a
    worker on this host that is no longer running."""
    try:
        report = msgspec.json.decode(path.read_bytes(), type=WorkerReport)
    except (OSError, msgspec.DecodeError):
        return None
    if report.host == socket.gethostname() and not process_running(report.pid):
        return None
    return report


def remove_report(path: Path) -> None:
    """The worker stopped: nothing to report (a report it cannot remove is ignored once it
    has stopped, see ``read_report``)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("the worker's status file %s cannot be removed: %s", path, exc)


def process_running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
