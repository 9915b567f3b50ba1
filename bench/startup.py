"""Start-up: how long a new process waits before it can fit, and how long the service
takes to its first forecast and back after a restart, with an empty and a warm compile
cache, side by side in one run.

- ``compile``: a fresh ``python`` process imports the model, loads the data and compiles
  both blocks (``Forecaster.compile``): with an empty cache (a temporary PyTensor
  compile directory), with that cache warm, and, as the baseline, warm but with nutpie's
  own callbacks (``FORECAST_COMPILE_CACHE=off``: what every process paid before).
- ``service``: ``python -m service --fit-if-empty`` on an empty database: seconds to
  ``/health``, to the worker's "worker ready" line and to the first forecast served; then
  stopped and started again on the stored forecast (the restart), cache warm; then on
  another empty database with the cache warm.

Run with ``python -m bench.startup``; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from forecast.polling import free_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_FIRST_FORECAST = 30.0
TARGET_RESTART_READY = 5.0
SERVICE_TIMEOUT = 600.0


def child() -> None:
    """The measured process: imports, data, both blocks compiled; prints the seconds."""
    started = time.perf_counter()
    from forecast.data.dataset import load_dataset
    from forecast.pipeline.fit import Forecaster

    imported = time.perf_counter()
    forecaster = Forecaster(load_dataset())
    seconds = forecaster.compile()
    print(json.dumps({"import": imported - started, "compile": seconds}))


def compile_once(cache: Path, *, callbacks: bool = True) -> dict[str, float]:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache}"}
    if not callbacks:
        env["FORECAST_COMPILE_CACHE"] = "off"
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.startup", "child"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - started
    return figures


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def serve_once(root: Path, cache: Path) -> dict[str, float]:
    """Start the service on ``root``'s database, wait for the first forecast served and the
    worker's ready line; returns the seconds to each, then stops it."""
    port = free_port()
    env = {
        **os.environ,
        "PYTENSOR_FLAGS": f"base_compiledir={cache}",
        "FORECAST_DATABASE_URL": f"sqlite:///{root / 'forecast.db'}",
        "FORECAST_ARTIFACTS_DIR": str(root / "runs"),
        # The shipped question alone, as measured before several were served.
        "FORECAST_QUESTIONS": str(ROOT / "data"),
        "FORECAST_TRACK_RECORD_BUILD": "off",
        "FORECAST_PORT": str(port),
        "FORECAST_LOG_LEVEL": "INFO",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--fit-if-empty"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    marks: dict[str, float] = {}

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if "worker ready" in line and "worker_ready" not in marks:
                marks["worker_ready"] = time.perf_counter() - started

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        while time.perf_counter() - started < SERVICE_TIMEOUT:
            if "health" not in marks and _status(base + "/health") == 200:
                marks["health"] = time.perf_counter() - started
            if "health" in marks and "forecast" not in marks and _status(base + "/forecast") == 200:
                marks["forecast"] = time.perf_counter() - started
            if {"forecast", "worker_ready"} <= marks.keys():
                return marks
            time.sleep(0.1)
        raise TimeoutError(f"the service did not serve a forecast in {SERVICE_TIMEOUT} s")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold = compile_once(tmp / "cache")
        warm = compile_once(tmp / "cache")
        baseline = compile_once(tmp / "cache", callbacks=False)
        print("start-up: a new process importing and compiling both blocks (s)")
        print("| cache | imports | compile | process |")
        print("|---|---|---|---|")
        for name, figures in (
            ("empty", cold),
            ("warm", warm),
            ("warm, nutpie's own callbacks (baseline)", baseline),
        ):
            print(
                f"| {name} | {figures['import']:.1f} | {figures['compile']:.1f} "
                f"| {figures['process']:.1f} |"
            )
        print(f"compile, warm vs baseline: {baseline['compile'] / warm['compile']:.1f}x faster")

        service_cache = tmp / "service-cache"
        first = serve_once(tmp / "service", service_cache)
        restart = serve_once(tmp / "service", service_cache)
        warm_first = serve_once(tmp / "another-database", service_cache)
        print("the service, `python -m service --fit-if-empty` (s from start)")
        print("| start | /health | forecast served | worker ready |")
        print("|---|---|---|---|")
        for name, marks in (
            ("first, empty cache (a new machine)", first),
            ("restart, warm cache", restart),
            ("first, warm cache (a new database on a machine that compiled before)", warm_first),
        ):
            print(
                f"| {name} | {marks['health']:.1f} | {marks['forecast']:.1f} "
                f"| {marks['worker_ready']:.1f} |"
            )
        print(
            f"first forecast {first['forecast']:.1f} s (target <= {TARGET_FIRST_FORECAST:.0f} s);"
            f" restart -> worker ready {restart['worker_ready']:.1f} s"
            f" (target <= {TARGET_RESTART_READY:.0f} s)"
        )
    return {
        "compile_cold": cold["compile"],
        "compile_warm": warm["compile"],
        "compile_baseline": baseline["compile"],
        "first_forecast": first["forecast"],
        "restart_ready": restart["worker_ready"],
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        child()
    else:
        main()
