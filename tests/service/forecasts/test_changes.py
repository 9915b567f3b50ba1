"""What changed with each publication, the history as CSV, and the forecast's freshness."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from forecast.data import clock
from forecast.model.gate import GateConfig
from forecast.pipeline.store import load_run
from service.app import create_app
from service.common.db import connect
from service.common.tables import ForecastRow, RunRow
from tests.service.conftest import AUTH, endorsement, fit_next


def test_each_publication_records_the_evidence_it_added_and_how_each_probability_moved(
    published_client, published, forecaster
):
    before = published_client.get("/forecast").json()
    posted = published_client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    assert fit_next(published, forecaster) == posted["run_id"]
    after = published_client.get("/forecast").json()
    # The run keeps the posted item beside it: a reader rebuilds it with its own evidence.
    stored = load_run(posted["run_id"], published.artifacts_dir)
    assert posted["evidence_id"] in {e.id for e in stored.evidence}
    assert not stored.missing_evidence and len(stored.evidence) == after["evidence_count"]

    latest, first = published_client.get("/forecast/changes").json()

    assert (latest["run_id"], latest["previous_run_id"]) == (after["run_id"], before["run_id"])
    assert (latest["added"], latest["retracted"]) == ([posted["evidence_id"]], [])
    (item,) = latest["evidence"]
    assert (item["id"], item["change"], item["ally"]) == (posted["evidence_id"], "added", "DD")
    assert item["source"] == endorsement("DD")["source"]
    old = {d["key"]: d["p_confirmed"] for d in before["deadlines"]}
    for d, new in zip(latest["deadlines"], after["deadlines"], strict=True):
        assert (d["key"], d["before"], d["after"]) == (
            new["key"],
            old[new["key"]],
            new["p_confirmed"],
        )
        assert d["delta"] == pytest.approx(new["p_confirmed"] - old[new["key"]], abs=1e-15)
    assert latest["p_ever_confirmed"]["after"] == after["p_ever_confirmed"]
    moved = [abs(a["delta"]) for a in latest["allies"]]
    assert latest["allies"][0]["code"] == "DD" and moved == sorted(moved, reverse=True)
    # The first forecast replaced nothing: everything it was fitted on is new to it.
    assert first["run_id"] == before["run_id"] and first["previous_run_id"] is None
    assert len(first["added"]) == before["evidence_count"]
    assert first["deadlines"][0]["delta"] is None


def test_a_retraction_is_listed_as_retracted_and_history_rows_link_to_their_change(
    published_client, published, forecaster
):
    posted = published_client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    fit_next(published, forecaster)
    published_client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH)
    retraction_run = fit_next(published, forecaster)

    history = published_client.get("/forecast/history").json()
    change = published_client.get(history[-1]["changes"]).json()

    assert history[-1]["run_id"] == change["run_id"] == retraction_run
    # Two runs at one cut-off published within a second: the later is the newer.
    assert history[-2]["as_of"] == history[-1]["as_of"]
    assert history[-2]["published_at"] < history[-1]["published_at"]
    assert (change["added"], change["retracted"]) == ([], [posted["evidence_id"]])
    assert change["evidence"][0]["change"] == "retracted"
    assert published_client.get("/forecast/changes/run_nope").status_code == 404


def test_a_forecast_published_before_changes_were_recorded_gets_the_same_change(
    published_client, published, forecaster
):
    published_client.post("/evidence", json=endorsement("DD"), headers=AUTH)
    run_id = fit_next(published, forecaster)
    recorded = published_client.get(f"/forecast/changes/{run_id}").json()
    database = connect(published.database_url)
    with database.sessions.begin() as session:
        session.get_one(ForecastRow, run_id).change = None
    database.dispose()
    assert published_client.get(f"/forecast/changes/{run_id}").json() == recorded


def test_history_csv_has_a_row_per_run_and_deadline_equal_to_the_history(
    published_client, published, forecaster
):
    published_client.post("/evidence", json=endorsement("DD"), headers=AUTH)
    fit_next(published, forecaster)
    history = published_client.get("/forecast/history").json()

    response = published_client.get("/forecast/history.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(history) * 2
    for row in rows:
        (run,) = [h for h in history if h["run_id"] == row["run_id"]]
        assert row["as_of"] == run["as_of"]
        assert float(row["p_confirmed"]) == run["p_confirmed"][row["deadline"]]
        low, high = run["interval"][row["deadline"]]
        assert (float(row["interval_low"]), float(row["interval_high"])) == (low, high)
    assert {r["deadline_date"] for r in rows} == {"2024-04-02", "2024-05-31"}
    page = published_client.get("/forecast/history.csv", params={"limit": 1})
    assert len(page.text.splitlines()) == 3 and 'rel="next"' in page.headers["link"]


def replay(document: dict) -> dict:
    """The freshness fields of the synthetic question (a replay, on the evidence clock)
    for the live forecast of ``document``: its cut-off's age in days, today in UTC."""
    age = (clock.today() - dt.date.fromisoformat(document["as_of"])).days
    return {"clock": "evidence", "cut_off_age_days": age}


def test_freshness_names_evidence_waiting_for_its_run_and_a_run_that_failed_the_gate(
    published_client, published, forecaster
):
    fresh = published_client.get("/forecast")
    assert fresh.json()["freshness"] == {
        "up_to_date": True,
        "pending_evidence": [],
        "pending_run": None,
        "failed_run": None,
    } | replay(fresh.json())
    posted = published_client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()

    waiting = published_client.get("/forecast", headers={"If-None-Match": fresh.headers["etag"]})

    assert waiting.status_code == 200 and waiting.json()["run_id"] == fresh.json()["run_id"]
    assert waiting.json()["freshness"] == {
        "up_to_date": False,
        "pending_evidence": [posted["evidence_id"]],
        "pending_run": {"run_id": posted["run_id"], "status": "queued"},
        "failed_run": None,
    } | replay(fresh.json())
    forecaster.gate = GateConfig(ess_bulk_min=1e9)  # the fixture restores the gate
    assert fit_next(published, forecaster) == posted["run_id"]

    failed = published_client.get("/forecast").json()
    what_if = published_client.get("/forecast", params={"assume": "DD:endorsed"}).json()

    assert failed["run_id"] == fresh.json()["run_id"]
    state = failed["freshness"]
    assert (state["up_to_date"], state["pending_evidence"]) == (False, [posted["evidence_id"]])
    assert state["failed_run"]["run_id"] == posted["run_id"]
    run = published_client.get(f"/runs/{posted['run_id']}").json()
    assert state["failed_run"]["reason"] == run["error"] and "ess" in run["error"].lower()
    assert what_if["freshness"] == state


def test_freshness_counts_a_retracted_item_the_forecast_was_fitted_on_and_a_run_fitting_it(
    published_client, published
):
    live = published_client.get("/forecast").json()
    item = published_client.get("/evidence").json()[0]  # shipped: the live run was fitted on it
    retracted = published_client.delete(f"/evidence/{item['id']}", headers=AUTH).json()
    database = connect(published.database_url)
    try:
        with database.sessions.begin() as session:  # the worker has claimed the rerun
            session.execute(
                update(RunRow).where(RunRow.id == retracted["run_id"]).values(status="running")
            )
    finally:
        database.dispose()

    served = published_client.get("/forecast").json()

    assert served["run_id"] == live["run_id"]
    assert served["freshness"] == {
        "up_to_date": False,
        "pending_evidence": [item["id"]],
        "pending_run": {"run_id": retracted["run_id"], "status": "running"},
        "failed_run": None,
    } | replay(live)


def test_a_manual_run_at_an_earlier_cut_off_is_not_the_live_forecasts_pending_run(
    published_client,
):
    live = published_client.get("/forecast").json()
    posted = published_client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    # Asked for after the evidence: the newest run of all, but it refits the old cut-off.
    manual = published_client.post("/runs", json={"as_of": live["as_of"]}, headers=AUTH)
    assert manual.status_code in (201, 202), manual.text
    assert manual.json()["id"] != posted["run_id"]

    served = published_client.get("/forecast").json()

    assert served["run_id"] == live["run_id"]
    assert served["freshness"] == {
        "up_to_date": False,
        "pending_evidence": [posted["evidence_id"]],
        "pending_run": {"run_id": posted["run_id"], "status": "queued"},
        "failed_run": None,
    } | replay(live)


def test_a_forecast_at_an_earlier_cut_off_is_compared_with_that_cut_offs_last_one(
    published_client, published, forecaster
):
    """A manual run at an earlier cut-off replaces what ``?as_of=`` served there, not the
    live forecast at a later cut-off."""
    first = published_client.get("/forecast").json()
    published_client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)
    later = fit_next(published, forecaster)
    queued = published_client.post("/runs", json={"as_of": first["as_of"]}, headers=AUTH)
    assert queued.status_code in (201, 202), queued.text
    again = fit_next(published, forecaster)
    assert again == queued.json()["id"] and again not in (later, first["run_id"])

    change = published_client.get(f"/forecast/changes/{again}").json()

    assert change["previous_run_id"] == first["run_id"]
    replaced = published_client.get(f"/forecast/changes/{later}").json()["previous_run_id"]
    assert replaced == first["run_id"]


@pytest.mark.slow
def test_two_api_processes_on_postgres_see_a_publication_and_its_freshness(
    pg_settings, dataset, forecaster
):
    from service.runs.queue import in_transaction, queue_live_run

    database = connect(pg_settings.database_url)
    in_transaction(
        database.sessions, lambda s: queue_live_run(s, dataset, trigger="startup", seed=1)
    )
    database.dispose()
    fit_next(pg_settings, forecaster)
    with (
        TestClient(create_app(pg_settings)) as first,
        TestClient(create_app(pg_settings)) as second,
    ):
        tags = {c.get("/forecast").headers["etag"] for c in (first, second)}
        assert len(tags) == 1
        posted = first.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
        pending = second.get("/forecast", headers={"If-None-Match": tags.pop()})
        assert pending.status_code == 200
        assert pending.json()["freshness"]["pending_evidence"] == [posted["evidence_id"]]
        fit_next(pg_settings, forecaster)
        served = [c.get("/forecast") for c in (first, second)]
        assert served[0].content == served[1].content
        assert served[0].json()["run_id"] == posted["run_id"]
        assert served[0].json()["freshness"]["up_to_date"] is True


def test_a_manual_run_at_a_cut_off_with_no_forecast_replaced_none_and_retracted_nothing(
    published_client, published, forecaster
):
    """It is compared with the forecast published at its own cut-off, never with the live
    one: here none was, so it replaced nothing, like the first forecast."""
    first = published_client.get("/forecast").json()
    cut_off = dt.date.fromisoformat(first["as_of"])
    later = (cut_off + dt.timedelta(days=8)).isoformat()
    posted = published_client.post("/evidence", json=endorsement("DD", later), headers=AUTH)
    live = fit_next(published, forecaster)
    between = (cut_off + dt.timedelta(days=4)).isoformat()
    queued = published_client.post("/runs", json={"as_of": between}, headers=AUTH).json()
    assert fit_next(published, forecaster) == queued["id"]
    run = published_client.get(f"/runs/{queued['id']}").json()

    change = published_client.get(f"/forecast/changes/{queued['id']}").json()

    assert published_client.get("/forecast").json()["run_id"] == live
    assert posted.json()["evidence_id"] not in run["evidence_ids"]
    assert change["previous_run_id"] is None
    assert (change["added"], change["retracted"]) == (run["evidence_ids"], [])
    assert [d["before"] for d in change["deadlines"]] == [None, None]
    listed = {c["run_id"]: c for c in published_client.get("/forecast/changes").json()}
    assert listed[queued["id"]]["previous_run_id"] is None
