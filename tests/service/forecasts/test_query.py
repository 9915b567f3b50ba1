"""GET /forecast's what-if parameters as a client writes them: repeats and conflicts."""

from __future__ import annotations

from collections import Counter


def test_a_by_date_given_again_is_one_deadline_and_changes_nothing_else(published_client):
    as_of = published_client.get("/forecast").json()["as_of"]
    year = int(as_of[:4]) + 1
    later, sooner = f"{year}-05-01", f"{year}-03-01"
    once = published_client.get(f"/forecast?by={later},{sooner}")
    repeated = published_client.get(f"/forecast?by={later},{sooner},{later},{later},{sooner}")
    assert once.status_code == repeated.status_code == 200, repeated.text
    dates = Counter(d["date"] for d in repeated.json()["deadlines"])
    assert dates[later] == dates[sooner] == 1
    assert repeated.json()["deadlines"] == once.json()["deadlines"]


def test_an_assumption_repeated_with_the_same_outcome_is_taken_once(published_client):
    once = published_client.get("/forecast?assume=EE:endorsed")
    repeated = published_client.get("/forecast?assume=EE:endorsed,ee:endorsed")
    assert once.status_code == repeated.status_code == 200, repeated.text
    assert repeated.json()["deadlines"] == once.json()["deadlines"]


def test_conflicting_assumptions_for_one_ally_get_400_naming_assume_and_the_ally(
    published_client,
):
    response = published_client.get("/forecast?assume=EE:endorsed,DD:opposed,EE:opposed")
    assert response.status_code == 400, response.text
    (problem,) = response.json()["errors"]
    assert problem["field"] == "assume"
    assert "EE" in problem["message"] and "endorsed" in problem["message"]
    assert "opposed" in problem["message"]


def test_by_and_assume_given_as_repeated_parameters_read_as_one_list(published_client):
    as_of = published_client.get("/forecast").json()["as_of"]
    year = int(as_of[:4]) + 1
    later, sooner = f"{year}-05-01", f"{year}-03-01"
    once = published_client.get(f"/forecast?by={later},{sooner}")
    repeated = published_client.get(f"/forecast?by={later}&by={sooner}&by={later}")
    assert repeated.status_code == 200, repeated.text
    assert repeated.json()["deadlines"] == once.json()["deadlines"]
    conflict = published_client.get("/forecast?assume=EE:endorsed&assume=EE:opposed")
    assert conflict.status_code == 400, conflict.text
    assert conflict.json()["errors"][0]["field"] == "assume"
