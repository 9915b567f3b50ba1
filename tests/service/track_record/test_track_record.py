"""GET /track-record serves the stored record with its status (ok, stale, missing: never
an error), and GET /track-record/page is the page that reads it."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import TestClient

from forecast.track_record_file import REBUILD_COMMAND, write_record
from service.app import create_app
from service.http.headers import CONTENT_SECURITY_POLICY
from tests.track_record import copy_question, hand_made_record


@pytest.fixture
def record_file(tmp_path):
    return tmp_path / "record" / "track-record.json"


@pytest.fixture
def question(tmp_path):
    """A copy of a resolved question, served beside the default one."""
    return copy_question(tmp_path)


def serving_too(settings, question, record_file):
    """``settings`` serving ``question`` too, with the record at ``record_file``."""
    return dataclasses.replace(
        settings, track_record=record_file, questions=f"{settings.data_dir},{question}"
    )


@pytest.fixture
def client(settings, record_file, question):
    with TestClient(create_app(serving_too(settings, question, record_file))) as client:
        yield client


def test_a_current_record_is_served_whole_with_status_ok(client, question, record_file):
    record = hand_made_record(question)
    write_record(record, record_file)
    response = client.get("/track-record")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["reason"]) == ("ok", None)
    assert body["how_to_rebuild"] == f"{REBUILD_COMMAND} --out {record_file}"
    assert body["questions"] == record["questions"]
    assert body["pooled"] == record["pooled"]
    assert body["made_at"] == record["made_at"] and body["quick"] is False


def test_a_record_of_other_data_is_served_as_stale_with_the_reason(client, question, record_file):
    write_record(hand_made_record(question), record_file)
    (question / "later.csv").write_text((question / "later.csv").read_text() + "\n")
    body = client.get("/track-record").json()
    assert body["status"] == "stale"
    assert body["reason"].startswith("the data of nato-2014 changed")
    assert body["questions"][0]["slug"] == "nato-2014"


def test_no_record_is_a_200_saying_missing_and_how_to_make_it(client, record_file):
    response = client.get("/track-record")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "missing"
    assert body["reason"] == f"no track record in {record_file}"
    assert body["how_to_rebuild"] == f"{REBUILD_COMMAND} --out {record_file}"
    assert (body["questions"], body["pooled"]) == ([], None)


def test_a_corrupt_record_is_a_200_saying_missing_with_the_reason(client, record_file):
    record_file.parent.mkdir(parents=True)
    record_file.write_bytes(b'{"made_at": "2026-12-07", "questions": [tr')
    response = client.get("/track-record")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "missing"
    assert body["reason"].startswith(f"{record_file} cannot be read as a track record")


def test_the_track_record_page_loads_its_script_from_this_server(client):
    page = client.get("/track-record/page")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert '<script src="/static/track-record.js"></script>' in page.text
    assert "<script>" not in page.text  # no inline code
    script = client.get("/static/track-record.js")
    assert script.status_code == 200 and 'fetch("/track-record"' in script.text
    assert 'href="/track-record/page"' in client.get("/").text


def test_the_endpoint_is_in_the_openapi_schema(client):
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert paths["/track-record"]["get"]["operationId"] == "getTrackRecord"


@pytest.mark.slow
def test_the_page_shows_the_records_numbers_and_a_stale_ones_reason(settings, tmp_path, question):
    """Rendered by headless Chromium (which enforces the content security policy)."""
    from tests.service.conftest import missing, serving
    from tests.service.page.test_page import CHROMIUM, cell, render

    if CHROMIUM is None:
        missing("chromium")
    path = write_record(hand_made_record(question), tmp_path / "track-record.json")
    with serving(serving_too(settings, question, path)) as url:
        dom = render(url + "/track-record/page")
        assert cell(dom, 'data-test="status"').startswith("Made 2026-12-07T10:00:00+00:00")
        assert "Before the April ministerial" in dom and "0.090" in dom and "0.360" in dom
        assert "0.7-0.8" in dom and "100%" in dom  # calibration, coverage
        (question / "outcomes.csv").write_text("event,ally,date,source\n")
        dom = render(url + "/track-record/page")
    status = cell(dom, 'data-test="status"')
    assert status.startswith("Stale: the data of nato-2014 changed")
    assert f"{REBUILD_COMMAND} --out {path}" in status


def test_a_record_made_for_other_questions_than_those_served_is_stale(
    settings, question, record_file
):
    write_record(hand_made_record(question), record_file)
    alone = dataclasses.replace(settings, track_record=record_file)  # nato-2014 not served
    with TestClient(create_app(alone)) as client:
        body = client.get("/track-record").json()
    assert body["status"] == "stale"
    assert body["reason"] == "made for the questions nato-2014, now none"
