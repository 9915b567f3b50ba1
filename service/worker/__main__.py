"""``python -m service.worker``: the worker process (see ``service.worker.loop``)."""

import os
import sys

from forecast.numba_cache import import_arviz
from forecast.processes import die_with_parent

# Before the model's imports, which take seconds: a server killed meanwhile leaves no worker.
if "FORECAST_PARENT_PID" in os.environ:
    die_with_parent(int(os.environ["FORECAST_PARENT_PID"]))

# Before anything imports PyMC: ArviZ's import-time ufunc from numba's cache (0.8 s).
import_arviz()

from service.worker.loop import main  # noqa: E402

sys.exit(main())
