"""Disk use bounded: which runs keep their draws, and what clients still see of the others."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace

from service.common.db import connect
from service.common.tables import ForecastRow, RunRow
from service.runs.retention import prune_run_files
from service.settings import Settings
from service.worker.loop import process_one
from tests.service.conftest import AUTH

CUT_OFF = dt.date(2024, 3, 5)


def copy_published(
    settings,
    source: str,
    n: int,
    withdrawn: bool = False,
    as_of: dt.date = CUT_OFF,
    later: bool = False,
) -> str:
    """A manual run at ``as_of`` published ``n`` minutes after an hour before ``source``
    (so before any run fitted in the test), or with ``later`` ``n`` minutes after
    ``source``, with a copy of its document and files."""
    run_id = f"run_copy{n:02d}"
    database = connect(settings.database_url)
    with database.sessions.begin() as session:
        original = session.get_one(RunRow, source)
        forecast = session.get_one(ForecastRow, source)
        start = forecast.published_at - (dt.timedelta(0) if later else dt.timedelta(hours=1))
        at = start + dt.timedelta(minutes=n)
        session.add(
            RunRow(
                id=run_id,
                status="succeeded",
                as_of=as_of,
                seed=n,
                trigger="manual",
                live=False,
                requested_at=at,
                finished_at=at,
                attempts=1,
                evidence_ids=original.evidence_ids,
            )
        )
        session.flush()
        session.add(
            ForecastRow(
                run_id=run_id,
                as_of=as_of,
                published_at=at,
                document=forecast.document.replace(source, run_id),
                change=forecast.change,
                withdrawn_at=at + dt.timedelta(seconds=1) if withdrawn else None,
            )
        )
    database.dispose()
    shutil.copytree(settings.artifacts_dir / source, settings.artifacts_dir / run_id)
    return run_id


def has_draws(settings, run_id: str) -> bool:
    return (settings.artifacts_dir / run_id / "draws.npz").is_file()


def test_older_runs_at_a_cut_off_lose_their_draws_and_stay_in_the_history(
    published, published_client
):
    live = published_client.get("/forecast").json()["run_id"]
    oldest, older, newer, newest = (copy_published(published, live, n) for n in (1, 2, 3, 4))
    withdrawn = copy_published(published, live, 5, withdrawn=True)

    database = connect(published.database_url)
    pruned = prune_run_files(database.reader, published.artifacts_dir, 5, keep_per_cut_off=2)
    database.dispose()

    assert sorted(pruned) == sorted([oldest, older, withdrawn])
    assert [has_draws(published, r) for r in (live, oldest, older, newer, newest)] == [
        True,
        False,
        False,
        True,
        True,
    ]
    assert not has_draws(published, withdrawn)
    # The documents stay: the history lists every served run, the changes every one.
    history = [row["run_id"] for row in published_client.get("/forecast/history").json()]
    assert history == [live, oldest, older, newer, newest]
    assert (published.artifacts_dir / oldest / "forecast.json").is_file()
    assert published_client.get(f"/forecast/changes/{oldest}").status_code == 200
    # What-ifs are answered: at the cut-off the newest run is served, with its draws.
    what_if = published_client.get(f"/forecast?as_of={CUT_OFF}&by=2024-06-01")
    assert what_if.status_code == 200, what_if.text
    assert what_if.json()["run_id"] == newest
    assert published_client.get("/forecast?by=2024-06-01").status_code == 200


def test_the_live_run_keeps_its_draws_when_newer_manual_runs_share_its_cut_off(
    published, published_client
):
    """Two manual runs at the live cut-off, published after the live run, are the newest
    served there: the live run is not among them, and its what-ifs are still answered."""
    live = published_client.get("/forecast").json()
    cut_off = dt.date.fromisoformat(live["as_of"])
    newer, newest = (
        copy_published(published, live["run_id"], n, as_of=cut_off, later=True) for n in (1, 2)
    )

    database = connect(published.database_url)
    pruned = prune_run_files(database.reader, published.artifacts_dir, 5, keep_per_cut_off=2)
    database.dispose()

    what_if = published_client.get("/forecast?by=2024-06-01&assume=DD:endorsed")
    assert what_if.status_code == 200, what_if.text
    assert what_if.json()["run_id"] == live["run_id"]
    assert published_client.get(f"/forecast?as_of={cut_off}").json()["run_id"] == newest
    assert pruned == []
    assert [has_draws(published, r) for r in (live["run_id"], newer, newest)] == [True] * 3


def test_the_worker_deletes_the_draws_a_new_publication_made_unneeded(
    published, published_client, forecaster
):
    settings = replace(published, keep_runs_per_cut_off=1)
    live = published_client.get("/forecast").json()["run_id"]
    replaced = copy_published(settings, live, 1)
    queued = published_client.post("/runs", json={"as_of": str(CUT_OFF)}, headers=AUTH).json()

    database = connect(settings.database_url)
    try:
        assert process_one(database.sessions, forecaster, settings) == queued["id"]
    finally:
        database.dispose()

    assert published_client.get(f"/forecast?as_of={CUT_OFF}").json()["run_id"] == queued["id"]
    assert has_draws(settings, queued["id"]) and has_draws(settings, live)
    assert not has_draws(settings, replaced)


def test_the_number_of_runs_kept_per_cut_off_is_a_setting():
    env = {"FORECAST_KEEP_RUNS_PER_CUT_OFF": "3"}
    assert Settings.from_env(env).keep_runs_per_cut_off == 3
    assert Settings.from_env({}).keep_runs_per_cut_off == 2
