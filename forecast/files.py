"""Files written whole or not at all: the one rule for every file a reader may open
while it is being replaced (a run's draws and documents, the stored checks, the compile
snapshots, the worker's report)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; when the block ends without an error
    it replaces ``path`` in one rename (a reader sees the old file or the new one, never
    half of one), and otherwise it is removed (no partial file is left behind).

    The temporary name is hidden, unique per call and created with the process's usual
    permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
