"""Entry point of ``python -m forecast``."""

import sys

from forecast.cli import main

sys.exit(main())
