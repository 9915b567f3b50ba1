"""Waiting on another process (``forecast.polling``), as the tests and benchmarks do."""

from __future__ import annotations

import socket
import time

import pytest

from forecast.polling import free_port, wait_until


def test_a_free_port_can_be_listened_on_at_once():
    port = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_waiting_returns_once_the_condition_holds_polling_at_the_given_interval():
    calls: list[float] = []

    def third_call() -> bool:
        calls.append(time.monotonic())
        return len(calls) == 3

    wait_until(third_call, "the third call", seconds=5, every=0.05)
    assert len(calls) == 3
    assert calls[2] - calls[0] == pytest.approx(0.1, abs=0.05)


def test_a_condition_that_never_holds_times_out_naming_what_was_awaited():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"not within 0\.2 s: the server's answer"):
        wait_until(lambda: False, "the server's answer", seconds=0.2, every=0.05)
    assert 0.2 <= time.monotonic() - started < 1.0
