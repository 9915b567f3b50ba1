"""A long-lived process hands the memory it freed back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np
from forecast.processes import release_free_memory

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) / 1024 for l in status if l.startswith("VmRSS"))

blocks = [np.ones(8000) for _ in range(4000)]  # 64 kB each, 256 MB from the C heap
kept = blocks[::10]  # holes that glibc does not hand back by itself
del blocks
before = rss_mb()
release_free_memory()
print(before, rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_memory_freed_by_a_run_is_handed_back():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert before - after > 150  # of the 230 MB freed
