"""Digests of what a stored result was computed from (numpy arrays, data files): what a
cache keeps the result by."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def add_array(digest: Any, value: Any, label: str = "") -> None:
    """Feed ``value``'s dtype, shape and contents into ``digest`` (a ``hashlib`` hash).

    The dtype and shape go in with the bytes, so that the same bytes read as another type
    (float days as integers) or laid out in another shape get another digest.
    An array of Python objects goes in by its ``repr``: its bytes are addresses.
    """
    array = np.asarray(value)
    digest.update(f"{label}:{array.dtype.str}:{array.shape}".encode())
    if array.dtype.hasobject:
        digest.update(repr(value).encode())
    else:
        digest.update(np.ascontiguousarray(array).tobytes())


def data_hash(folder: Path | str, files: Sequence[str]) -> str:
    """SHA-256 (16 hex digits) over the names and bytes of ``files`` in ``folder`` (a
    missing one counts, as ``<missing>``)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for name in sorted(files):
        path = folder / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()[:16]
