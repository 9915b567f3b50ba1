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
  written), with ``FORECAST_WORKER_MODELS`` compiled models kept at most.

``BENCH_SCALE_QUESTIONS`` sets how many questions (default 20; 0 skips this benchmark).
Run with ``python -m bench.scale``; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import datetime as dt
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.http_speed import (
    TOKEN,
    WRK_ARGS,
    WRK_SECONDS,
    _get,
    _post,
    _published_count,
    _rss_mb,
    _settled,
    _worker_pid,
    served_after,
    wrk,
)
from forecast.data.dataset import DEFAULT_DATA_DIR
from forecast.data.questions import question_slug
from forecast.pipeline.store import POSTERIOR_FILE
from forecast.polling import free_port, wait_until
from service.questions.places import QuestionPlace, places
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = int(os.environ.get("BENCH_SCALE_QUESTIONS", "20"))
# Every question's first forecast: the first compile may take a minute with empty caches,
# then a compile from the disk caches and a fit per question.
ALL_PUBLISHED_SECONDS = 600
FLOOD_POSTS = 20
RERUN_REPEATS = 3
# Posted items: Hungary's statements (a holdout), a day later each time, from here on.
FIRST_POSTED = dt.date(2024, 3, 1)


@dataclass
class Served:
    """A running service: its address, process and questions (the default first)."""

    base: str
    process: subprocess.Popen[bytes]
    places: list[QuestionPlace]
    worker_models: int

    def question(self, slug: str) -> str:
        return f"{self.base}/questions/{slug}"

    @property
    def slugs(self) -> list[str]:
        return [place.slug for place in self.places]


@contextmanager
def serving(folder: Path, questions: str) -> Iterator[Served]:
    """``python -m service --fit-if-empty`` on a database in ``folder``, serving
    ``questions`` (``FORECAST_QUESTIONS``); stopped on leaving."""
    port = free_port()
    env = {
        **os.environ,
        "FORECAST_PORT": str(port),
        "FORECAST_DATABASE_URL": f"sqlite:///{folder / 'forecast.db'}",
        "FORECAST_ARTIFACTS_DIR": str(folder / "runs"),
        "FORECAST_API_TOKEN": TOKEN,
        "FORECAST_LOG_LEVEL": "WARNING",
        "FORECAST_QUESTIONS": questions,
    }
    settings = Settings.from_env(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--fit-if-empty"], cwd=ROOT, env=env
    )
    try:
        yield Served(f"http://127.0.0.1:{port}", process, places(settings), settings.worker_models)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def copies_of_data(folder: Path, count: int) -> Path:
    """``count`` copies of ``data/`` in ``folder``, each with a slug of its own."""
    folder.mkdir(parents=True)
    for k in range(1, count + 1):
        copy = folder / f"copy-{k:02d}"
        shutil.copytree(DEFAULT_DATA_DIR, copy)
        toml = copy / "question.toml"
        text, found = re.subn(
            r'^slug = "[^"]*"', f'slug = "copy-{k:02d}"', toml.read_text(), flags=re.M
        )
        if found != 1:
            raise RuntimeError(f"{toml}: no slug line to replace")
        toml.write_text(text)
    return folder


def all_published(served: Served, label: str) -> float:
    """Seconds until GET /questions shows a headline for every question (progress
    printed as it grows)."""
    started = time.perf_counter()
    shown = -1

    def every_headline() -> bool:
        nonlocal shown
        if served.process.poll() is not None:
            raise RuntimeError(f"the service exited with {served.process.returncode} ({label})")
        status, body = _get(f"{served.base}/questions")
        listed = json.loads(body)["questions"] if status == 200 else []
        published = sum(q["headline"] is not None for q in listed)
        if published != shown:
            shown = published
            elapsed = time.perf_counter() - started
            print(
                f"  {label}: {published}/{len(served.places)} published after {elapsed:.0f} s",
                flush=True,
            )
        return status == 200 and published == len(served.places)

    wait_until(every_headline, f"a forecast for every question ({label})", ALL_PUBLISHED_SECONDS, 1)
    return time.perf_counter() - started


def archives_written(served: Served) -> None:
    """Wait until no run is queued or running and each live run's archive is written
    (the worker writes them once idle): what a long-lived worker holds."""
    for place in served.places:
        _settled(served.question(place.slug))
    for place in served.places:
        run_id = json.loads(_get(f"{served.question(place.slug)}/forecast")[1])["run_id"]
        archive = place.artifacts_dir / run_id / POSTERIOR_FILE
        wait_until(archive.exists, f"archive {archive}", 120, every=0.2)


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


def every_path_answers(served: Served) -> None:
    """GET /questions/<slug>/forecast answers 200 for every question (wrk counts any
    answer)."""
    for slug in served.slugs:
        status, _ = _get(f"{served.question(slug)}/forecast")
        if status != 200:
            raise RuntimeError(f"GET /questions/{slug}/forecast answered {status}")


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


def rerun(served: Served, b: str, posted: Posted) -> float:
    """Seconds from an item posted to question ``b`` to its new forecast served, nothing
    else queued."""
    _settled(served.question(b))
    started = time.perf_counter()
    run_id = posted.post(served.question(b))["run_id"]
    return served_after(served.question(b), run_id, started)


def rerun_during_flood(served: Served, a: str, b: str, posted: Posted) -> tuple[float, int]:
    """Seconds from an item posted to question ``b``, right after the first of
    ``FLOOD_POSTS`` items posted to ``a`` in a burst was answered, to ``b``'s new
    forecast served; and ``a``'s reruns published for the burst."""
    base_a, base_b = served.question(a), served.question(b)
    for base in (base_a, base_b):
        _settled(base)
    published_before = _published_count(base_a)
    first = threading.Event()

    def burst() -> None:
        for _ in range(FLOOD_POSTS):
            posted.post(base_a)
            first.set()

    flood = threading.Thread(target=burst)
    flood.start()
    if not first.wait(30):
        raise RuntimeError(f"the first item posted to {a} was not answered in 30 s")
    started = time.perf_counter()
    run_id = posted.post(base_b)["run_id"]
    seconds = served_after(base_b, run_id, started)
    flood.join()
    _settled(base_a)
    return seconds, _published_count(base_a) - published_before


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
        result["rerun_first_seconds"] = rerun(served, b, posted)
        rerun(served, a, posted)  # a's model compiled again too, before the flood below
        idle, flooded, flood_reruns = [], [], 0
        for _ in range(RERUN_REPEATS):
            idle.append(rerun(served, b, posted))
            seconds, reruns = rerun_during_flood(served, a, b, posted)
            flooded.append(seconds)
            flood_reruns += reruns
        result.update(
            rerun_idle_median_seconds=statistics.median(idle),
            rerun_flood_median_seconds=statistics.median(flooded),
            rerun_flood_max_seconds=max(flooded),
            flood_reruns=flood_reruns,
        )
        result["many_worker_rss_after_reruns_mb"] = _rss_mb(worker)
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
    idle, flood = r["rerun_idle_median_seconds"], r["rerun_flood_median_seconds"]
    print(
        f"POST an item to question B -> B's new forecast served ({n} questions; s, median "
        f"of {RERUN_REPEATS}, alternately)"
    )
    print("| while | seconds | ratio to idle |")
    print("|---|---|---|")
    print(f"| nothing else queued | {idle:.2f} | 1.00 |")
    print(
        f"| a burst of {FLOOD_POSTS} items to question A has begun ({r['flood_reruns']} "
        f"reruns of A published in all; slowest {r['rerun_flood_max_seconds']:.2f} s) "
        f"| {flood:.2f} | {flood / idle:.2f} |"
    )
    print(
        f"| B's first rerun after the start, its model compiled again if evicted (one) "
        f"| {r['rerun_first_seconds']:.2f} | {r['rerun_first_seconds'] / idle:.2f} |"
    )
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
        f"{r['many_worker_rss_after_reruns_mb']:.0f} after the reruns) "
        f"| {r['many_worker_peak_mb']:.0f} | {r['many_api_rss_mb']:.0f} "
        f"| {r['many_worker_cpu']:.0%} of a core |"
    )


if __name__ == "__main__":
    main()
