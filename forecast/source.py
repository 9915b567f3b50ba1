"""Fingerprint of the code that makes a result: stored results are keyed on it, so that a
change to the model's code makes them stale without anyone bumping a version string."""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
# The rooms whose code turns the data into a posterior and its document: a fit or a
# forecast made by other code here is another result.
MODEL_ROOMS: tuple[str, ...] = ("data", "model", "posterior", "pipeline")
# The rooms whose code, besides the model's, makes a check's result (the stored checks,
# the track record).
CHECK_ROOMS: tuple[str, ...] = ("checks",)


@functools.cache
def source_digest(rooms: tuple[str, ...] = MODEL_ROOMS) -> str:
    """SHA-256 (16 hex digits) over the names and bytes of every ``.py`` file of the
    package's ``rooms``, read once per process.

    Parameters
    ----------
    rooms
        Sub-packages of ``forecast`` (``"checks"`` for the offline checks' own code).
    """
    digest = hashlib.sha256()
    for room in sorted(rooms):
        for path in sorted((PACKAGE_DIR / room).rglob("*.py")):
            # Regular files only: an editor's lock link (``.#fit.py``) is not code.
            if path.name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
