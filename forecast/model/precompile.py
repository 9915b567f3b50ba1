"""Compile a model in a child process while this one compiles another.

Compiling both blocks on a machine whose caches are empty takes over a minute, almost
all of it numba compiling, which runs on one core. The blocks are independent, so the
campaign level can be compiled by a child process into the on-disk caches (numba's and
the snapshot's, ``forecast.model.compiled``) while this process compiles the per-ally
block; this process then loads it from the caches in about a second. With warm caches
nothing is started.

The child runs ``function(*args)`` (both pickled, so ``function`` must be importable by
name) and dies with the process that started it. If it fails, nothing is lost: the
caches are only missing an entry, and this process compiles the model itself.

Run as ``python -m forecast.model.precompile`` (by ``start``, never by hand).
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# Linux's prctl(2) option that signals a child when its parent dies.
_PR_SET_PDEATHSIG = 1


def start(function: Callable[..., Any], *args: Any) -> subprocess.Popen | None:
    """Run ``function(*args)`` in a child process; None if it could not be started."""
    payload = pickle.dumps((os.getpid(), function, args))
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        assert child.stdin is not None
        child.stdin.write(payload)
        child.stdin.close()
    except OSError as error:
        logger.warning("could not start a compiling child process: %s", error)
        return None
    logger.info("compiling in a child process (pid %d) meanwhile", child.pid)
    return child


def wait(child: subprocess.Popen | None, timeout: float) -> bool:
    """Wait for a child of ``start``; whether it finished its work. One still running
    after ``timeout`` seconds is stopped (this process then compiles the model itself)."""
    if child is None:
        return False
    started = time.perf_counter()
    try:
        code = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        logger.warning("the compiling child process ran past %.0f s; stopped", timeout)
        return False
    if code != 0:
        logger.warning("the compiling child process exited with %d", code)
        return False
    logger.info("waited %.1f s for the compiling child process", time.perf_counter() - started)
    return True


def _die_with(parent: int) -> None:
    """Be killed when ``parent`` dies (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(1)


def main() -> None:
    parent, function, args = pickle.load(sys.stdin.buffer)
    _die_with(parent)
    logging.basicConfig(level=logging.WARNING)
    function(*args)


if __name__ == "__main__":
    main()
