"""Compiling in a child process: it runs the function it is given, reports a failure, and
never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forecast.model import precompile


def test_the_child_runs_the_function_and_reports_success(tmp_path):
    target = tmp_path / "done.txt"
    child = precompile.start(Path.write_text, target, "compiled")
    assert precompile.wait(child, timeout=60)
    assert target.read_text() == "compiled"


def test_a_failing_child_is_reported_and_a_slow_one_stopped(tmp_path):
    failing = precompile.start(Path.read_text, tmp_path / "missing.txt")
    assert not precompile.wait(failing, timeout=60)
    slow = precompile.start(time.sleep, 60)
    assert not precompile.wait(slow, timeout=0.5)
    assert slow.poll() is not None  # stopped, not left running


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_child_dies_with_the_process_that_started_it():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from forecast.model import precompile; "
            "child = precompile.start(time.sleep, 120); print(child.pid, flush=True); "
            "time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    time.sleep(2.0)  # the child has read its work and asked to die with its parent
    assert not _gone(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while not _gone(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child_pid)
