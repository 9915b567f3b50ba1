"""Runs whose stored draws are missing or unreadable: remembered with the file's size and
time and answered 503 at once, logged once, until the file changes."""

from __future__ import annotations

import logging
from pathlib import Path

from forecast.posterior.draws import DRAWS_FILE
from service.common.errors import Unavailable
from service.common.schemas import ProblemError
from service.forecasts.whatif_process import MissingDraws, UnreadableDraws

logger = logging.getLogger(__name__)

# A run whose draws cannot be used stays so until someone restores them.
UNAVAILABLE_RETRY_AFTER_SECONDS = 60


class UnavailableDraws:
    """What is known of runs whose draws could not be used, so that the next request for
    one costs a ``stat``, not a computation."""

    def __init__(self) -> None:
        # Run folder to its draws file's (size, mtime) or None, and the answer given.
        self.known: dict[Path, tuple[tuple[int, int] | None, Unavailable]] = {}

    def check(self, run_dir: Path) -> None:
        """Raise the remembered ``Unavailable`` for the run in ``run_dir``, unless its file
        changed."""
        known = self.known.get(run_dir)
        if known is None:
            return
        signature, answer = known
        if self._signature(run_dir) != signature:
            del self.known[run_dir]
            return
        raise Unavailable(answer.detail, answer.errors, answer.headers)

    def remember(self, run_dir: Path, exc: MissingDraws, field: str) -> Unavailable:
        """The 503 for a run whose draws ``exc`` says are missing or unreadable, kept."""
        run_id = run_dir.name
        what = "cannot be read" if isinstance(exc, UnreadableDraws) else "are missing"
        answer = Unavailable(
            f"the stored draws of run {run_id} {what}: only the published forecast can be served",
            [ProblemError(field, "cannot be computed for this run", "omit it")],
            {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )
        if run_dir not in self.known:  # logged once per run (and file)
            logger.error("run %s: the stored draws %s (%s)", run_id, what, exc)
        self.known[run_dir] = (self._signature(run_dir), answer)
        return answer

    def _signature(self, run_dir: Path) -> tuple[int, int] | None:
        try:
            stat = (run_dir / DRAWS_FILE).stat()
        except OSError:
            return None
        return (stat.st_size, stat.st_mtime_ns)
