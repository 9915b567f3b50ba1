"""Waiting on another process: a free local port for a server about to start, and a
condition polled until it holds."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the system picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], object], what: str, seconds: float = 60.0, every: float = 0.05
) -> None:
    """Call ``check()`` every ``every`` seconds until it returns something true.

    Raises
    ------
    TimeoutError
        Naming ``what``, when ``check()`` is still false after ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {seconds:g} s: {what}")
        time.sleep(every)
