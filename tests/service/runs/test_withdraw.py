"""The live forecast cannot be hijacked by a cut-off: the cut-offs POST /runs accepts, a
manual run never becoming the live forecast, and DELETE /runs/{id} withdrawing a run."""

from __future__ import annotations

import datetime as dt

from forecast.data import clock
from service.common.db import connect
from service.runs.queue import in_transaction, queue_live_run
from tests.service.conftest import AUTH, endorsement, evidence_count, fit_next

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def next_live_cut_off(settings, dataset) -> dt.date:
    database = connect(settings.database_url)
    try:
        return in_transaction(
            database.sessions,
            lambda s: queue_live_run(s, dataset, trigger="evidence", seed=1).as_of,
        )
    finally:
        database.dispose()


def test_a_cut_off_after_today_in_utc_is_refused_naming_the_latest_date(client, monkeypatch):
    """At noon UTC it is already tomorrow in UTC+14: that date is not a cut-off yet."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOON)

    tomorrow = client.post("/runs", json={"as_of": "2026-12-02"}, headers=AUTH)
    today = client.post("/runs", json={"as_of": "2026-12-01"}, headers=AUTH)

    assert tomorrow.status_code == 422, tomorrow.text
    error = tomorrow.json()["errors"][0]
    assert error["field"] == "as_of"
    assert error["valid"].endswith("to 2026-12-01 (today in UTC)")
    assert today.status_code == 202, today.text


def test_evidence_dated_after_today_in_utc_is_refused_and_leaves_the_live_cut_off(
    client, settings, dataset, monkeypatch
):
    """One "today" for facts and cut-offs: at noon UTC a statement dated tomorrow (already
    begun in UTC+14) is refused naming the latest date, is not stored, and so cannot move
    the live cut-off onto a day whose silence nobody has seen."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOON)
    before, stored = next_live_cut_off(settings, dataset), evidence_count(settings)

    posted = client.post("/evidence", json=endorsement("DD", "2026-12-02"), headers=AUTH)

    assert posted.status_code == 422, posted.text
    error = posted.json()["errors"][0]
    assert error["field"] == "date" and "2026-12-01" in error["valid"]
    assert evidence_count(settings) == stored
    assert next_live_cut_off(settings, dataset) == before


def test_a_manual_run_at_a_later_cut_off_never_becomes_the_live_forecast(
    published, published_client, forecaster, dataset
):
    live = published_client.get("/forecast").json()
    queued = published_client.post("/runs", json={"as_of": "2024-03-20"}, headers=AUTH).json()
    assert fit_next(published, forecaster) == queued["id"]

    served = published_client.get("/forecast").json()
    at_cut_off = published_client.get("/forecast?as_of=2024-03-20").json()
    change = published_client.get(f"/forecast/changes/{queued['id']}").json()

    assert served["run_id"] == live["run_id"]
    assert at_cut_off["run_id"] == queued["id"]
    # Nothing was published at its cut-off: it replaced nothing (not the live forecast).
    assert change["previous_run_id"] is None
    # The next live run follows the evidence, not the manual run's cut-off.
    assert next_live_cut_off(published, dataset) == dt.date.fromisoformat(live["as_of"])


def test_a_running_manual_run_does_not_move_the_live_cut_off(client, dataset, settings):
    from service.runs.queue import claim_next

    client.post("/runs", json={"as_of": "2024-03-20"}, headers=AUTH)
    database = connect(settings.database_url)
    try:
        assert claim_next(database.sessions, "w").as_of == dt.date(2024, 3, 20)
    finally:
        database.dispose()

    assert next_live_cut_off(settings, dataset) < dt.date(2024, 3, 20)


def test_withdrawing_needs_the_token_and_names_the_runs_that_can_be_withdrawn(
    published_client,
):
    live = published_client.get("/forecast").json()["run_id"]
    queued = published_client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH).json()

    anonymous = published_client.delete(f"/runs/{live}")
    unknown = published_client.delete("/runs/run_nope", headers=AUTH)
    unpublished = published_client.delete(f"/runs/{queued['id']}", headers=AUTH)

    assert anonymous.status_code == 401
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "run_id"
    assert live in unknown.json()["errors"][0]["valid"]
    assert unpublished.status_code == 409, unpublished.text
    assert live in unpublished.json()["errors"][0]["valid"]
    assert published_client.get("/forecast").json()["run_id"] == live


def test_the_only_live_forecast_cannot_be_withdrawn(published_client):
    live = published_client.get("/forecast").json()["run_id"]

    refused = published_client.delete(f"/runs/{live}", headers=AUTH)

    assert refused.status_code == 409, refused.text
    assert published_client.get("/forecast").json()["run_id"] == live


def test_withdrawing_the_live_run_restores_the_previous_forecast_and_is_listed_as_a_change(
    published, published_client, forecaster
):
    first = published_client.get("/forecast").json()
    published_client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)
    mistaken = fit_next(published, forecaster)
    assert published_client.get("/forecast").json()["run_id"] == mistaken

    withdrawn = published_client.delete(f"/runs/{mistaken}", headers=AUTH)

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["published"] is False and withdrawn.json()["withdrawn_at"]
    assert published_client.get(f"/runs/{mistaken}").json()["status"] == "succeeded"
    assert published_client.get("/forecast").json()["run_id"] == first["run_id"]
    assert published_client.get("/forecast?as_of=2024-03-01").status_code == 404
    history = published_client.get("/forecast/history").json()
    assert [row["run_id"] for row in history] == [first["run_id"]]
    newest, published_entry = published_client.get("/forecast/changes").json()[:2]
    assert (newest["event"], newest["run_id"]) == ("withdrawn", mistaken)
    assert (newest["previous_run_id"], newest["restored_run_id"]) == (mistaken, first["run_id"])
    assert [d["after"] for d in newest["deadlines"]] == [
        d["p_confirmed"] for d in first["deadlines"]
    ]
    assert (published_entry["event"], published_entry["run_id"]) == ("published", mistaken)
    assert published_entry["withdrawn_at"] == withdrawn.json()["withdrawn_at"]
    # Withdrawing again changes nothing.
    again = published_client.delete(f"/runs/{mistaken}", headers=AUTH)
    assert again.status_code == 200 and again.json() == withdrawn.json()
    assert len(published_client.get("/forecast/changes").json()) == 3


def test_withdrawing_the_only_forecast_at_a_manual_cut_off_restores_none_and_keeps_the_live_one(
    published, published_client, forecaster
):
    live = published_client.get("/forecast").json()
    queued = published_client.post("/runs", json={"as_of": "2024-03-20"}, headers=AUTH).json()
    assert fit_next(published, forecaster) == queued["id"]
    manual = published_client.get("/forecast?as_of=2024-03-20").json()

    withdrawn = published_client.delete(f"/runs/{queued['id']}", headers=AUTH)

    assert withdrawn.status_code == 200, withdrawn.text
    assert published_client.get("/forecast?as_of=2024-03-20").status_code == 404
    assert published_client.get("/forecast").json()["run_id"] == live["run_id"]
    entry = published_client.get("/forecast/changes").json()[0]
    assert (entry["event"], entry["previous_run_id"]) == ("withdrawn", queued["id"])
    assert entry["restored_run_id"] is None
    assert (entry["added"], entry["retracted"], entry["evidence"]) == ([], [], [])
    assert [(d["before"], d["after"]) for d in entry["deadlines"]] == [
        (d["p_confirmed"], None) for d in manual["deadlines"]
    ]
    assert entry["p_ever_confirmed"]["after"] is None
