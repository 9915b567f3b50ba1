"""``python -m service.worker``: the worker process (see ``service.worker.loop``)."""

import sys

from service.worker.loop import main

sys.exit(main())
