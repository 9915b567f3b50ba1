"""Values as JSON: numpy scalars and arrays as numbers and lists, paths as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np


def encode(value: Any) -> bytes:
    """JSON bytes of ``value``, which may hold numpy scalars and arrays and paths.

    NaN and infinities become ``null``: standard JSON has no other spelling for them, and
    a PostgreSQL JSON column refuses them.
    """
    return msgspec.json.encode(value, enc_hook=_builtin)


def plain(value: Any) -> Any:
    """``value`` as JSON reads it back: dicts with text keys, lists, numbers, text, None."""
    return msgspec.json.decode(encode(value))


def _builtin(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__} as JSON")
