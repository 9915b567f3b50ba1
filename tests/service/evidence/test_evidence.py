"""POST /evidence, GET /evidence, DELETE /evidence/{id}: stored once, runs queued and coalesced."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import httpx

from forecast.data.inputs import setup_frame
from forecast.data.records import EVIDENCE_FIELDS, EVIDENCE_KINDS, EvidenceItem
from service.evidence.service import seed_evidence
from service.runs.queue import claim_next
from service.worker.loop import process_one
from tests.service.conftest import AUTH, endorsement, evidence_count


def test_posted_evidence_is_stored_under_its_content_id_and_queues_a_live_run(client):
    body = endorsement(ally="DD", date="2024-03-01")
    response = client.post("/evidence", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    posted = response.json()
    expected_id = EvidenceItem(**{**body, "date": dt.date(2024, 3, 1)}).id
    assert posted["evidence_id"] == expected_id
    assert posted["stored"] == "created"
    listed = {e["id"]: e for e in client.get("/evidence").json()}
    assert listed[expected_id]["origin"] == "posted"
    assert listed[expected_id]["retracted"] is False
    run = client.get(f"/runs/{posted['run_id']}").json()
    assert (run["status"], run["as_of"], run["live"]) == ("queued", "2024-03-01", True)


def test_the_same_item_posted_twice_is_stored_once(client, settings):
    first = client.post("/evidence", json=endorsement(), headers=AUTH)
    count = evidence_count(settings)
    second = client.post("/evidence", json=endorsement(), headers=AUTH)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "stored": "duplicate"}
    assert evidence_count(settings) == count


def test_a_burst_of_evidence_coalesces_onto_one_queued_run_at_the_newest_date(client):
    posted = [
        client.post("/evidence", json=endorsement(ally, date), headers=AUTH).json()
        for ally, date in (("DD", "2024-03-01"), ("EE", "2024-03-09"), ("GG", "2024-02-25"))
    ]
    assert len({p["run_id"] for p in posted}) == 1
    runs = client.get("/runs").json()
    assert [(r["status"], r["as_of"]) for r in runs] == [("queued", "2024-03-09")]


def test_evidence_arriving_during_a_run_queues_a_new_one(client, database):
    first = client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    assert claim_next(database.sessions, "test").run_id == first["run_id"]
    second = client.post("/evidence", json=endorsement("EE"), headers=AUTH).json()
    assert second["run_id"] != first["run_id"]
    assert client.get(f"/runs/{second['run_id']}").json()["status"] == "queued"


def test_retracted_evidence_is_kept_flagged_and_a_rerun_is_queued(client, database):
    posted = client.post("/evidence", json=endorsement("DD"), headers=AUTH).json()
    claim_next(database.sessions, "test")  # the first run is under way
    response = client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH)
    assert response.status_code == 200, response.text
    retracted = response.json()
    assert retracted["run_id"] != posted["run_id"]
    item = next(e for e in client.get("/evidence").json() if e["id"] == posted["evidence_id"])
    assert item["retracted"] is True and item["retracted_at"]
    standing = client.get("/evidence", params={"include_retracted": False}).json()
    assert posted["evidence_id"] not in {e["id"] for e in standing}
    rerun = client.get(f"/runs/{retracted['run_id']}").json()
    # The cut-off never moves back before one being fitted (2024-03-01).
    assert (rerun["status"], rerun["as_of"]) == ("queued", "2024-03-01")


def test_retracting_twice_changes_nothing_more(client):
    posted = client.post("/evidence", json=endorsement(), headers=AUTH).json()
    first = client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH).json()
    second = client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH).json()
    assert first == second


def test_reposting_a_retracted_item_restores_it(client):
    posted = client.post("/evidence", json=endorsement(), headers=AUTH).json()
    client.delete(f"/evidence/{posted['evidence_id']}", headers=AUTH)
    again = client.post("/evidence", json=endorsement(), headers=AUTH)
    assert again.status_code == 200
    assert again.json()["stored"] == "restored"
    assert again.json()["evidence_id"] == posted["evidence_id"]
    item = next(e for e in client.get("/evidence").json() if e["id"] == posted["evidence_id"])
    assert item["retracted"] is False


def test_a_posted_grievance_resolved_by_its_evidence_id_no_longer_counts_in_the_next_fit(
    client, database, dataset
):
    grievance = endorsement("DD", kind="grievance", severity=3, summary="DD is upset")
    posted = client.post("/evidence", json=grievance, headers=AUTH).json()
    resolved = endorsement(
        "DD", date="2024-03-05", kind="grievance_resolved", grievance=posted["evidence_id"]
    )
    response = client.post("/evidence", json=resolved, headers=AUTH)
    assert response.status_code == 201, response.text
    resolution = response.json()
    listed = {e["id"]: e for e in client.get("/evidence", params={"ally": "DD"}).json()}
    stored = listed[resolution["evidence_id"]]
    assert (stored["kind"], stored["grievance"]) == ("grievance_resolved", posted["evidence_id"])
    # The run it queued fits on both items: DD's grievance counts from 1 March until its
    # resolution on 5 March, the run's cut-off, where DD stands as if it had never been.
    claimed = claim_next(database.sessions, "test")
    assert (claimed.run_id, claimed.as_of) == (resolution["run_id"], dt.date(2024, 3, 5))
    both = {posted["evidence_id"], resolution["evidence_id"]}
    assert both <= {item.id for item in claimed.evidence}
    never = [item for item in claimed.evidence if item.id not in both]

    def dd_grievance(evidence, as_of):
        return setup_frame(dataset, evidence, as_of).frame.loc["DD", "grievance"]

    assert dd_grievance(claimed.evidence, dt.date(2024, 3, 4)) == 3.0
    assert dd_grievance(claimed.evidence, claimed.as_of) == dd_grievance(never, claimed.as_of)
    assert dd_grievance(never, claimed.as_of) < 3.0


def test_evidence_lists_newest_first_and_filters_by_ally(client):
    client.post("/evidence", json=endorsement("DD", "2024-03-01"), headers=AUTH)
    items = client.get("/evidence").json()
    assert [e["date"] for e in items] == sorted((e["date"] for e in items), reverse=True)
    assert {e["ally"] for e in client.get("/evidence", params={"ally": "DD"}).json()} == {"DD"}


def test_shipped_evidence_is_seeded_once(settings, database, dataset):
    count = evidence_count(settings)
    assert count == len({e.id for e in dataset.evidence})
    assert seed_evidence(database, dataset) == 0
    assert evidence_count(settings) == count


def test_openapi_lists_the_evidence_kinds_and_fields(client):
    schema = client.get("/schema/openapi.json").json()
    evidence_in = schema["components"]["schemas"]["EvidenceIn"]
    assert tuple(evidence_in["properties"]) == EVIDENCE_FIELDS
    assert tuple(evidence_in["properties"]["kind"]["enum"]) == EVIDENCE_KINDS
    assert all(p.get("description") for p in evidence_in["properties"].values())
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert all(op.get("operationId") and op.get("summary") for op in operations)


def test_24_concurrent_posts_are_all_stored_and_all_in_the_next_forecast(
    live_server, settings, database, forecaster
):
    before = evidence_count(settings)
    bodies = [endorsement("DD", summary=f"report number {i}") for i in range(24)]

    def post(body):
        with httpx.Client(base_url=live_server, timeout=30) as http:
            return http.post("/evidence", json=body, headers=AUTH)

    with ThreadPoolExecutor(max_workers=24) as pool:
        responses = list(pool.map(post, bodies))
    assert [r.status_code for r in responses] == [201] * 24
    assert len({r.json()["evidence_id"] for r in responses}) == 24
    assert len({r.json()["run_id"] for r in responses}) == 1  # coalesced
    assert evidence_count(settings) == before + 24
    run_id = responses[0].json()["run_id"]
    assert process_one(database.sessions, forecaster, settings) == run_id
    with httpx.Client(base_url=live_server, timeout=30) as http:
        assert http.get("/forecast").json()["run_id"] == run_id
        used = set(http.get(f"/runs/{run_id}").json()["evidence_ids"])
    assert {r.json()["evidence_id"] for r in responses} <= used


def test_a_5_mb_body_gets_413_and_stores_nothing(live_server, settings):
    before = evidence_count(settings)
    body = endorsement(summary="x" * (5 * 1024 * 1024))
    with httpx.Client(base_url=live_server, timeout=30) as http:
        response = http.post("/evidence", json=body, headers=AUTH)
    assert response.status_code == 413
    assert evidence_count(settings) == before


def test_evidence_pages_follow_the_link_header_without_repeats(client):
    for i in range(3):
        client.post("/evidence", json=endorsement("DD", summary=f"report {i}"), headers=AUTH)
    whole = client.get("/evidence")
    assert "link" not in whole.headers  # under the default limit: one page, as before
    ids, url = [], "/evidence?limit=3"
    while url:
        page = client.get(url)
        assert len(page.json()) <= 3
        ids += [e["id"] for e in page.json()]
        link = page.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert ids == [e["id"] for e in whole.json()] and len(ids) == 8


def test_a_post_with_several_bad_fields_names_every_one_of_them(client, dataset):
    bad = endorsement(ally="ZZ", kind="endorsment", date="2024-02-30", source="")
    response = client.post("/evidence", json=bad, headers=AUTH)
    assert response.status_code == 422
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"ally", "kind", "date", "source"}
    assert errors["ally"]["valid"] == ", ".join(sorted(dataset.codes))
    assert "endorsement" in errors["kind"]["valid"]
    assert not [e for e in client.get("/evidence").json() if e["ally"] == "ZZ"]


def test_a_meeting_announced_later_is_stored_with_its_first_day_and_queues_a_run(client):
    body = {
        "ally": "DD",
        "kind": "meeting",
        "date": "2024-03-01",
        "meeting_date": "2024-03-20",
        "source": "https://example.org/ministerial",
        "summary": "Ministers to meet on 20 March",
    }
    response = client.post("/evidence", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    listed = {e["id"]: e for e in client.get("/evidence").json()}
    stored = listed[response.json()["evidence_id"]]
    assert (stored["kind"], stored["meeting_date"]) == ("meeting", "2024-03-20")
    assert response.json()["run_id"]


def test_a_meeting_without_a_later_first_day_is_refused_naming_the_field(client, settings):
    count = evidence_count(settings)
    body = {
        "ally": "DD",
        "kind": "meeting",
        "date": "2024-03-01",
        "source": "https://example.org/ministerial",
        "summary": "Ministers to meet",
    }
    for extra in ({}, {"meeting_date": "2024-03-01"}):
        response = client.post("/evidence", json=body | extra, headers=AUTH)
        assert response.status_code in (400, 422), response.text
        assert [e["field"] for e in response.json()["errors"]] == ["meeting_date"]
    refused = client.post(
        "/evidence", json=endorsement() | {"meeting_date": "2024-03-20"}, headers=AUTH
    )
    assert [e["field"] for e in refused.json()["errors"]] == ["meeting_date"]
    assert evidence_count(settings) == count
