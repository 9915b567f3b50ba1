"""Fixtures: a migrated temp SQLite database (or PostgreSQL), a test client, a live server,
the stand-in forecaster and one publication of it that each test that needs it copies."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar.testing import TestClient
from sqlalchemy import func, select

from forecast.data.dataset import Dataset
from forecast.model.gate import GateConfig
from forecast.pipeline.fit import Forecaster
from forecast.polling import free_port, wait_until
from service.app import create_app
from service.common.db import Database, connect, migrate
from service.common.tables import EvidenceRow, RunRow
from service.evidence.service import seed_evidence
from service.runs.queue import in_transaction, queue_live_run
from service.settings import Settings
from tests.stand_in import StandInForecaster
from tests.system_deps import installable

TOKEN = "test-token-0123456789-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The service is tested, not the model: the gate is loosened so that a fit that converges
# a little less well (a model change, 2 chains x 400 draws in the worker of a real server
# process in test_server.py) still publishes.
SAMPLER_CONFIG = {"chains": 2, "tune": 400, "draws": 400}
GATE_CONFIG = {"r_hat_max": 1.05, "ess_bulk_min": 100.0, "ess_tail_min": 100.0}
DB_FILE = "forecast.db"
RUNS_DIR = "runs"


def make_settings(root: Path, data_dir: Path, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": f"sqlite:///{root / DB_FILE}",
        "data_dir": data_dir,
        # The one question (tests of several build their own selection).
        "questions": str(data_dir),
        "track_record_build": False,
        "artifacts_dir": root / RUNS_DIR,
        "api_token": TOKEN,
        "sampler_config": SAMPLER_CONFIG,
        "gate_config": GATE_CONFIG,
        "poll_seconds": 0.05,
    }
    return Settings(**(fields | overrides))


@pytest.fixture(scope="session")
def dead_worker() -> str:
    """The name of a worker of this host that has ended (a process started and reaped)."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait(60)
    return f"{socket.gethostname()}:{process.pid}"


def evidence_count(settings: Settings) -> int:
    database = connect(settings.database_url)
    try:
        with database.reader() as session:
            return session.scalar(select(func.count()).select_from(EvidenceRow)) or 0
    finally:
        database.dispose()


def endorsement(ally: str = "DD", date: str = "2024-03-01", **fields: Any) -> dict[str, Any]:
    return {
        "ally": ally,
        "kind": "endorsement",
        "date": date,
        "source": "https://example.org/news",
        "summary": f"{ally} endorses the candidate",
        **fields,
    }


@pytest.fixture(scope="session")
def data_dir(synthetic_dir: Path) -> Path:
    """The synthetic dataset's folder (``tests/conftest.py``)."""
    return synthetic_dir


@pytest.fixture(scope="session")
def dataset(synthetic_dataset: Dataset) -> Dataset:
    return synthetic_dataset


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, dataset) -> Path:
    """A migrated database holding the shipped evidence, copied by each test."""
    root = tmp_path_factory.mktemp("empty")
    database = connect(make_settings(root, data_dir).database_url)
    migrate(database)
    seed_evidence(database, dataset)
    database.dispose()
    return root


@contextmanager
def service_gate(forecaster: Forecaster) -> Iterator[Forecaster]:
    """The shared forecaster with the service tests' gate, the production one restored after:
    these tests check what the service does with a fit, not whether the model converged."""
    production = forecaster.gate
    forecaster.gate = GateConfig(**GATE_CONFIG)
    try:
        yield forecaster
    finally:
        forecaster.gate = production


@pytest.fixture(scope="session")
def stand_in(dataset: Dataset) -> StandInForecaster:
    """The session's stand-in forecaster (``tests/stand_in.py``): runs publish known draws,
    stored and summarised as a sampled fit's, without sampling."""
    return StandInForecaster(dataset, sampler_config=SAMPLER_CONFIG)


@pytest.fixture
def forecaster(stand_in: StandInForecaster) -> Iterator[Forecaster]:
    """The stand-in forecaster, used by the tests that drive the worker to check what the
    service does with a fit (publication, changes, retention, freshness)."""
    with service_gate(stand_in) as forecaster:
        yield forecaster


@pytest.fixture
def real_forecaster(synthetic_forecaster: Forecaster) -> Iterator[Forecaster]:
    """The session's one real forecaster (``tests/conftest.py``: compiled once, shared with
    the forecast package's tests), for the few tests that fit end to end."""
    with service_gate(synthetic_forecaster) as forecaster:
        yield forecaster


@pytest.fixture(scope="session")
def published_template(
    tmp_path_factory: pytest.TempPathFactory,
    empty_template: Path,
    data_dir: Path,
    dataset,
    stand_in: StandInForecaster,
) -> Path:
    """A database with a forecast the worker published (the stand-in's), and its draws."""
    from service.worker.loop import process_one

    root = tmp_path_factory.mktemp("published")
    shutil.copy(empty_template / DB_FILE, root / DB_FILE)
    settings = make_settings(root, data_dir)
    database = connect(settings.database_url)
    run_id = in_transaction(
        database.sessions,
        lambda s: queue_live_run(s, dataset, trigger="startup", seed=settings.seed).id,
    )
    with service_gate(stand_in) as forecaster:
        assert process_one(database.sessions, forecaster, settings) == run_id
    with database.reader() as session:
        run = session.get_one(RunRow, run_id)
        assert run.status == "succeeded", run.error
    database.dispose()
    return root


def _copy(template: Path, root: Path) -> None:
    shutil.copy(template / DB_FILE, root / DB_FILE)
    if (template / RUNS_DIR).exists():
        shutil.copytree(template / RUNS_DIR, root / RUNS_DIR)


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path, empty_template: Path) -> Settings:
    """A fresh database: shipped evidence stored, nothing published, no run queued."""
    _copy(empty_template, tmp_path)
    return make_settings(tmp_path, data_dir)


@pytest.fixture
def published(tmp_path: Path, data_dir: Path, published_template: Path) -> Settings:
    """A database with one published forecast (the stand-in's) and its artifacts."""
    root = tmp_path / "published"
    root.mkdir()
    _copy(published_template, root)
    return make_settings(root, data_dir)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = connect(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def published_client(published: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(published)) as client:
        yield client


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a free port in a thread; yields its base URL."""
    with serving_app(create_app(settings)) as url:
        yield url


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    with serving_config(config):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def serving_config(config: uvicorn.Config) -> Iterator[uvicorn.Server]:
    """A uvicorn server of ``config`` in a thread, started; stopped on exit."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn started", 10, every=0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    with serving(settings) as url:
        yield url


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


def missing(what: str) -> None:
    """Skip on a machine where ``make test`` cannot install ``what``; fail where it can."""
    if installable():
        pytest.fail(
            f"{what} is missing, though `make test` installs it (python -m tests.system_deps)"
        )
    pytest.skip(f"{what} is missing and cannot be installed here (needs root and apt-get)")


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a Unix socket.

    Skipped only where PostgreSQL is missing and ``make test`` cannot install it; a server
    that is installed but does not start fails the tests that need it. Yields the URL of
    its ``postgres`` database (tests create their own databases).
    """
    bindir = _postgres_bin()
    if bindir is None:
        missing("PostgreSQL (pg_ctl)")
    as_postgres: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="forecast-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' user to run PostgreSQL")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    options = f"-p {port} -k {root} -c listen_addresses='' -c fsync=off"

    def pg(*args: str) -> None:
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=60)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "forecast", "-A", "trust", "--no-sync")
        pg(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://forecast@/postgres?host={root}&port={port}"
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_settings(postgres: str, tmp_path: Path, data_dir: Path, dataset) -> Iterator[Settings]:
    """A fresh migrated PostgreSQL database holding the shipped evidence."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = connect(postgres, isolation_level="AUTOCOMMIT")
    with admin.engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = postgres.replace("/postgres?", f"/{name}?")
    database = connect(url)
    migrate(database)
    seed_evidence(database, dataset)
    database.dispose()
    yield make_settings(tmp_path, data_dir, database_url=url)
    with admin.engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def fit_next(settings: Settings, forecaster: Any) -> str:
    """Let the worker process the next queued run; its id (or None)."""
    from service.worker.loop import process_one

    database = connect(settings.database_url)
    try:
        return process_one(database.sessions, forecaster, settings)
    finally:
        database.dispose()
