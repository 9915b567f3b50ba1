"""GET /forecast throughput against a bare Litestar endpoint, and the API process's memory."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from forecast.polling import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
WRK_SECONDS = 8
WRK_ARGS = ("-t2", "-c32")
TOKEN = "bench-token-0123456789-abcdefghijklmnop"
TARGET_RATIO = 0.9
TARGET_RSS_MB = 150.0
TARGET_WORKER_RSS_MB = 500.0
TARGET_E2E_SECONDS = 0.5
E2E_REPEATS = 7
# The what-if flood of the security review: distinct ?by= dates, concurrent clients.
FLOOD_REQUESTS = 200
FLOOD_CONCURRENCY = 20
IDLE_SAMPLES = 300
# Fair what-ifs: a steady user asks one new what-if a second while another client (another
# loopback address) floods distinct ones; the share of the steady user's answered.
FAIR_SECONDS = 20
FAIR_FLOOD_CONCURRENCY = 20
FLOODER_ADDRESS = "127.0.0.2"
TARGET_STEADY_ANSWERED = 0.8
# Evidence -> published while that flood runs, against idle.
E2E_FLOOD_REPEATS = 3
TARGET_E2E_FLOOD_RATIO = 1.5


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _wait_for(url: str, seconds: float) -> bytes:
    """The body of ``url``'s first 200 answer."""
    answer = (0, b"")

    def answered() -> bool:
        nonlocal answer
        answer = _get(url)
        return answer[0] == 200

    wait_until(answered, f"200 from {url}", seconds, every=0.5)
    return answer[1]


def wrk(url: str, seconds: int = WRK_SECONDS, script: Path | None = None) -> float:
    """Requests per second that wrk measured (loopback only, bounded in time); ``script``,
    a wrk Lua script (the paths it asks for, say)."""
    extra = ["-s", str(script)] if script is not None else []
    out = subprocess.run(
        ["wrk", *WRK_ARGS, f"-d{seconds}s", *extra, url], capture_output=True, text=True, check=True
    ).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (``VmRSS``; ``VmHWM``: its peak so far), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024


def _worker_pid(service_pid: int) -> int:
    """The pid of the service's worker: its child running ``service.worker``."""
    children = Path(f"/proc/{service_pid}/task/{service_pid}/children").read_text().split()
    for child in map(int, children):
        if b"service.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise RuntimeError(f"process {service_pid} has no worker")


def _post_evidence(base: str, day: int) -> dict:
    """A statement by Hungary (a holdout) on 2024-03-``day``: a later cut-off each day."""
    return _post(
        base,
        {
            "ally": "HU",
            "kind": "statement",
            "date": f"2024-03-{day:02d}",
            "source": "bench",
            "summary": f"benchmark statement {day}",
        },
    )


# Allies with a reported (not yet official) endorsement on the opening day: none is a
# holdout, so making their support official changes nothing the campaign level reads.
SAME_DAY_ALLIES = ("AL", "BE", "CA", "HR", "DK", "FI", "GR")


def _official_endorsement(day: int) -> Callable[[str, int], dict]:
    """Posts ``SAME_DAY_ALLIES[k]``'s official endorsement, dated 2024-03-``day``."""

    def post(base: str, k: int) -> dict:
        ally = SAME_DAY_ALLIES[k]
        summary = f"benchmark: {ally} endorses officially"
        body = {"ally": ally, "kind": "endorsement", "date": f"2024-03-{day:02d}"}
        return _post(base, {**body, "source": "bench", "summary": summary})

    return post


def _post(base: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/evidence",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _published_count(base: str) -> int:
    return len(json.loads(_get(f"{base}/runs?status=succeeded&limit=500")[1]))


def _during_reruns(base: str, measure: Callable[[], float], first_day: int) -> tuple[float, int]:
    """``measure()`` while four pieces of evidence are posted 1.5 s apart (from March
    ``first_day`` on); its value, and the reruns published meanwhile."""
    posting = threading.Thread(
        target=lambda: [
            (_post_evidence(base, day), time.sleep(1.5)) for day in range(first_day, first_day + 4)
        ]
    )
    published_before = _published_count(base)
    posting.start()
    value = measure()
    posting.join()
    return value, _published_count(base) - published_before


def _settled(base: str, seconds: float = 300) -> None:
    """Wait until no run is queued or running."""

    def idle() -> bool:
        pending = [json.loads(_get(f"{base}/runs?status={s}")[1]) for s in ("queued", "running")]
        return not any(pending)

    wait_until(idle, "a moment without a queued or running run", seconds, every=0.1)


def _timed_get(url: str) -> float:
    started = time.perf_counter()
    status, _ = _get(url, timeout=30)
    if status != 200:
        raise RuntimeError(f"{url} answered {status}")
    return time.perf_counter() - started


def _sample(base: str, until: Callable[[int], bool]) -> tuple[list[float], list[float]]:
    """Latencies of GET /forecast (cached: the hot path) and GET /health, one after the
    other from one client, until ``until(samples so far)``."""
    hot: list[float] = []
    health: list[float] = []
    while not until(len(hot)):
        hot.append(_timed_get(f"{base}/forecast"))
        health.append(_timed_get(f"{base}/health"))
    return hot, health


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def what_if_flood(base: str, as_of: dt.date) -> dict[str, float]:
    """Hot path and /health latencies, idle and during a flood of distinct what-ifs.

    One what-if first starts the what-if process (as the first reader's would), so that
    the flood meets a running service.
    """
    first = _timed_get(f"{base}/forecast?by={(as_of - dt.timedelta(days=1)).isoformat()}")
    idle_hot, idle_health = _sample(base, lambda n: n >= IDLE_SAMPLES)
    dates = [as_of + dt.timedelta(days=d) for d in range(1, FLOOD_REQUESTS + 1)]
    statuses: Counter[int] = Counter()
    done = threading.Event()

    def flood() -> None:
        def one(date: dt.date) -> int:
            return _get(f"{base}/forecast?by={date.isoformat()}", timeout=60)[0]

        with ThreadPoolExecutor(max_workers=FLOOD_CONCURRENCY) as pool:
            statuses.update(pool.map(one, dates))
        done.set()

    started = time.perf_counter()
    flooding = threading.Thread(target=flood)
    flooding.start()
    busy_hot, busy_health = _sample(base, lambda _n: done.is_set())
    flooding.join()
    return {
        "first_what_if_seconds": first,
        "flood_seconds": time.perf_counter() - started,
        "flood_ok": statuses[200],
        "flood_busy": statuses[503],
        "flood_refused": statuses[429],
        "flood_other": sum(statuses.values()) - statuses[200] - statuses[503] - statuses[429],
        "hot_p50_idle_ms": 1000 * statistics.median(idle_hot),
        "hot_p50_flood_ms": 1000 * statistics.median(busy_hot),
        "health_p90_idle_ms": 1000 * _percentile(idle_health, 0.9),
        "health_p90_flood_ms": 1000 * _percentile(busy_health, 0.9),
        "flood_samples": len(busy_hot),
    }


def _get_from(address: str, base: str, path: str, timeout: float = 30.0) -> int:
    """The status of GET ``path`` sent from the local ``address`` (another client)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=timeout, source_address=(address, 0)
    )
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


class Flood:
    """Distinct what-ifs from ``FLOODER_ADDRESS`` at a fixed concurrency until stopped."""

    def __init__(self, base: str, as_of: dt.date, first_day: int):
        self.base, self.as_of, self.next_day = base, as_of, first_day
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.threads = [
            threading.Thread(target=self._loop, daemon=True) for _ in range(FAIR_FLOOD_CONCURRENCY)
        ]

    def _loop(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.next_day += 1
                day = self.as_of + dt.timedelta(days=self.next_day % 1000 + 1)
            status = _get_from(FLOODER_ADDRESS, self.base, f"/forecast?by={day.isoformat()}")
            with self.lock:
                self.statuses[status] += 1
            if status == 0:
                time.sleep(0.05)

    def __enter__(self) -> Flood:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def fair_share(base: str, as_of: dt.date) -> dict[str, float]:
    """A steady user's new what-if every second during another client's flood: answered."""
    asked = answered = 0
    with Flood(base, as_of, 2000) as flood:
        time.sleep(1)
        for k in range(FAIR_SECONDS):
            started = time.monotonic()
            # Dates the flood never asks (it stays within 1000 days): always a new what-if.
            day = as_of - dt.timedelta(days=k + 1)
            status, _ = _get(f"{base}/forecast?by={day.isoformat()}", timeout=30)
            asked += 1
            answered += status == 200
            time.sleep(max(0.0, 1 - (time.monotonic() - started)))
    return {
        "steady_answered": answered / asked,
        "steady_asked": asked,
        "fair_flood_ok": flood.statuses[200],
        "fair_flood_refused": flood.statuses[429],
        "fair_flood_other": sum(flood.statuses.values())
        - flood.statuses[200]
        - flood.statuses[429],
    }


def end_to_end(
    base: str,
    days: range,
    seconds_each: float = 120,
    post: Callable[[str, int], dict] = _post_evidence,
) -> list[float]:
    """Seconds from POST /evidence (``post(base, day)`` for each of ``days``) to GET
    /forecast serving the run it queued, one at a time."""
    seconds = []
    for day in days:
        _settled(base)
        started = time.perf_counter()
        run_id = post(base, day)["run_id"]
        seconds.append(served_after(base, run_id, started, seconds_each))
    return seconds


def served_after(base: str, run_id: str, started: float, seconds: float = 120) -> float:
    """Seconds from ``started`` (``time.perf_counter()``) until GET ``base``/forecast serves
    the run ``run_id``.

    Raises
    ------
    RuntimeError
        When the run fails, is not served once it succeeded, or takes over ``seconds``.
    """
    # One light poll every 20 ms (more would take CPU from the niced worker).
    while (status := json.loads(_get(f"{base}/runs/{run_id}")[1]).get("status")) not in (
        "succeeded",
        "failed",
    ):
        if time.perf_counter() - started > seconds:
            raise RuntimeError(f"run {run_id} still {status} after {seconds:.0f} s")
        time.sleep(0.02)
    served = json.loads(_get(f"{base}/forecast")[1]).get("run_id")
    elapsed = time.perf_counter() - started
    if status == "failed" or served != run_id:
        raise RuntimeError(f"run {run_id} {status}; GET /forecast serves {served}")
    return elapsed


def main() -> dict[str, float]:
    # One function on purpose: the service and the bare app share one try/finally that
    # stops both processes whatever fails in between.
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "FORECAST_PORT": str(port),
        "FORECAST_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "FORECAST_ARTIFACTS_DIR": str(tmp / "runs"),
        "FORECAST_API_TOKEN": TOKEN,
        # The shipped question alone, as measured before several were served.
        "FORECAST_QUESTIONS": str(ROOT / "data"),
        "FORECAST_TRACK_RECORD_BUILD": "off",
        "FORECAST_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "service", "--fit-if-empty"], cwd=ROOT, env=env
    )
    bare = None
    try:
        base = f"http://127.0.0.1:{port}"
        body = _wait_for(f"{base}/forecast", 300)
        (tmp / "forecast.json").write_bytes(body)
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", str(tmp / "forecast.json"), str(bare_port)],
            cwd=ROOT,
        )
        _wait_for(f"http://127.0.0.1:{bare_port}/forecast", 30)
        bare_rps = wrk(f"http://127.0.0.1:{bare_port}/forecast")
        service_rps = wrk(f"{base}/forecast")
        # Readers while the worker refits: evidence posted during each measurement; the
        # bare endpoint too, so that both share the two cores with the same reruns.
        busy_rps, reruns = _during_reruns(base, lambda: wrk(f"{base}/forecast"), 1)
        bare_busy_rps, _ = _during_reruns(
            base, lambda: wrk(f"http://127.0.0.1:{bare_port}/forecast"), 5
        )
        rss = _rss_mb(service.pid)
        # A flood of distinct what-ifs beside the hot path, with the worker idle.
        _settled(base)
        flood = what_if_flood(base, dt.date.fromisoformat(json.loads(body)["as_of"]))
        # Evidence posted -> new forecast served, through HTTP, queue, worker and database.
        latencies = end_to_end(base, range(10, 10 + E2E_REPEATS))
        # The same on the cut-off of the last of these, for evidence the campaign level
        # does not read: its fit is reused (the service's seed is fixed).
        last_day = 10 + E2E_REPEATS - 1
        same_day = end_to_end(
            base, range(len(SAME_DAY_ALLIES)), post=_official_endorsement(last_day)
        )
        as_of = dt.date.fromisoformat(json.loads(body)["as_of"])
        fair = fair_share(base, as_of)
        with Flood(base, as_of, 0) as e2e_flood:
            flood_started = time.perf_counter()
            flooded = end_to_end(base, range(20, 20 + E2E_FLOOD_REPEATS))
            flood_seconds = time.perf_counter() - flood_started
        # After every rerun above and the live run's archive (written once the worker is
        # idle): what a long-lived worker holds.
        _settled(base)
        live_run = json.loads(_get(f"{base}/forecast")[1])["run_id"]
        archive = tmp / "runs" / live_run / "posterior.nc"
        wait_until(archive.exists, f"archive {archive}", 60, every=0.2)
        worker_rss = _rss_mb(_worker_pid(service.pid))
    finally:
        for process in (service, bare):
            if process is not None:
                process.terminate()
                process.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "bare_rps": bare_rps,
        "service_rps": service_rps,
        "service_rps_during_rerun": busy_rps,
        "ratio": service_rps / bare_rps,
        "ratio_during_rerun": busy_rps / bare_rps,
        "bare_rps_during_rerun": bare_busy_rps,
        "ratio_during_rerun_same_load": busy_rps / bare_busy_rps,
        "reruns_during_measurement": reruns,
        "api_rss_mb": rss,
        "worker_rss_mb": worker_rss,
        "end_to_end_median_seconds": statistics.median(latencies),
        "end_to_end_max_seconds": max(latencies),
        "end_to_end_same_cut_off_median_seconds": statistics.median(same_day),
        "end_to_end_flood_median_seconds": statistics.median(flooded),
        # The flooding client's requests per second meanwhile (a 429 is paced by the
        # service: a client at its share waits for a slot first).
        "end_to_end_flood_rate": sum(e2e_flood.statuses.values()) / flood_seconds,
        "end_to_end_flood_refused": e2e_flood.statuses[429],
        **flood,
        **fair,
    }
    _report(result)
    return result


def _report(result: dict[str, float]) -> None:
    """Print the measurements beside their targets."""
    print(f"GET /forecast, wrk {' '.join(WRK_ARGS)} for {WRK_SECONDS} s each, side by side")
    print(f"  bare Litestar, same bytes:   {result['bare_rps']:10.0f} req/s")
    print(
        f"  service (cached, ETag):      {result['service_rps']:10.0f} req/s  "
        f"ratio {result['ratio']:.2f}"
    )
    print(
        f"  service during reruns:       {result['service_rps_during_rerun']:10.0f} req/s  ratio "
        f"{result['ratio_during_rerun']:.2f}  (target >= {TARGET_RATIO}; "
        f"{result['reruns_during_measurement']} reruns published meanwhile)"
    )
    print(
        f"  bare Litestar, same reruns:  {result['bare_rps_during_rerun']:10.0f} req/s  "
        f"service / bare under the same load {result['ratio_during_rerun_same_load']:.2f}"
    )
    print(
        f"  API process RSS:             {result['api_rss_mb']:10.1f} MB     "
        f"(target <= {TARGET_RSS_MB:.0f})"
    )
    print(
        f"  worker process RSS:          {result['worker_rss_mb']:10.1f} MB     "
        f"(target <= {TARGET_WORKER_RSS_MB:.0f}; after every rerun below)"
    )
    print(
        f"What-if flood: {FLOOD_REQUESTS} distinct ?by= at concurrency {FLOOD_CONCURRENCY} "
        f"took {result['flood_seconds']:.1f} s ({result['flood_ok']} answered 200, "
        f"{result['flood_busy']} 503 busy, {result['flood_refused']} 429 over the client's "
        f"share, {result['flood_other']} other; the first what-if, "
        f"which starts the what-if process, took {result['first_what_if_seconds']:.2f} s); "
        "one client alongside:"
    )
    print("                              idle       during the flood")
    print(
        f"  GET /forecast p50 (cached):  {result['hot_p50_idle_ms']:6.2f} ms  "
        f"{result['hot_p50_flood_ms']:6.2f} ms  "
        f"({result['hot_p50_flood_ms'] / result['hot_p50_idle_ms']:.1f}x)"
    )
    print(
        f"  GET /health p90:             {result['health_p90_idle_ms']:6.2f} ms  "
        f"{result['health_p90_flood_ms']:6.2f} ms  "
        f"({result['health_p90_flood_ms'] / result['health_p90_idle_ms']:.1f}x; "
        f"{result['flood_samples']} samples during the flood)"
    )
    median, worst = result["end_to_end_median_seconds"], result["end_to_end_max_seconds"]
    print(
        f"POST /evidence -> GET /forecast serves the new run, median of {E2E_REPEATS}: "
        f"{median:.2f} s (max {worst:.2f} s; target <= {TARGET_E2E_SECONDS} s)"
    )
    same_day = result["end_to_end_same_cut_off_median_seconds"]
    print(
        f"  the same cut-off, evidence the campaign level does not read (its fit reused), "
        f"median of {len(SAME_DAY_ALLIES)}: {same_day:.2f} s"
    )
    flooded = result["end_to_end_flood_median_seconds"]
    print(
        f"  the same during a what-if flood from another client, median of "
        f"{E2E_FLOOD_REPEATS}: {flooded:.2f} s ({flooded / median:.2f}x idle; "
        f"target <= {TARGET_E2E_FLOOD_RATIO}x; the flood sent "
        f"{result['end_to_end_flood_rate']:.0f} requests a second, "
        f"{result['end_to_end_flood_refused']} 429 in all)"
    )
    print(
        f"Fair what-ifs: a steady user's new what-if every second for {FAIR_SECONDS} s while "
        f"{FLOODER_ADDRESS} floods at concurrency {FAIR_FLOOD_CONCURRENCY}: "
        f"{result['steady_answered']:.0%} of {result['steady_asked']} answered "
        f"(target >= {TARGET_STEADY_ANSWERED:.0%}); the flood got {result['fair_flood_ok']} "
        f"answers, {result['fair_flood_refused']} 429, {result['fair_flood_other']} other"
    )


if __name__ == "__main__":
    main()
