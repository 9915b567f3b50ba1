"""Storage outages: a database that cannot be written is a 503, not a bug.

A write that fails with an operational error (files read-only, disk full, the server
gone) marks writes unavailable with the reason; ``/health`` reports it and, while it
lasts, checks with a write that changes nothing whether writes work again.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.common.db import Database

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait after a write failed for want of storage.
WRITE_RETRY_AFTER_SECONDS = 30
# A write that changes nothing: the row is written as it is and committed (a write rolled
# back never reaches SQLite's WAL, so it cannot tell whether the files take writes).
_PROBE = text("UPDATE alembic_version SET version_num = version_num")


class WriteStatus:
    """Whether the database takes writes, as the last write (or probe) found it."""

    def __init__(self, database: Database, clock=time.monotonic):
        self.database = database
        self.clock = clock
        self.reason: str | None = None
        self.since: float | None = None
        self.lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        """Record a write that failed for want of storage (logged once per outage)."""
        reason = reason_of(exc)
        with self.lock:
            first = self.reason is None
            self.reason, self.since = reason, self.since or self.clock()
        if first:
            logger.error("writes are unavailable: %s", reason)

    def enabled(self) -> bool:
        """True unless the last write failed and a probe write still fails."""
        if self.reason is None:
            return True
        # SQLite opens a file it cannot write read-only, and such a connection stays so:
        # the pool's connections from the outage are dropped, the probe opens a new one.
        self.database.engine.dispose()
        try:
            with self.database.sessions() as session:
                session.execute(_PROBE)
                session.commit()
        except SQLAlchemyError as exc:
            with self.lock:
                self.reason = reason_of(exc)
            return False
        with self.lock:
            self.reason = self.since = None
        logger.warning("writes work again")
        return True


def reason_of(exc: BaseException) -> str:
    """The driver's message without the statement and parameters (they hold user data)."""
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0][:200] if str(original) else type(original).__name__
