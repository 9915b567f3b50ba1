"""GET /forecast (cache, ETag, by, as_of, assume) and GET /forecast/history."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec

from service.db import connect
from service.schemas import ForecastOut
from service.worker import process_one
from tests.service.conftest import AUTH, endorsement

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_forecast_is_a_503_problem_until_one_is_published(client):
    client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH)
    response = client.get("/forecast")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "queued or running" in response.json()["detail"]


def test_forecast_serves_the_published_document(published_client):
    response = published_client.get("/forecast")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    forecast = msgspec.json.decode(response.content, type=ForecastOut)
    assert forecast.as_of.isoformat() == "2024-02-22"
    assert [d.key for d in forecast.deadlines] == ["april_ministerial", "june"]
    assert {a.code for a in forecast.allies} == {"AA", "BB", "CC", "DD", "EE", "FF", "GG"}
    assert forecast.diagnostics.passed
    april, june = forecast.deadlines
    assert 0 <= april.p_confirmed <= june.p_confirmed <= 1


def test_forecast_has_an_etag_and_if_none_match_gets_304(published_client):
    first = published_client.get("/forecast")
    etag = first.headers["etag"]
    again = published_client.get("/forecast", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert published_client.get("/forecast", headers={"If-None-Match": '"other"'}).content == (
        first.content
    )


def test_the_cached_answer_matches_the_first_one(published_client):
    first = published_client.get("/forecast")  # computed by the handler
    cached = published_client.get("/forecast")  # sent by the middleware from the cache
    assert cached.content == first.content
    for header in ("etag", "content-type", "cache-control", "content-length"):
        assert cached.headers[header] == first.headers[header]
    assert published_client.get("/forecast", headers={"If-None-Match": "*"}).status_code == 304


def test_a_database_that_does_not_answer_is_a_503_problem(published_client, monkeypatch):
    import sqlite3

    from service.forecasts import _LiveProbe

    published_client.get("/forecast")

    def gone(_self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(_LiveProbe, "_query", gone)
    response = published_client.get("/forecast")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_new_publication_replaces_the_cached_forecast(published_client, published, forecaster):
    old = published_client.get("/forecast")
    published_client.post("/evidence", json=endorsement("DD"), headers=AUTH)
    database = connect(published.database_url)
    run_id = process_one(database.sessions, forecaster, published)
    database.dispose()
    new = published_client.get("/forecast", headers={"If-None-Match": old.headers["etag"]})
    assert new.status_code == 200
    assert new.json()["run_id"] == run_id
    assert new.headers["etag"] != old.headers["etag"]
    history = published_client.get("/forecast/history").json()
    assert [row["run_id"] for row in history] == [old.json()["run_id"], run_id]
    # The earlier cut-off is still served on request.
    assert published_client.get("/forecast?as_of=2024-02-22").content == old.content


def test_by_adds_deadlines_in_order_of_probability(published_client):
    response = published_client.get("/forecast", params={"by": "2024-03-15,2024-09-30"})
    assert response.status_code == 200, response.text
    deadlines = {d["key"]: d for d in response.json()["deadlines"]}
    assert set(deadlines) == {"april_ministerial", "june", "by_2024-03-15", "by_2024-09-30"}
    p = [deadlines[k]["p_confirmed"] for k in ("by_2024-03-15", "april_ministerial", "june")]
    assert p == sorted(p)
    assert deadlines["by_2024-09-30"]["p_confirmed"] >= deadlines["june"]["p_confirmed"]
    assert response.headers["etag"]


def test_assume_conditions_on_what_if_outcomes(published_client):
    base = published_client.get("/forecast").json()
    what_if = published_client.get("/forecast", params={"assume": "EE:endorsed,FF:endorsed"})
    assert what_if.status_code == 200, what_if.text
    document = what_if.json()
    assert document["assume"] == {"EE": "endorsed", "FF": "endorsed"}
    assert document["run_id"] == base["run_id"]
    assert document["deadlines"][1]["p_confirmed"] > base["deadlines"][1]["p_confirmed"]
    opposed = published_client.get("/forecast", params={"assume": "ee:opposed"}).json()
    assert opposed["deadlines"][1]["p_confirmed"] <= base["deadlines"][1]["p_confirmed"]


def test_unknown_cut_off_is_a_404_listing_those_that_exist(published_client):
    response = published_client.get("/forecast", params={"as_of": "2024-03-01"})
    assert response.status_code == 404
    errors = response.json()["errors"]
    assert errors[0]["field"] == "as_of" and errors[0]["valid"] == "2024-02-22"


def test_missing_draws_make_what_ifs_unavailable_not_an_error(published_client, published):
    shutil.rmtree(published.artifacts_dir)
    response = published_client.get("/forecast", params={"by": "2024-03-15"})
    assert response.status_code == 503
    assert response.json()["errors"][0]["field"] == "by"
    assert published_client.get("/forecast").status_code == 200


def test_history_has_one_row_per_published_run(published_client):
    forecast = published_client.get("/forecast").json()
    (row,) = published_client.get("/forecast/history").json()
    assert (row["run_id"], row["as_of"]) == (forecast["run_id"], forecast["as_of"])
    assert row["p_confirmed"] == {d["key"]: d["p_confirmed"] for d in forecast["deadlines"]}
    assert row["interval"]["june"] == forecast["deadlines"][1]["interval"]


NO_PYMC_SCRIPT = """
import json, sys
from pathlib import Path
from litestar.testing import TestClient
from service.app import create_app
from service.settings import Settings

with TestClient(create_app(Settings.from_env())) as client:
    what_if = client.get("/forecast", params={"by": "2024-03-15", "assume": "EE:endorsed"})
    assert what_if.status_code == 200, what_if.text
    for path in ("/forecast", "/forecast/history", "/allies", "/allies/EE", "/health", "/runs"):
        assert client.get(path).status_code == 200, path
heavy = {"pymc", "pytensor", "arviz", "nutpie", "numba"}
own = {"forecast.fit", "forecast.model", "forecast.gate", "service.worker"}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in own)
peak = [line for line in Path("/proc/self/status").read_text().splitlines() if "VmHWM" in line]
print(json.dumps({"loaded": loaded, "peak_rss": peak[0].split(":")[1].strip() if peak else "?"}))
"""


def test_the_api_process_never_imports_pymc(published):
    env = {
        **os.environ,
        "FORECAST_DATABASE_URL": published.database_url,
        "FORECAST_DATA_DIR": str(published.data_dir),
        "FORECAST_ARTIFACTS_DIR": str(published.artifacts_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", NO_PYMC_SCRIPT],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    print(f"API process peak RSS: {report['peak_rss']}")
