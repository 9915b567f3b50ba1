"""Fault injection: a database that cannot be written is an outage (503), never a 500."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from forecast.polling import wait_until
from service.settings import Settings
from tests.service.conftest import AUTH, endorsement
from tests.stand_in import SAMPLER


@contextmanager
def unwritable(settings: Settings) -> Iterator[None]:
    """The SQLite database file and its WAL made immutable (``chattr +i``), restored after.

    As root, permissions do not stop writes; the immutable attribute does. The shared
    memory file stays writable: it is mapped, and an immutable mapping kills the process.
    """
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available to make the database files immutable")
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    files = [str(p) for p in (database, Path(f"{database}-wal")) if p.exists()]
    made = subprocess.run(["chattr", "+i", *files], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i failed here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


def assert_writes_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["type"] == "urn:forecast:problem:writes-unavailable"
    assert "writes are unavailable" in problem["detail"]


def test_writes_to_an_unwritable_database_get_503_and_health_says_so_until_they_work(client):
    item = client.get("/evidence").json()[0]["id"]
    client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)  # the WAL exists
    with unwritable(client.app.state.settings):
        assert_writes_unavailable(
            client.post("/evidence", json=endorsement("EE", "2024-03-02"), headers=AUTH)
        )
        assert_writes_unavailable(client.delete(f"/evidence/{item}", headers=AUTH))
        assert_writes_unavailable(client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH))
        health = client.get("/health").json()
        assert health["writes_enabled"] is False
        assert "cannot be written" in health["writes_reason"]
        assert client.get("/evidence").status_code == 200  # reads keep working
    health = client.get("/health").json()
    assert (health["writes_enabled"], health["writes_reason"]) == (True, None)
    posted = client.post("/evidence", json=endorsement("EE", "2024-03-02"), headers=AUTH)
    assert posted.status_code == 201, posted.text


@contextmanager
def worker_thread(settings: Settings, forecaster, monkeypatch) -> Iterator[Callable[[], None]]:
    """The worker's loop (``service.worker.loop.serve``) on ``forecaster``, in a thread of
    the test process: the context gives the function that starts it."""
    from service.worker import loop

    thread = threading.Thread(
        target=loop.serve, args=(settings, lambda _settings: forecaster), daemon=True
    )
    try:
        yield thread.start
    finally:
        monkeypatch.setattr(loop._Stop, "requested", True)
        if thread.is_alive():
            thread.join(60)


def test_the_workers_failed_writes_show_in_health_until_they_work_again(
    client, forecaster, monkeypatch
):
    posted = client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)
    run_id = posted.json()["run_id"]  # queued, for the worker to claim (a write)
    settings = client.app.state.settings
    with worker_thread(settings, forecaster, monkeypatch) as start_worker:
        with unwritable(settings):
            start_worker()
            wait_until(
                lambda: not client.get("/health").json()["writes_enabled"],
                "health reports the worker's failed writes",
            )
            health = client.get("/health").json()
            assert "the worker cannot write to the database" in health["writes_reason"]
            assert health["worker"]["writes_enabled"] is False
            assert health["worker"]["writes_reason"]
        wait_until(
            lambda: client.get(f"/runs/{run_id}").json()["status"] == "succeeded",
            "the worker publishes the queued run once its writes work",
        )
        # Fitted by the forecaster handed to the worker (known draws), not one of its own.
        assert client.get(f"/runs/{run_id}").json()["diagnostics"]["sampler"] == SAMPLER
        health = client.get("/health").json()
        assert (health["writes_enabled"], health["writes_reason"]) == (True, None)
        assert (health["worker"]["writes_enabled"], health["worker"]["writes_reason"]) == (
            True,
            None,
        )
    assert client.get("/health").json()["worker"] is None  # the worker stopped


def test_the_workers_report_is_written_in_place_when_no_new_file_can_be_made(tmp_path):
    from service.common.worker_status import read_report, report_now, write_report

    path = tmp_path / "status" / "worker-status.json"
    assert write_report(path, report_now())
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not available to make the folder immutable")
    made = subprocess.run(["chattr", "+i", str(path.parent)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i failed here: {made.stderr.decode().strip()}")
    try:  # no file can be created or renamed in the folder, as on a full disk
        assert write_report(path, report_now("disk I/O error", 1.0))
    finally:
        subprocess.run(["chattr", "-i", str(path.parent)], check=True)
    report = read_report(path)
    assert report is not None
    assert (report.writes_reason, report.failing_since) == ("disk I/O error", 1.0)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
