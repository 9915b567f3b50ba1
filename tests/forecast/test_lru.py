"""The least-recently-used cache (``forecast.lru.Lru``) every in-memory cache uses."""

from __future__ import annotations

import pytest

from forecast.lru import Lru


def test_storing_beyond_the_size_drops_the_least_recently_used_key():
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert list(cache) == ["a", "c"]
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, 1, 3)


def test_peeking_leaves_the_order_of_use_as_it_was():
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.peek("a") == 1
    cache.put("c", 3)
    assert list(cache) == ["b", "c"]


def test_a_value_is_made_once_per_key_while_it_is_kept():
    made: list[str] = []

    def make(key: str):
        return lambda: made.append(key) or key.upper()

    cache: Lru[str, str] = Lru(2)
    assert [cache.get_or(k, make(k)) for k in "aabab"] == list("AABAB")
    assert made == ["a", "b"]
    cache.get_or("c", make("c"))  # drops "a", used before the last "b"
    assert cache.get_or("a", make("a")) == "A"
    assert made == ["a", "b", "c", "a"]
    assert len(cache) == 2


def test_a_cache_of_no_values_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        Lru(0)
