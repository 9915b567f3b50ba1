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

import logging
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from forecast.processes import die_with_parent

logger = logging.getLogger(__name__)


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


def main() -> None:
    parent, function, args = pickle.load(sys.stdin.buffer)
    die_with_parent(parent)
    logging.basicConfig(level=logging.WARNING)
    function(*args)


if __name__ == "__main__":
    main()
