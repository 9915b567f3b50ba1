"""A question on the live clock: its cut-off follows today in UTC, the worker queues a run
when the day moves, and the forecast says how old its cut-off is."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from forecast.data import clock
from forecast.data.dataset import Dataset, load_dataset
from service.app import create_app
from service.common.db import connect
from service.common.tables import RunRow
from service.runs.queue import follow_clock
from service.settings import Settings

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def live_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The synthetic question, on the live clock (a key before the file's tables)."""
    folder = tmp_path_factory.mktemp("live") / "data"
    shutil.copytree(data_dir, folder)
    toml = folder / "question.toml"
    toml.write_text('clock = "live"\n' + toml.read_text())
    return folder


def live_runs(settings: Settings) -> list[tuple[dt.date, str, str]]:
    database = connect(settings.database_url)
    try:
        with database.reader() as session:
            rows = session.execute(
                select(RunRow.as_of, RunRow.status, RunRow.trigger)
                .where(RunRow.live.is_(True))
                .order_by(RunRow.requested_at)
            )
            return [tuple(row) for row in rows]
    finally:
        database.dispose()


def follow(settings: Settings, dataset: Dataset) -> str | None:
    database = connect(settings.database_url)
    try:
        return follow_clock(database, dataset, seed=1)
    finally:
        database.dispose()


def test_the_question_file_says_which_clock_and_the_default_is_the_evidence(live_dir, dataset):
    assert load_dataset(live_dir).question.clock == "live"
    assert dataset.question.clock == "evidence"


def test_on_the_live_clock_a_new_day_queues_one_live_run_at_today(
    published, live_dir, dataset, monkeypatch
):
    monkeypatch.setattr(clock, "utcnow", lambda: NOON)
    before = live_runs(published)
    (published_as_of, _, _) = before[-1]

    assert follow(published, dataset) is None  # a replay's cut-off waits for evidence
    assert follow(published, load_dataset(live_dir)) is not None
    assert follow(published, load_dataset(live_dir)) is None  # once a day

    after = live_runs(published)
    assert after[:-1] == before and published_as_of < NOON.date()
    assert after[-1] == (NOON.date(), "queued", "clock")


def test_a_forecast_says_how_old_its_cut_off_is_and_on_the_live_clock_that_it_is_behind(
    published, live_dir, monkeypatch
):
    monkeypatch.setattr(clock, "utcnow", lambda: NOON)
    live = dataclasses.replace(published, data_dir=live_dir, questions=str(live_dir))
    with TestClient(create_app(published)) as replay, TestClient(create_app(live)) as open_:
        replayed = replay.get("/forecast").json()
        followed = open_.get("/forecast").json()

    age = (NOON.date() - dt.date.fromisoformat(replayed["as_of"])).days
    assert age > 900  # the synthetic question opened in February 2024
    assert replayed["freshness"] == {
        "up_to_date": True,
        "pending_evidence": [],
        "pending_run": None,
        "failed_run": None,
        "clock": "evidence",
        "cut_off_age_days": age,
    }
    assert followed["freshness"]["clock"] == "live"
    assert followed["freshness"]["cut_off_age_days"] == age
    assert followed["freshness"]["up_to_date"] is False
    assert followed["freshness"]["pending_evidence"] == []
