"""Many questions in one service against one, side by side in one run: GET throughput per
question, a rerun's latency while another question's evidence floods in, and the
worker's memory.

- One question: ``python -m service --fit-if-empty`` with ``FORECAST_QUESTIONS`` naming
  only ``data/``. Many: the same with ``data/`` and copies of it (each with a slug of its
  own, in a temporary folder): one model shape, so the copies compile from the disk
  caches the first one filled. Each is measured once every question has a forecast.
- GET: wrk on ``/forecast`` and ``/questions/<slug>/forecast``, one question's and (a wrk
  Lua script) spread over every question's, each against one question's ``/forecast``.
- A rerun: POST an item to question B -> B's new forecast served, with nothing else
  queued and right after a burst of items posted to question A has begun (the worker
  takes the questions in turn: ``service.worker.lanes``), alternately.
- Memory: the worker's RSS once every question has been fitted (and its archive
  written), with ``FORECAST_WORKER_MODELS`` compiled models kept at most; again after
  the reruns, and after every question has been fitted once more (its model compiled
  again unless it was among the last kept).

``BENCH_SCALE_QUESTIONS`` sets how many questions (default 20; 0 skips this benchmark).
Run with ``python -m bench.scale``; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.http_speed import (
    WRK_ARGS,
    WRK_SECONDS,
    _get,
    _post,
    _rss_mb,
    _settled,
    _worker_pid,
    served_after,
    wrk,
)
from bench.served import (
    Served,
    all_published,
    archives_written,
    copies_of_data,
    every_path_answers,
    serving,
)
from forecast.data.dataset import DEFAULT_DATA_DIR
from forecast.data.questions import question_slug

QUESTIONS = int(os.environ.get("BENCH_SCALE_QUESTIONS", "20"))
FLOOD_POSTS = 20
RERUN_REPEATS = 3
# Posted items: Hungary's statements (a holdout), a day later each time, from here on.
FIRST_POSTED = dt.date(2024, 3, 1)


def worker_cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system, every thread) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_wrk(served: Served, url: str, script: Path | None = None) -> tuple[float, float]:
    """wrk's requests per second on ``url``, and the idle worker's share of a core
    meanwhile (it polls every question's queue)."""
    worker = _worker_pid(served.process.pid)
    cpu, started = worker_cpu_seconds(worker), time.perf_counter()
    rps = wrk(url, script=script)
    return rps, (worker_cpu_seconds(worker) - cpu) / (time.perf_counter() - started)


def spread_script(folder: Path, slugs: list[str]) -> Path:
    """A wrk Lua script asking for every question's forecast in turn."""
    paths = ", ".join(f'"/questions/{slug}/forecast"' for slug in slugs)
    script = folder / "spread.lua"
    script.write_text(
        f"local paths = {{{paths}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\n"
        "end\n"
    )
    return script


class Posted:
    """Hungary's statements, each dated a day after the one before (a later cut-off)."""

    def __init__(self) -> None:
        self.days = 0
        self.lock = threading.Lock()

    def post(self, base: str) -> dict:
        with self.lock:
            day = FIRST_POSTED + dt.timedelta(days=self.days)
            self.days += 1
        body = {
            "ally": "HU",
            "kind": "statement",
            "date": day.isoformat(),
            "source": "bench",
            "summary": f"benchmark statement of {day}",
        }
        return _post(base, body)


@dataclass(frozen=True)
class Rerun:
    """A rerun of one question, in seconds: from its item posted to its forecast served,
    of which queued (requested -> started) and fitted (started -> finished, as the worker
    recorded them); and the fits of another question that ran while it was queued."""

    seconds: float
    queued: float
    fitted: float
    refitted: bool  # missed the diagnostics gate once: fitted again (RETRY_SAMPLER_OVERRIDES)
    others_meanwhile: int = 0


def _run(base: str, run_id: str) -> dict:
    return json.loads(_get(f"{base}/runs/{run_id}")[1])


def _at(run: dict, field: str) -> dt.datetime:
    return dt.datetime.fromisoformat(run[field])


def rerun(served: Served, b: str, posted: Posted, flooded: str | None = None) -> Rerun:
    """An item posted to question ``b``, nothing else queued; or, with ``flooded``, right
    after the first of ``FLOOD_POSTS`` items posted to that question in a burst was
    answered: the rerun it queued, once served."""
    base_b = served.question(b)
    others = [served.question(flooded)] if flooded else []
    for base in (*others, base_b):
        _settled(base)
    burst, first = None, threading.Event()
    if flooded:

        def post_all() -> None:
            for _ in range(FLOOD_POSTS):
                posted.post(others[0])
                first.set()

        burst = threading.Thread(target=post_all)
        burst.start()
        if not first.wait(30):
            raise RuntimeError(f"the first item posted to {flooded} was not answered in 30 s")
    started = time.perf_counter()
    run_id = posted.post(base_b)["run_id"]
    seconds = served_after(base_b, run_id, started)
    run = _run(base_b, run_id)
    meanwhile = 0
    if burst is not None:
        burst.join()
        _settled(others[0])
        # The other question's fits that overlapped this run's wait in the queue.
        for other in json.loads(_get(f"{others[0]}/runs?limit=50")[1]):
            if other["started_at"] and other["finished_at"]:
                meanwhile += _at(other, "started_at") < _at(run, "started_at") and _at(
                    other, "finished_at"
                ) > _at(run, "requested_at")
    return Rerun(
        seconds,
        (_at(run, "started_at") - _at(run, "requested_at")).total_seconds(),
        (_at(run, "finished_at") - _at(run, "started_at")).total_seconds(),
        run["diagnostics"]["attempts"] > 1,
        meanwhile,
    )


def measure_one(folder: Path) -> dict[str, float]:
    """The service with only the default question: GETs and the worker's memory."""
    with serving(folder, str(DEFAULT_DATA_DIR)) as served:
        seconds = all_published(served, "1 question")
        archives_written(served)
        worker = _worker_pid(served.process.pid)
        result = {
            "one_published_seconds": seconds,
            "one_worker_rss_mb": _rss_mb(worker),
            "one_worker_peak_mb": _rss_mb(worker, "VmHWM"),
            "one_api_rss_mb": _rss_mb(served.process.pid),
        }
        every_path_answers(served)
        result["one_rps"], result["one_worker_cpu"] = measured_wrk(
            served, f"{served.base}/forecast"
        )
        result["one_prefixed_rps"], _ = measured_wrk(
            served, f"{served.question(served.slugs[0])}/forecast"
        )
    return result


def measure_many(folder: Path, count: int) -> dict[str, float]:
    """The service with ``count`` questions: GETs, the worker's memory and B's reruns."""
    copies = copies_of_data(folder / "questions", count - 1)
    with serving(folder, str(copies)) as served:
        seconds = all_published(served, f"{count} questions")
        archives_written(served)
        worker = _worker_pid(served.process.pid)
        result: dict[str, float] = {
            "many_published_seconds": seconds,
            "many_worker_rss_mb": _rss_mb(worker),
            "many_worker_peak_mb": _rss_mb(worker, "VmHWM"),
            "many_api_rss_mb": _rss_mb(served.process.pid),
            "worker_models": served.worker_models,
        }
        every_path_answers(served)
        a, b = served.slugs[1], served.slugs[2]
        result["many_default_rps"], result["many_worker_cpu"] = measured_wrk(
            served, f"{served.base}/forecast"
        )
        result["many_one_rps"], _ = measured_wrk(served, f"{served.question(a)}/forecast")
        result["many_spread_rps"], _ = measured_wrk(
            served, served.base, spread_script(folder, served.slugs)
        )
        posted = Posted()
        # Fitted early at the start, so evicted since when more questions than
        # FORECAST_WORKER_MODELS followed: compiled again from the disk caches.
        result["rerun_first_seconds"] = rerun(served, b, posted).seconds
        rerun(served, a, posted)  # a's model compiled again too, before the bursts below
        idle, flooded = [], []
        for _ in range(RERUN_REPEATS):
            idle.append(rerun(served, b, posted))
            flooded.append(rerun(served, b, posted, flooded=a))
        for name, reruns in (("idle", idle), ("flood", flooded)):
            result[f"rerun_{name}_median_seconds"] = statistics.median(r.seconds for r in reruns)
            result[f"rerun_{name}_max_seconds"] = max(r.seconds for r in reruns)
            result[f"rerun_{name}_queued_median"] = statistics.median(r.queued for r in reruns)
            result[f"rerun_{name}_fitted_median"] = statistics.median(r.fitted for r in reruns)
            result[f"rerun_{name}_refits"] = sum(r.refitted for r in reruns)
        result["flood_fits_before_b"] = max(r.others_meanwhile for r in flooded)
        archives_written(served)
        result["many_worker_rss_after_reruns_mb"] = _rss_mb(worker)
        # Every question fitted once more, in turn: each model compiled again but the
        # FORECAST_WORKER_MODELS last.
        started = time.perf_counter()
        runs = {slug: posted.post(served.question(slug))["run_id"] for slug in served.slugs}
        for slug, run_id in runs.items():
            served_after(served.question(slug), run_id, started, seconds=600)
        result["second_round_seconds"] = time.perf_counter() - started
        archives_written(served)
        result["many_worker_rss_second_round_mb"] = _rss_mb(worker)
    return result


def main() -> dict[str, float]:
    if QUESTIONS == 0:
        print("scale: skipped (BENCH_SCALE_QUESTIONS=0)")
        return {}
    if QUESTIONS < 3:
        raise SystemExit("BENCH_SCALE_QUESTIONS: 0 (skip) or 3 or more (two copies of data/)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        result = {
            **measure_one(Path(tmp) / "one"),
            **measure_many(Path(tmp) / "many", QUESTIONS),
        }
    result["questions"] = QUESTIONS
    result["seconds"] = time.perf_counter() - started
    _report(result)
    return result


def _report(r: dict[str, float]) -> None:
    """Print the tables, each figure beside one question's."""
    n, base = int(r["questions"]), r["one_rps"]
    slug = question_slug(DEFAULT_DATA_DIR)
    print(
        f"Serving {n} questions against 1 ({os.cpu_count()} cores; {r['seconds']:.0f} s in all; "
        f"every question published {r['one_published_seconds']:.0f} s / "
        f"{r['many_published_seconds']:.0f} s after the start)"
    )
    print(f"GET, wrk {' '.join(WRK_ARGS)} for {WRK_SECONDS} s each")
    print("| questions served | path | req/s | ratio to 1 question's /forecast |")
    print("|---|---|---|---|")
    for served, path, rps in (
        (1, "/forecast", base),
        (1, f"/questions/{slug}/forecast", r["one_prefixed_rps"]),
        (n, "/forecast (the default question)", r["many_default_rps"]),
        (n, "/questions/copy-01/forecast (one question)", r["many_one_rps"]),
        (n, f"/questions/<slug>/forecast, over all {n} in turn", r["many_spread_rps"]),
    ):
        print(f"| {served} | {path} | {rps:.0f} | {rps / base:.2f} |")
    idle = r["rerun_idle_median_seconds"]
    print(
        f"POST an item to question B -> B's new forecast served ({n} questions; s, median "
        f"of {RERUN_REPEATS}, alternately)"
    )
    print("| while | served (median) | slowest | queued | fitted | ratio to idle |")
    print("|---|---|---|---|---|---|")
    for label, name in (
        ("nothing else queued", "idle"),
        (
            f"a burst of {FLOOD_POSTS} items to question A has begun (A's fits B waited for: "
            f"at most {r['flood_fits_before_b']})",
            "flood",
        ),
    ):
        seconds = r[f"rerun_{name}_median_seconds"]
        print(
            f"| {label} | {seconds:.2f} | {r[f'rerun_{name}_max_seconds']:.2f} "
            f"| {r[f'rerun_{name}_queued_median']:.2f} | {r[f'rerun_{name}_fitted_median']:.2f} "
            f"| {seconds / idle:.2f} |"
        )
    print(
        f"| B's first rerun after the start, its model compiled again if evicted (one) "
        f"| {r['rerun_first_seconds']:.2f} | | | | {r['rerun_first_seconds'] / idle:.2f} |"
    )
    refits = int(r["rerun_idle_refits"] + r["rerun_flood_refits"])
    print(f"({refits} of these {2 * RERUN_REPEATS} reruns of B missed the gate and were refitted)")
    print(f"Memory once every question is fitted (FORECAST_WORKER_MODELS={r['worker_models']})")
    print("| questions served | worker RSS MB | worker peak MB | API RSS MB | idle worker CPU |")
    print("|---|---|---|---|---|")
    print(
        f"| 1 | {r['one_worker_rss_mb']:.0f} | {r['one_worker_peak_mb']:.0f} "
        f"| {r['one_api_rss_mb']:.0f} | {r['one_worker_cpu']:.0%} of a core |"
    )
    ratio = r["many_worker_rss_mb"] / r["one_worker_rss_mb"]
    print(
        f"| {n} | {r['many_worker_rss_mb']:.0f} ({ratio:.2f}x; "
        f"{r['many_worker_rss_after_reruns_mb']:.0f} after the reruns above, "
        f"{r['many_worker_rss_second_round_mb']:.0f} after every question fitted again, "
        f"{r['second_round_seconds']:.0f} s) "
        f"| {r['many_worker_peak_mb']:.0f} | {r['many_api_rss_mb']:.0f} "
        f"| {r['many_worker_cpu']:.0%} of a core |"
    )


if __name__ == "__main__":
    main()
