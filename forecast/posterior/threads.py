"""One thread pool per process for numpy work split into independent parts.

numpy and scipy release the GIL inside their loops, so blocks of draws (or rows of a
stack of quantities) computed on threads use every core while sampling is not running.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def pool() -> concurrent.futures.ThreadPoolExecutor:
    """This process's pool, one thread per core (a forked child has none of its
    parent's threads, so it gets its own)."""
    pid = os.getpid()
    with _LOCK:
        if pid not in _POOLS:
            _POOLS.clear()
            _POOLS[pid] = concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1)
        return _POOLS[pid]


def map_parts(fn: Callable[[T], R], parts: Iterable[T]) -> list[R]:
    """``[fn(part) for part in parts]``, the parts on the pool's threads (in order; an
    exception in one part is raised here)."""
    parts = list(parts)
    if len(parts) <= 1:
        return [fn(part) for part in parts]
    return list(pool().map(fn, parts))
