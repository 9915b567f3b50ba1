"""A least-recently-used cache: the last values used, by key, in bounded memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """The ``size`` most recently used values by key, safe to share between threads.

    Reading or storing a key makes it the most recent; storing beyond ``size`` drops the
    least recent.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"an LRU cache holds at least one value, not {size}")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recent), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def peek(self, key: K) -> V | None:
        """The value of ``key``, or None, leaving the order of use as it is."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make()`` and stored if there is none.

        ``make`` runs outside the lock: a slow one does not hold up other keys (two
        threads missing one key at once may both make it; the later is kept).
        """
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        """The keys, least recently used first."""
        with self._lock:
            return iter(list(self._items))
