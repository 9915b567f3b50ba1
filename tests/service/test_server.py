"""End to end against the real ``python -m service`` process: publish, restart, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from forecast.polling import free_port, wait_until
from tests.service.conftest import AUTH, GATE_CONFIG, SAMPLER_CONFIG, TOKEN, endorsement

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Server:
    """``python -m service --fit-if-empty`` in its own process group (server and worker)."""

    def __init__(
        self, env: dict[str, str], logs: Path, args: tuple[str, ...] = ("--fit-if-empty",)
    ):
        self.env = env
        self.logs = logs
        self.args = args
        self.url = f"http://127.0.0.1:{env['FORECAST_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"server-{self.env['FORECAST_PORT']}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", *self.args],
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(lambda: self.get("/health").status_code == 200, 60, "the server to answer", self)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.get(self.url + path, timeout=10, **kwargs)
        except httpx.TransportError:
            return httpx.Response(599)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=AUTH, timeout=10)

    def stop(self) -> int:
        """SIGTERM to the server; it stops its worker. Returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        wait_for(lambda: not self.group_alive(), 15, "the worker to stop", self)
        return code

    def kill(self) -> None:
        """SIGKILL to the server: its worker dies with it (no orphan keeps fitting)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        wait_for(lambda: not self.group_alive(), 15, "the worker to die with the server", self)

    def group_alive(self) -> bool:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.logs.glob("server-*.log"))
        )


def wait_for(check: Callable[[], bool], seconds: float, what: str, server: Server) -> None:
    """``wait_until``, failing with the end of the server's log."""
    try:
        wait_until(check, what, seconds, every=0.1)
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{server.tail()}")


def run_status(server: Server, run_id: str) -> str:
    return server.get(f"/runs/{run_id}").json()["status"]


def server_env(tmp_path: Path, data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "FORECAST_HOST": "127.0.0.1",
        "FORECAST_PORT": str(free_port()),
        "FORECAST_DATABASE_URL": database_url,
        "FORECAST_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "FORECAST_DATA_DIR": str(data_dir),
        "FORECAST_QUESTIONS": str(data_dir),
        "FORECAST_TRACK_RECORD_BUILD": "off",
        "FORECAST_API_TOKEN": TOKEN,
        "FORECAST_SAMPLER_CONFIG": json.dumps(SAMPLER_CONFIG),
        "FORECAST_GATE_CONFIG": json.dumps(GATE_CONFIG),
        "FORECAST_POLL_SECONDS": "0.05",
    }


@pytest.fixture
def server(tmp_path: Path, data_dir: Path) -> Iterator[Server]:
    env = server_env(tmp_path, data_dir, f"sqlite:///{tmp_path / 'forecast.db'}")
    server = Server(env, tmp_path)
    yield server
    if server.process is not None and server.group_alive():
        os.killpg(server.process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_server_publishes_serves_after_restart_and_finishes_a_run_after_sigkill(server):
    # First start: an empty database gets the shipped evidence and a first fit.
    server.start()
    wait_for(lambda: server.get("/forecast").status_code == 200, 240, "a first forecast", server)

    # An endorsement is published within a run; the ally shows as endorsed.
    posted = server.post("/evidence", endorsement("DD", "2024-03-01")).json()
    wait_for(lambda: run_status(server, posted["run_id"]) == "succeeded", 60, "the run", server)
    live = server.get("/forecast")
    assert live.json()["run_id"] == posted["run_id"]
    assert {a["code"]: a["status"] for a in live.json()["allies"]}["DD"] == "endorsed"

    # A graceful restart serves the same forecast at once, without resampling. The run's
    # posterior archive, written once the worker is idle, is written by a stop at latest.
    assert server.stop() == 0
    assert (Path(server.env["FORECAST_ARTIFACTS_DIR"]) / posted["run_id"] / "posterior.nc").exists()
    server.start()
    again = server.get("/forecast")
    assert again.status_code == 200
    assert (again.content, again.headers["etag"]) == (live.content, live.headers["etag"])
    health = server.get("/health").json()
    assert (health["queued"], health["running"]) == (0, 0)

    # SIGKILL during a run: after a restart the run is fitted and the evidence is kept.
    second = server.post("/evidence", endorsement("EE", "2024-03-05")).json()
    wait_for(lambda: run_status(server, second["run_id"]) == "running", 120, "a claim", server)
    server.kill()
    server.start()
    wait_for(lambda: run_status(server, second["run_id"]) == "succeeded", 240, "recovery", server)
    run = server.get(f"/runs/{second['run_id']}").json()
    assert run["attempts"] == 2
    evidence = {e["id"]: e for e in server.get("/evidence").json()}
    assert evidence[second["evidence_id"]]["retracted"] is False
    assert evidence[posted["evidence_id"]]["retracted"] is False
    final = server.get("/forecast").json()
    assert final["run_id"] == second["run_id"]
    assert {a["code"]: a["status"] for a in final["allies"]}["EE"] == "endorsed"
    assert server.stop() == 0


@pytest.mark.slow
def test_two_api_processes_on_one_postgres_database_with_one_worker_serve_one_forecast(
    pg_settings, tmp_path, data_dir
):
    """The README's layout: API processes with --no-worker, one python -m service.worker."""
    first = Server(
        server_env(tmp_path, data_dir, pg_settings.database_url),
        tmp_path,
        ("--no-worker", "--fit-if-empty"),
    )
    second = Server(
        server_env(tmp_path, data_dir, pg_settings.database_url), tmp_path, ("--no-worker",)
    )
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.worker"],
        env=first.env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        first.start()  # migrates, seeds and queues the first run before the others start
        second.start()
        wait_for(lambda: second.get("/forecast").status_code == 200, 240, "a forecast", second)
        dd = first.post("/evidence", endorsement("DD", "2024-03-01")).json()
        ee = second.post("/evidence", endorsement("EE", "2024-03-02")).json()
        for posted, api in ((dd, first), (ee, second)):
            wait_for(
                lambda p=posted, a=api: run_status(a, p["run_id"]) == "succeeded",
                240,
                "the run",
                api,
            )
        served = [api.get("/forecast") for api in (first, second)]
        assert served[0].content == served[1].content
        assert served[0].headers["etag"] == served[1].headers["etag"]
        document = served[0].json()
        assert document["run_id"] == ee["run_id"]
        statuses = {a["code"]: a["status"] for a in document["allies"]}
        assert (statuses["DD"], statuses["EE"]) == ("endorsed", "endorsed")
        for api in (first, second):
            evidence = {e["id"] for e in api.get("/evidence").json()}
            assert {dd["evidence_id"], ee["evidence_id"]} <= evidence
            assert api.get("/health").json()["database"] == "postgresql"
    finally:
        for api in (first, second):
            if api.process is not None and api.group_alive():
                api.stop()
        worker.terminate()
        worker.wait(30)


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` in the process table (/proc), at any depth."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is in the process table and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_sigkill_of_the_api_leaves_no_child_process_behind(published, tmp_path, data_dir):
    """The worker, the what-if process and multiprocessing's resource tracker all go."""
    env = server_env(tmp_path, data_dir, published.database_url)
    env["FORECAST_ARTIFACTS_DIR"] = str(published.artifacts_dir)
    server = Server(env, tmp_path)
    server.start()
    try:
        # The first what-if starts the what-if process (asked again while it starts).
        by = {"by": "2024-03-15"}
        wait_for(
            lambda: server.get("/forecast", params=by).status_code == 200, 120, "a what-if", server
        )
        assert server.process is not None
        children = descendants(server.process.pid)
        commands = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for pid in children
        }
        assert any("service.worker" in c for c in commands.values()), commands
        assert any("multiprocessing" in c for c in commands.values()), commands
        assert len(children) >= 3, commands  # the worker, a what-if process, the tracker
        server.process.kill()
        server.process.wait(10)
        deadline = time.monotonic() + 10
        while (left := [commands[pid] for pid in children if alive(pid)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert left == [], f"still running 10 s after the API's SIGKILL: {left}"
    finally:
        if server.process is not None and server.group_alive():
            os.killpg(server.process.pid, signal.SIGKILL)
