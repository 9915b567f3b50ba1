"""Entry point of ``python -m forecast``."""

import sys

from forecast import versions

try:  # the releases the compile path was written for, checked as it is imported
    from forecast.numba_cache import import_arviz
except versions.UnsupportedVersion as exc:
    sys.exit(f"error: {exc}")

# Before anything imports PyMC: ArviZ's import-time ufunc from numba's cache (0.8 s).
import_arviz()

from forecast.cli import main  # noqa: E402

sys.exit(main())
