"""The worker's database writes: an outage is waited out and reported, not a crash.

A write of the worker's that fails for want of storage (files read-only, disk full, the
server gone) is recorded in the worker's status file (``service.common.worker_status``),
which ``/health`` reads. While it lasts the worker claims nothing and checks with a probe
write every ``WRITE_PROBE_SECONDS``; once writes work again it says so in the file and
hands back to the queue any run it was fitting or publishing (``queue.recover``).

The same recovery runs at the worker's start and then, while it fits nothing, once per
lease renewal period: runs whose worker died or stalled (``service.runs.leases``) go back
to the queue.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy.exc import OperationalError

from service.common.db import Database
from service.common.outages import WriteStatus
from service.common.worker_status import remove_report, report_now, write_report
from service.runs import queue
from service.runs.leases import renew_every

logger = logging.getLogger(__name__)

# Seconds between probe writes while the database refuses the worker's writes.
WRITE_PROBE_SECONDS = 1.0


class WorkerWrites:
    """Whether the worker may go on claiming runs, as its writes last found."""

    def __init__(
        self,
        database: Database,
        status_path: Path,
        worker: str,
        lease_seconds: float,
        clock=time.monotonic,
    ):
        self.database = database
        self.status_path = status_path
        self.worker, self.lease_seconds = worker, lease_seconds
        self.clock = clock
        self.status = WriteStatus(database, clock)
        self.recovered = False
        self.next_recovery = 0.0
        self.failing_since: float | None = None
        self.next_probe = 0.0

    def ready(self) -> bool:
        """True once writes work and interrupted runs are back in the queue (called when
        the worker fits nothing).

        While writes fail, a probe write at most every ``WRITE_PROBE_SECONDS`` (else
        False at once); the report is refreshed with each probe. Once they work, runs
        that lost their worker are looked for at once, then every lease renewal period.

        Raises
        ------
        OperationalError
            Recovering the interrupted runs failed (pass it to ``failed``).
        """
        if self.status.reason is not None:
            if self.clock() < self.next_probe:
                return False
            self.next_probe = self.clock() + WRITE_PROBE_SECONDS
            if not self.status.enabled():
                self._report()
                return False
            self.failing_since = None
        if not self.recovered or self.clock() >= self.next_recovery:
            recovered = queue.recover(self.database, self.worker, self.lease_seconds)
            if recovered:
                logger.warning(
                    "recovered %d interrupted run(s): %s", len(recovered), ", ".join(recovered)
                )
            self.next_recovery = self.clock() + renew_every(self.lease_seconds)
            if not self.recovered:
                self.recovered = True
                self._report()
        return True

    def failed(self, exc: OperationalError) -> None:
        """A write failed for want of storage: report it and probe until writes work."""
        self.status.failed(exc)
        self.failing_since = self.failing_since or time.time()
        # A run claimed before the failure may be left running: recovered once writes work.
        self.recovered = False
        self.next_probe = self.clock() + WRITE_PROBE_SECONDS
        self._report()

    def stopped(self) -> None:
        remove_report(self.status_path)

    def _report(self) -> None:
        write_report(self.status_path, report_now(self.status.reason, self.failing_since))
