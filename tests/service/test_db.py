"""The database layer on SQLite and PostgreSQL: migrations, WAL, row locks, concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from litestar.testing import TestClient
from sqlalchemy import select

from service.app import create_app
from service.common.db import Database, connect, migrate, schema_at_head, wait_for_schema
from service.common.tables import Base, ForecastRow, RunRow
from service.runs.queue import claim_next, in_transaction, publish, queue_run
from tests.service.conftest import AUTH, endorsement, evidence_count, serving


def manual_run(database: Database, as_of: dt.date) -> str:
    return in_transaction(
        database.sessions, lambda s: queue_run(s, as_of=as_of, seed=1, trigger="manual").id
    )


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database):
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_sqlite_commits_are_on_disk_before_a_post_gets_201(client):
    assert client.post("/evidence", json=endorsement(), headers=AUTH).status_code == 201
    # The connections the service wrote with: synchronous FULL (2) in WAL mode, so a
    # commit is synced before it returns; NORMAL (1) can lose it on a power cut.
    with client.app.state.database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2


@pytest.mark.parametrize("backend", ["settings", "pg_settings"])
def test_migrations_create_exactly_the_tables_of_the_models(backend, request):
    database = connect(request.getfixturevalue(backend).database_url)
    migrate(database)  # a second time: nothing to do
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    database.dispose()


def test_evidence_and_runs_work_on_postgres(pg_settings):
    with TestClient(create_app(pg_settings)) as client:
        first = client.post("/evidence", json=endorsement("DD"), headers=AUTH)
        again = client.post("/evidence", json=endorsement("DD"), headers=AUTH)
        other = client.post("/evidence", json=endorsement("EE", "2024-03-04"), headers=AUTH)
        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
        assert first.json()["run_id"] == other.json()["run_id"]
        retracted = client.delete(f"/evidence/{first.json()['evidence_id']}", headers=AUTH)
        assert retracted.status_code == 200
        (run,) = client.get("/runs").json()
        assert (run["status"], run["as_of"]) == ("queued", "2024-03-04")
        assert client.get("/health").json()["database"] == "postgresql"


def test_concurrent_writers_on_postgres_store_each_item_once_and_share_one_run(pg_settings):
    before = evidence_count(pg_settings)
    bodies = [endorsement("DD", summary=f"report {i}") for i in range(24)]
    bodies += [endorsement("EE")] * 8  # the same item, eight times at once

    with serving(pg_settings) as url:

        def post(body):
            with httpx.Client(base_url=url, timeout=30) as http:
                return http.post("/evidence", json=body, headers=AUTH)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            responses = list(pool.map(post, bodies))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201] * 25
    assert len({r.json()["run_id"] for r in responses}) == 1
    assert evidence_count(pg_settings) == before + 25


def test_a_run_locked_by_one_worker_is_skipped_by_another_on_postgres(pg_settings):
    database = connect(pg_settings.database_url)
    first = manual_run(database, dt.date(2024, 3, 1))
    second = manual_run(database, dt.date(2024, 3, 2))
    with database.sessions.begin() as other_worker:
        other_worker.execute(select(RunRow).where(RunRow.id == first).with_for_update()).all()
        assert claim_next(database.sessions, "w").run_id == second
    assert claim_next(database.sessions, "w").run_id == first
    database.dispose()


def test_a_published_forecast_is_served_from_postgres(pg_settings, published_template):
    template = connect(f"sqlite:///{published_template / 'forecast.db'}")
    with template.reader() as session:
        stored = session.scalars(select(ForecastRow)).one()
    template.dispose()
    database = connect(pg_settings.database_url)
    run_id = in_transaction(  # a live run: a manual one is served only at its ?as_of=
        database.sessions,
        lambda s: queue_run(s, as_of=stored.as_of, seed=1, trigger="startup", live=True).id,
    )
    claim_next(database.sessions, "w")
    publish(database.sessions, run_id, "w", {}, stored.document, {"passed": True}, {})
    database.dispose()
    with TestClient(create_app(pg_settings)) as client:
        response = client.get("/forecast")
        served = response.json()
        assert served.pop("freshness")["up_to_date"] is True
        assert served == json.loads(stored.document)
        cached = client.get("/forecast", headers={"If-None-Match": response.headers["etag"]})
        assert cached.status_code == 304
        assert [row["run_id"] for row in client.get("/forecast/history").json()] == [run_id]


def test_startup_migrates_a_new_database_and_seeds_the_shipped_evidence_once(
    tmp_path, data_dir, dataset
):
    from service.startup import prepare
    from tests.service.conftest import make_settings

    settings = make_settings(tmp_path / "new", data_dir)
    prepare(settings, fit_if_empty=True)
    prepare(settings, fit_if_empty=True)
    assert evidence_count(settings) == len(dataset.evidence)
    database = connect(settings.database_url)
    with database.reader() as session:
        (run,) = session.scalars(select(RunRow)).all()
    database.dispose()
    assert (run.status, run.trigger, run.as_of) == ("queued", "startup", dataset.question.opened)


def test_a_worker_waits_for_the_migrations_that_start_after_it(tmp_path):
    # python -m service starts its worker before it migrates: the worker's first read
    # waits for the schema, and a stop request ends the wait.
    url = f"sqlite:///{tmp_path / 'new.db'}"
    database, migrating = connect(url), connect(url)
    assert not schema_at_head(database)
    assert wait_for_schema(database, 0.01, stop=lambda: True) is False
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(wait_for_schema, database, 0.01, threading.Event().is_set)
        assert not waiting.done()
        migrate(migrating)
        assert waiting.result(timeout=10) is True
    assert schema_at_head(database)
    database.dispose()
    migrating.dispose()


def test_nul_and_control_characters_get_422_on_postgres(pg_settings):
    before = evidence_count(pg_settings)
    with TestClient(create_app(pg_settings)) as client:
        for field in ("summary", "source"):
            body = endorsement("DD") | {field: "Hungary\x00 backs Rutte"}
            response = client.post("/evidence", json=body, headers=AUTH)
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"] == field
    assert evidence_count(pg_settings) == before
