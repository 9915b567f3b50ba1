"""While the worker compiles the model, /health says so, since when, and how long the last
compile took; once compiled, the worker is ready and the next start expects this one's time."""

from __future__ import annotations

import datetime as dt
import threading

from forecast.polling import wait_until
from service.common.worker_status import read_compile_seconds, write_compile_seconds
from tests.service.test_outages import worker_thread


class CompilingUntilReleased:
    """The session's forecaster, whose compile lasts until the test releases it."""

    def __init__(self, inner, seconds: float):
        self.inner, self.seconds = inner, seconds
        self.release = threading.Event()

    def compile(self) -> float:
        self.release.wait(60)
        return self.seconds

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_health_shows_the_compile_and_its_expected_time_then_the_worker_ready(
    client, forecaster, monkeypatch
):
    settings = client.app.state.settings
    write_compile_seconds(settings.artifacts_dir, 42.0)  # the last start's compile
    slow = CompilingUntilReleased(forecaster, seconds=7.5)

    def phase() -> str | None:
        worker = client.get("/health").json()["worker"]
        return None if worker is None else worker["phase"]

    with worker_thread(settings, slow, monkeypatch) as start_worker:
        start_worker()
        wait_until(lambda: phase() == "compiling", "health reports the compile")
        worker = client.get("/health").json()["worker"]
        started = dt.datetime.fromisoformat(worker["phase_started_at"])
        assert worker["expected_seconds"] == 42.0
        assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=30)
        slow.release.set()
        wait_until(lambda: phase() == "ready", "health reports the worker ready")
        worker = client.get("/health").json()["worker"]
        assert (worker["phase_started_at"], worker["expected_seconds"]) == (None, None)
    assert read_compile_seconds(settings.artifacts_dir) == 7.5
