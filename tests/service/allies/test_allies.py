"""GET /allies and GET /allies/{code}."""

from __future__ import annotations

from tests.service.conftest import AUTH, endorsement


def test_allies_lists_every_ally_with_its_covariates(client, dataset):
    allies = client.get("/allies").json()
    assert [a["code"] for a in allies] == list(dataset.codes)
    gg = next(a for a in allies if a["code"] == "GG")
    assert (gg["member_since"], gg["blocs"], gg["forecast"]) == (None, ["eu"], None)


def test_allies_carry_their_entry_in_the_live_forecast(published_client):
    forecast = published_client.get("/forecast").json()
    expected = {a["code"]: a for a in forecast["allies"]}
    for ally in published_client.get("/allies").json():
        assert ally["forecast"] == expected[ally["code"]]


def test_ally_page_has_own_and_bloc_grievances_and_its_evidence(client):
    client.post("/evidence", json=endorsement("EE"), headers=AUTH)
    ally = client.get("/allies/EE").json()
    assert {g["id"] for g in ally["grievances"]} == {"ee_veto", "east_representation"}
    assert {e["kind"] for e in ally["evidence"]} == {"candidacy", "endorsement"}
    assert all(e["ally"] == "EE" for e in ally["evidence"])


def test_ally_codes_are_case_insensitive(client):
    assert client.get("/allies/dd").json()["code"] == "DD"


def test_unknown_ally_is_a_404_listing_the_valid_codes(client, dataset):
    response = client.get("/allies/XX")
    assert response.status_code == 404
    (error,) = response.json()["errors"]
    assert error["field"] == "code"
    assert error["valid"] == ", ".join(sorted(dataset.codes))
