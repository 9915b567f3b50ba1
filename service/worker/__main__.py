"""``python -m service.worker``: the worker process (see ``service.worker.loop``)."""

import os
import sys

from forecast.processes import die_with_parent

# Before the model's imports, which take seconds: a server killed meanwhile leaves no worker.
if "FORECAST_PARENT_PID" in os.environ:
    die_with_parent(int(os.environ["FORECAST_PARENT_PID"]))

from service.worker.loop import main

sys.exit(main())
