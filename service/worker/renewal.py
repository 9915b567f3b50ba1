"""The lease on the run being fitted, renewed by a thread while the fit holds the main one."""

from __future__ import annotations

import logging
import threading
import types

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.runs.leases import renew

logger = logging.getLogger(__name__)


class Renewal:
    """While in its ``with`` block, renew ``worker``'s lease on ``run_id`` every ``every``
    seconds (``service.runs.leases``), each renewal a transaction of its own.

    A renewal that fails (the database gone for a moment) is logged and tried again at
    the next; one that finds the run taken back stops renewing: the fit goes on, and its
    result is discarded when recorded (``queue.publish``, ``queue.fail``). The thread
    stops when the block ends, however it ends.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], run_id: str, worker: str, every: float
    ):
        self.session_factory = session_factory
        self.run_id, self.worker, self.every = run_id, worker, every
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> Renewal:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: types.TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self.every):
            try:
                held = renew(self.session_factory, self.run_id, self.worker)
            except SQLAlchemyError as exc:
                logger.warning("run %s: the lease could not be renewed: %s", self.run_id, exc)
                continue
            if not held:
                self.lost = True
                logger.warning(
                    "run %s: the lease was lost (the run was taken back); its result will be "
                    "discarded",
                    self.run_id,
                )
                return
