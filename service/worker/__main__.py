"""``python -m service.worker``: the worker process (see ``service.worker.loop``)."""

import os
import sys

from forecast import versions
from forecast.processes import die_with_parent
from service.settings import CONFIG_ERROR

# Libraries other than those the compile path was written for (checked as it is
# imported): a configuration error the supervisor does not restart into, said once.
try:
    from forecast.numba_cache import import_arviz
except versions.UnsupportedVersion as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(CONFIG_ERROR)

# Before the model's imports, which take seconds: a server killed meanwhile leaves no worker.
if "FORECAST_PARENT_PID" in os.environ:
    die_with_parent(int(os.environ["FORECAST_PARENT_PID"]))

# Before anything imports PyMC: ArviZ's import-time ufunc from numba's cache (0.8 s).
import_arviz()

from service.worker.loop import main  # noqa: E402

sys.exit(main())
