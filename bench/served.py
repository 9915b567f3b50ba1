"""A service serving one question or many, started for a benchmark: copies of ``data/``
as questions, the service started on a temporary database, and the waits until every
question is published and its archive written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.http_speed import TOKEN, _get, _settled
from forecast.data.dataset import DEFAULT_DATA_DIR
from forecast.pipeline.store import POSTERIOR_FILE
from forecast.polling import free_port, wait_until
from service.questions.places import QuestionPlace, places
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Every question's first forecast: the first compile may take a minute with empty caches,
# then a compile from the disk caches and a fit per question.
ALL_PUBLISHED_SECONDS = 600


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


def every_path_answers(served: Served) -> None:
    """GET /questions/<slug>/forecast answers 200 for every question (wrk counts any
    answer)."""
    for slug in served.slugs:
        status, _ = _get(f"{served.question(slug)}/forecast")
        if status != 200:
            raise RuntimeError(f"GET /questions/{slug}/forecast answered {status}")
