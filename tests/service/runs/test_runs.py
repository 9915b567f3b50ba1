"""Runs and the worker: queue, claim, publish or fail, recover after a crash."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from forecast.model.gate import GateConfig, GateFailed
from forecast.pipeline.store import DOCUMENT_FILE, INPUTS_FILE, read_json
from forecast.posterior.draws import DRAWS_FILE
from service.common.tables import RunRow
from service.runs.queue import MAX_ATTEMPTS, claim_next, recover
from service.worker.loop import Shutdown, WhenIdle, _archive, process_one
from tests.service.conftest import AUTH, endorsement

LEASE_SECONDS = 60.0


class Failing:
    """A forecaster whose fit raises, to show how failures are recorded."""

    def __init__(self, error: BaseException):
        self.error = error
        self.calls = 0

    def run(self, *args, **kwargs):
        self.calls += 1
        raise self.error


def set_status(database, run_id: str, **values) -> None:
    with database.sessions.begin() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(**values))


def test_post_runs_queues_a_fit_at_that_cut_off(client):
    response = client.post("/runs", json={"as_of": "2024-03-20", "seed": 7}, headers=AUTH)
    assert response.status_code == 202, response.text
    run = response.json()
    assert (run["status"], run["as_of"], run["seed"], run["live"]) == (
        "queued",
        "2024-03-20",
        7,
        False,
    )
    assert client.get(f"/runs/{run['id']}").json()["trigger"] == "manual"


def test_runs_list_newest_first_and_filters_by_status(client, database):
    first = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    second = client.post("/runs", json={"as_of": "2024-03-02"}, headers=AUTH).json()
    set_status(database, first["id"], status="failed")
    assert [r["id"] for r in client.get("/runs").json()] == [second["id"], first["id"]]
    assert [r["id"] for r in client.get("/runs?status=failed").json()] == [first["id"]]
    assert len(client.get("/runs?limit=1").json()) == 1


def pages(client, url: str) -> list[list[dict]]:
    """Every page of a list, following each ``Link: <...>; rel="next"`` header."""
    found = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        found.append(response.json())
        assert len(found) <= 20, "the next page never ends"
        link = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
        url = link.group(1) if link else ""
    return found


def test_paging_through_runs_returns_each_run_once_newest_first(client, database):
    ids = [
        client.post("/runs", json={"as_of": "2024-03-01", "seed": seed}, headers=AUTH).json()["id"]
        for seed in range(5)
    ]
    # Three requested at one instant, before the others: the run id orders them, and the
    # second page ends between them.
    same = dt.datetime(2024, 3, 2, 9, 30, tzinfo=dt.UTC)
    for run_id in ids[1:4]:
        set_status(database, run_id, requested_at=same)
    runs = [client.get(f"/runs/{run_id}").json() for run_id in ids]
    expected = [
        r["id"]
        for r in sorted(
            runs,
            key=lambda r: (dt.datetime.fromisoformat(r["requested_at"]), r["id"]),
            reverse=True,
        )
    ]

    found = pages(client, "/runs?limit=2")

    assert [len(page) for page in found] == [2, 2, 1]
    assert [r["id"] for page in found for r in page] == expected
    assert expected[2:] == sorted(ids[1:4], reverse=True)


def test_paging_runs_keeps_the_status_filter(client, database):
    ids = [
        client.post("/runs", json={"as_of": "2024-03-01", "seed": seed}, headers=AUTH).json()["id"]
        for seed in range(4)
    ]
    for run_id in ids[:3]:
        set_status(database, run_id, status="failed")

    found = pages(client, "/runs?status=failed&limit=1")

    assert [r["id"] for page in found for r in page] == ids[2::-1]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyIyMDI0LTAzLTAxIl0"])
def test_a_bad_runs_cursor_gets_400_naming_the_cursor(client, cursor):
    client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH)

    response = client.get("/runs", params={"cursor": cursor})

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "cursor" and "Link header" in error["valid"]


def test_process_one_returns_none_when_nothing_is_queued(database, settings):
    assert process_one(database.sessions, Failing(AssertionError()), settings) is None


def test_worker_publishes_a_posted_endorsement_fitted_by_the_real_sampler(
    published_client, published, real_forecaster
):
    from service.common.db import connect

    before = published_client.get("/forecast").json()
    posted = published_client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    database = connect(published.database_url)
    assert process_one(database.sessions, real_forecaster, published) == posted["run_id"]
    database.dispose()
    run = published_client.get(f"/runs/{posted['run_id']}").json()
    assert run["status"] == "succeeded" and run["published"] is True
    assert (run["diagnostics"]["passed"], run["diagnostics"]["sampler"]) == (True, "nutpie")
    assert run["timings"]["total_seconds"] > 0
    assert posted["evidence_id"] in run["evidence_ids"]
    after = published_client.get("/forecast").json()
    assert (after["run_id"], after["as_of"]) == (posted["run_id"], "2024-03-01")
    assert after["evidence_count"] == before["evidence_count"] + 1
    allies = {a["code"]: a for a in after["allies"]}
    assert allies["DD"]["status"] == "endorsed"
    # The draws are served; the posterior's netCDF archive is written after publishing.
    assert (published.artifacts_dir / posted["run_id"] / "draws.npz").exists()
    assert (published.artifacts_dir / posted["run_id"] / "posterior.nc").exists()


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys, lengths and kinds, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return type(value).__name__


def test_the_stand_in_publishes_the_files_and_fields_a_sampled_fit_publishes(
    published_client, published, real_forecaster, forecaster
):
    """The stand-in the service's tests publish with (known draws) stores and serves what
    the real sampler's fit does, at the same cut-off on the same evidence."""
    from service.common.db import connect

    database = connect(published.database_url)

    def fitted(fitter, seed: int) -> dict[str, Any]:
        body = {"as_of": "2024-03-01", "seed": seed}
        queued = published_client.post("/runs", json=body, headers=AUTH).json()
        assert process_one(database.sessions, fitter, published) == queued["id"]
        return published_client.get(f"/runs/{queued['id']}").json()

    # A first forecast at the cut-off, so that each of the two compared replaces one.
    fitted(forecaster, 3)
    real, stand_in = fitted(real_forecaster, 1), fitted(forecaster, 2)
    database.dispose()

    def files(run):
        return sorted(p.name for p in (published.artifacts_dir / run["id"]).iterdir())

    def served(run):
        return published_client.get(f"/forecast/changes/{run['id']}").json()

    assert (real["status"], stand_in["status"]) == ("succeeded", "succeeded")
    assert files(stand_in) == files(real)
    # A sampled fit that missed the gate once records why beside its refit's diagnostics.
    assert set(stand_in["diagnostics"]) == set(real["diagnostics"]) - {"first_attempt_failures"}
    assert set(stand_in["timings"]) == set(real["timings"])
    assert stand_in["evidence_ids"] == real["evidence_ids"]
    assert shape(served(stand_in)) == shape(served(real))
    documents = [
        read_json(published.artifacts_dir / run["id"] / DOCUMENT_FILE) for run in (real, stand_in)
    ]
    assert shape(documents[1]) == shape(documents[0])
    inputs = [
        read_json(published.artifacts_dir / run["id"] / INPUTS_FILE) for run in (real, stand_in)
    ]
    assert set(inputs[1]) == set(inputs[0])


def test_a_fit_that_fails_the_gate_is_recorded_and_publishes_nothing(
    published_client, published, forecaster
):
    from service.common.db import connect

    live = published_client.get("/forecast").json()["run_id"]
    queued = published_client.post("/runs", json={"as_of": "2024-03-10"}, headers=AUTH).json()
    forecaster.gate = GateConfig(ess_bulk_min=1e9)  # the fixture restores the gate
    database = connect(published.database_url)
    assert process_one(database.sessions, forecaster, published) == queued["id"]
    database.dispose()
    run = published_client.get(f"/runs/{queued['id']}").json()
    assert (run["status"], run["published"]) == ("failed", False)
    assert "gate" in run["error"]
    assert run["diagnostics"]["passed"] is False and run["diagnostics"]["failures"]
    assert run["timings"]["total_seconds"] > 0
    assert published_client.get("/forecast").json()["run_id"] == live
    assert published_client.get("/forecast?as_of=2024-03-10").status_code == 404


def test_a_fit_that_raises_is_recorded_as_failed(client, database, settings):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    assert process_one(database.sessions, Failing(ValueError("bad")), settings) == queued["id"]
    run = client.get(f"/runs/{queued['id']}").json()
    assert run["status"] == "failed"
    assert run["error"].startswith("ValueError: ") and "log" in run["error"]


def test_a_failed_run_shows_no_exception_text_but_logs_it(client, database, settings, caplog):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    secret = OSError("cannot open /srv/secret/path/draws.npz")
    process_one(database.sessions, Failing(secret), settings)
    listed = client.get("/runs").text + client.get(f"/runs/{queued['id']}").text
    assert "/srv/secret" not in listed and "OSError" in listed
    assert "/srv/secret/path" in caplog.text


def test_posting_the_same_cut_off_and_seed_twice_returns_the_queued_run(client):
    first = client.post("/runs", json={"as_of": "2024-03-20", "seed": 7}, headers=AUTH)
    again = client.post("/runs", json={"as_of": "2024-03-20", "seed": 7}, headers=AUTH)
    other_seed = client.post("/runs", json={"as_of": "2024-03-20", "seed": 8}, headers=AUTH)
    assert (first.status_code, again.status_code, other_seed.status_code) == (202, 200, 202)
    assert again.json()["id"] == first.json()["id"] != other_seed.json()["id"]
    assert len(client.get("/runs?status=queued").json()) == 2


def test_queued_manual_runs_are_capped_with_429(settings, database):
    from dataclasses import replace

    from litestar.testing import TestClient

    from service.app import create_app

    with TestClient(create_app(replace(settings, max_queued_runs=3))) as client:
        for day in (1, 2, 3):
            response = client.post("/runs", json={"as_of": f"2024-03-0{day}"}, headers=AUTH)
            assert response.status_code == 202
        refused = client.post("/runs", json={"as_of": "2024-03-04"}, headers=AUTH)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        # Evidence still queues its live rerun, and a finished run frees a place.
        assert client.post("/evidence", json=endorsement("DD"), headers=AUTH).status_code == 201
        claim_next(database.sessions, "w")  # the live run
        claim_next(database.sessions, "w")  # the oldest manual run
        assert client.post("/runs", json={"as_of": "2024-03-04"}, headers=AUTH).status_code == 202


def test_live_reruns_are_claimed_before_manual_runs(client, database):
    manual = [
        client.post("/runs", json={"as_of": f"2024-03-0{d}"}, headers=AUTH).json() for d in (1, 2)
    ]
    live = client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    order = [claim_next(database.sessions, "w").run_id for _ in range(3)]
    assert order == [live["run_id"], manual[0]["id"], manual[1]["id"]]


def test_run_files_are_kept_for_published_runs_and_the_newest_failed_ones(
    published_client, published
):
    from dataclasses import replace

    from service.common.db import connect

    settings = replace(published, keep_failed_runs=2)
    live = published_client.get("/forecast").json()["run_id"]
    database = connect(settings.database_url)
    failed = []
    for day in range(1, 5):
        run = published_client.post("/runs", json={"as_of": f"2024-03-0{day}"}, headers=AUTH)
        run_id = run.json()["id"]
        (settings.artifacts_dir / run_id).mkdir(parents=True)
        (settings.artifacts_dir / run_id / "draws.npz").write_bytes(b"x" * 1000)
        process_one(database.sessions, Failing(ValueError("bad")), settings)
        failed.append(run_id)
    database.dispose()
    kept = {p.name for p in settings.artifacts_dir.iterdir()}
    assert kept == {live, failed[-1], failed[-2]}
    # The database keeps every run's record.
    statuses = [published_client.get(f"/runs/{r}").json()["status"] for r in failed]
    assert statuses == ["failed"] * 4


def test_gate_failed_from_a_stub_keeps_its_diagnostics(client, database, settings):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    diagnostics = {"passed": False, "failures": ["R-hat 1.2 > 1.01"], "r_hat_max": 1.2}
    process_one(database.sessions, Failing(GateFailed(diagnostics)), settings)
    run = client.get(f"/runs/{queued['id']}").json()
    assert run["diagnostics"] == diagnostics


def test_a_run_interrupted_by_shutdown_is_queued_again_without_counting(client, database, settings):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    with pytest.raises(Shutdown):
        process_one(database.sessions, Failing(Shutdown()), settings)
    run = client.get(f"/runs/{queued['id']}").json()
    assert (run["status"], run["attempts"]) == ("queued", 0)


def test_runs_left_running_by_a_dead_worker_are_queued_again(client, database, dead_worker):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    assert claim_next(database.sessions, dead_worker).run_id == queued["id"]
    assert recover(database, "new-worker", LEASE_SECONDS) == [queued["id"]]
    run = client.get(f"/runs/{queued['id']}").json()
    assert (run["status"], run["attempts"]) == ("queued", 1)


def test_a_run_whose_worker_died_three_times_is_failed(client, database, dead_worker):
    queued = client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()
    for _ in range(MAX_ATTEMPTS):
        assert claim_next(database.sessions, dead_worker).run_id == queued["id"]
        recover(database, "new-worker", LEASE_SECONDS)
    run = client.get(f"/runs/{queued['id']}").json()
    assert (run["status"], run["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert "died" in run["error"]


def test_an_interrupted_live_run_is_superseded_by_a_newer_queued_one(client, database, dead_worker):
    first = client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    claim_next(database.sessions, dead_worker)
    second = client.post("/evidence", json=endorsement("EE"), headers=AUTH).json()
    recover(database, "new-worker", LEASE_SECONDS)
    old = client.get(f"/runs/{first['run_id']}").json()
    assert old["status"] == "failed" and second["run_id"] in old["error"]
    assert client.get(f"/runs/{second['run_id']}").json()["status"] == "queued"


def test_only_one_claimant_wins_a_run(client, database):
    client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH)
    assert claim_next(database.sessions, "a") is not None
    assert claim_next(database.sessions, "b") is None


def test_a_claim_loads_standing_evidence_up_to_the_cut_off(client, database):
    late = client.post("/evidence", json=endorsement("DD", "2024-03-05"), headers=AUTH).json()
    retracted = client.post("/evidence", json=endorsement("EE", "2024-02-25"), headers=AUTH)
    client.delete(f"/evidence/{retracted.json()['evidence_id']}", headers=AUTH)
    manual = client.post("/runs", json={"as_of": "2024-03-01", "seed": 3}, headers=AUTH).json()
    claim_next(database.sessions, "w")  # the live run, queued first
    claimed = claim_next(database.sessions, "w")
    assert (claimed.run_id, claimed.as_of, claimed.seed) == (manual["id"], dt.date(2024, 3, 1), 3)
    ids = {item.id for item in claimed.evidence}
    assert late["evidence_id"] not in ids
    assert retracted.json()["evidence_id"] not in ids
    assert len(ids) == 5  # the shipped items
    # The run records the evidence it was fitted on, in the order the fit read it.
    assert client.get(f"/runs/{manual['id']}").json()["evidence_ids"] == [
        item.id for item in claimed.evidence
    ]
    assert [item.date for item in claimed.evidence] == sorted(i.date for i in claimed.evidence)


def test_live_cut_off_never_moves_before_a_running_live_one(client, database, dataset):
    """The newest item retracted while a live run fits it: the next live run keeps the
    running one's cut-off, since GET /forecast serves the greatest live cut-off."""
    posted = client.post("/evidence", json=endorsement("DD", "2024-03-20"), headers=AUTH).json()
    claimed = claim_next(database.sessions, "w")
    rerun = client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH).json()["run_id"]
    assert claimed.as_of == dt.date(2024, 3, 20)
    assert client.get(f"/runs/{rerun}").json()["as_of"] == "2024-03-20"


def test_retracting_the_newest_item_moves_the_queued_live_cut_off_back(client, dataset):
    posted = client.post("/evidence", json=endorsement("DD", "2024-03-10"), headers=AUTH).json()
    assert client.get(f"/runs/{posted['run_id']}").json()["as_of"] == "2024-03-10"
    retracted = client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH).json()
    assert retracted["run_id"] == posted["run_id"]  # the queued live run, moved
    standing = max([dataset.question.opened, *(e.date for e in dataset.evidence)])
    assert client.get(f"/runs/{posted['run_id']}").json()["as_of"] == standing.isoformat()


def test_fit_if_empty_queues_a_first_run_only_when_nothing_is_published_or_pending(
    database, dataset, published
):
    from service.common.db import connect
    from service.startup import queue_first_run

    first = queue_first_run(database, dataset, seed=1)
    assert first is not None
    assert queue_first_run(database, dataset, seed=1) is None  # already queued
    with_forecast = connect(published.database_url)
    assert queue_first_run(with_forecast, dataset, seed=1) is None
    with_forecast.dispose()


def test_a_worker_with_an_unusable_gate_config_exits_without_restart(settings):
    from dataclasses import replace

    from service.settings import CONFIG_ERROR
    from service.worker.loop import serve

    assert serve(replace(settings, gate_config={"ess_min": 1})) == CONFIG_ERROR


def test_the_worker_lowers_the_priority_of_every_thread_it_has():
    """Readers come first: the worker's threads (BLAS and numba's among them) run niced."""
    import subprocess
    import sys

    script = (
        "import os; start = os.getpriority(os.PRIO_PROCESS, 0); "
        "from service.worker.loop import _lower_priority; _lower_priority(7); "
        "print(start, sorted({os.getpriority(os.PRIO_PROCESS, int(t)) "
        "for t in os.listdir('/proc/self/task')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    start, after = out.stdout.split(" ", 1)
    assert after.strip() == f"[{max(7, int(start))}]"


class Recorded:
    """An executor that records what it is asked to start."""

    def __init__(self):
        self.started: list[tuple] = []

    def submit(self, fn, *args):
        self.started.append((fn, *args))


def test_archives_are_started_once_the_worker_has_been_idle_and_all_at_a_stop():
    executor = Recorded()
    archives = WhenIdle(executor, idle_seconds=60)
    archives.submit(_archive, "first")
    archives.submit(_archive, "second")
    archives.when_idle()
    assert executor.started == []  # a run was published just now: the next one goes first
    archives.busy_at -= 60
    archives.when_idle()
    assert executor.started == [(_archive, "first"), (_archive, "second")]
    archives.when_idle()
    assert len(executor.started) == 2  # each started once

    archives.submit(_archive, "third")
    archives.flush()  # at a stop, whether idle or not
    assert executor.started[-1] == (_archive, "third")


class Archivable:
    """A published run's result, as ``_archive`` reads it."""

    def __init__(self, run_dir: Path):
        self.run_id, self.run_dir, self.archived = "run", run_dir, False

    def archive(self):
        self.archived = True


def test_a_run_whose_draws_retention_deleted_meanwhile_is_not_archived(tmp_path):
    result = Archivable(tmp_path)
    _archive(result)
    assert not result.archived  # superseded at its cut-off before the worker was idle
    (tmp_path / DRAWS_FILE).write_bytes(b"draws")
    _archive(result)
    assert result.archived
