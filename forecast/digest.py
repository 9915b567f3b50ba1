"""Digests of numpy arrays: what a cache keeps a result computed from them by."""

from __future__ import annotations

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
