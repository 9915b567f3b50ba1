"""The worker process on the stand-in forecaster: ``python -m tests.service.stand_in_worker``.

Settings come from the environment as the real worker's do, and two more variables:
``STAND_IN_HOST`` is the host name it claims runs under (two workers of one test machine
stand for two machines, which only their leases tell apart), and while the file that
``STAND_IN_HOLD`` names exists, each fit waits, so that a test can kill a worker that
holds a run.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from forecast.data.dataset import load_dataset
from forecast.model.gate import GateConfig
from forecast.pipeline.fit import RunResult
from service.settings import CONFIG_ERROR, Settings, settings_for_process
from service.worker import loop
from tests.stand_in import StandInForecaster

# A held fit gives up waiting after this long (a test that failed leaves no worker behind).
HOLD_LIMIT_SECONDS = 60.0


class HeldStandIn(StandInForecaster):
    """The stand-in, whose fits wait while the hold file exists."""

    hold: Path | None = None

    def run(self, *args: Any, **kwargs: Any) -> RunResult:
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while self.hold is not None and self.hold.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return super().run(*args, **kwargs)


def stand_in_for(settings: Settings) -> HeldStandIn:
    forecaster = HeldStandIn(
        load_dataset(settings.data_dir),
        sampler_config=dict(settings.sampler_config),
        gate=GateConfig(**settings.gate_config),
    )
    if os.environ.get("STAND_IN_HOLD"):
        forecaster.hold = Path(os.environ["STAND_IN_HOLD"])
    return forecaster


def main() -> int:
    if os.environ.get("STAND_IN_HOST"):
        host = os.environ["STAND_IN_HOST"]
        socket.gethostname = lambda: host
    settings = settings_for_process("worker")
    if settings is None:
        return CONFIG_ERROR
    signal.signal(signal.SIGTERM, loop._on_sigterm)
    return loop.serve(settings, stand_in_for)


if __name__ == "__main__":
    sys.exit(main())
