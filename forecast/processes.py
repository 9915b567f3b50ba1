"""Child processes that die with the process that started them, even when it is SIGKILLed;
and a long-lived process's freed memory handed back to the system."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Have Linux kill this process (SIGKILL) when ``parent_pid``, its parent, dies.

    Called first thing in each child process started here or by the service (the
    worker, the what-if processes, a model compiled meanwhile: ``forecast.model.precompile``),
    so that no orphan outlives a process killed by SIGKILL. If the parent died
    before the request took effect, this process exits at once. Elsewhere than Linux it
    does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``).

    A fit allocates and frees tens of megabytes of arrays, and glibc keeps freed memory
    for reuse: a worker's resident size grew by about 60 MB over its first reruns
    without using it. Elsewhere than glibc it does nothing.
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
