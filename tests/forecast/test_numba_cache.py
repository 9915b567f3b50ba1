"""ArviZ's import-time ufunc from numba's on-disk cache, and a corrupt entry discarded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from forecast.numba_cache import import_arviz
import_arviz()
from arviz.stats import ecdf_utils
print(ecdf_utils._binom_pmf(3, 10, 0.5, 0))
"""


def _import(cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )


def test_arviz_import_time_ufunc_is_cached_and_a_corrupt_entry_is_compiled_again(tmp_path):
    first = _import(tmp_path)
    (index,) = tmp_path.rglob("ecdf_utils._binom_pmf-*.nbi")
    assert float(first.stdout) == pytest.approx(
        120 / 1024, rel=1e-12
    )  # binom(10, 0.5) at 3: C(10, 3) / 2**10
    stored = index.stat().st_mtime_ns
    assert float(_import(tmp_path).stdout) == pytest.approx(120 / 1024, rel=1e-12)
    assert index.stat().st_mtime_ns == stored  # loaded, not written again

    index.write_bytes(b"not an index")
    again = _import(tmp_path)
    assert float(again.stdout) == pytest.approx(120 / 1024, rel=1e-12)
    assert "could not be loaded" in again.stderr
    assert index.read_bytes() != b"not an index"
