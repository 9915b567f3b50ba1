"""GET /forecast (cache, ETag, by, as_of, assume) and GET /forecast/history."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec

from forecast.polling import wait_until
from service.common.db import connect
from service.forecasts.schemas import ForecastOut
from service.worker.loop import process_one
from tests.service.conftest import AUTH, endorsement

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_forecast_is_a_503_problem_until_one_is_published(client):
    client.post("/runs", json={"as_of": "2024-03-01"}, headers=AUTH)
    response = client.get("/forecast")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    detail = response.json()["detail"]
    assert "fitting the first forecast" in detail
    assert "is queued (for " in detail


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


def test_the_openapi_schema_names_every_field_the_forecast_serves(published_client):
    forecast = published_client.get("/forecast").json()
    schemas = published_client.get("/schema/openapi.json").json()["components"]["schemas"]
    assert set(forecast) == set(schemas["ForecastOut"]["properties"])
    assert set(forecast["diagnostics"]) == set(schemas["DiagnosticsOut"]["properties"])


def test_forecast_has_an_etag_and_if_none_match_gets_304(published_client):
    first = published_client.get("/forecast")
    etag = first.headers["etag"]
    again = published_client.get("/forecast", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert published_client.get("/forecast", headers={"If-None-Match": '"other"'}).content == (
        first.content
    )


def not_computed(*args, **kwargs):
    raise AssertionError("computed again: the cache did not answer")


def test_a_repeated_request_is_answered_from_the_cache_with_the_same_bytes(
    published_client, monkeypatch
):
    first = published_client.get("/forecast")  # computed by the handler
    forecasts = published_client.app.state.forecasts
    monkeypatch.setattr(forecasts, "stored_view", not_computed)
    cached = published_client.get("/forecast")  # sent by the middleware from the cache
    assert cached.status_code == 200, cached.text
    assert cached.content == first.content
    for header in ("etag", "content-type", "cache-control", "content-length"):
        assert cached.headers[header] == first.headers[header]
    assert published_client.get("/forecast", headers={"If-None-Match": "*"}).status_code == 304


def test_a_database_that_does_not_answer_is_a_503_problem(published_client, monkeypatch):
    import sqlite3

    from service.forecasts.probe import LiveProbe

    published_client.get("/forecast")

    def gone(_self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(LiveProbe, "_query", gone)
    response = published_client.get("/forecast")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_live_probe_reads_the_tables_only_after_another_connection_commits(tmp_path):
    import sqlite3

    from service.common.db import migrate
    from service.forecasts.probe import LiveProbe

    path = tmp_path / "probe.db"
    database = connect(f"sqlite:///{path}")
    migrate(database)
    probe = LiveProbe(database)
    try:
        assert probe() == (None, (None, 0, 0))
        statements: list[str] = []
        probe.connection.driver_connection.set_trace_callback(statements.append)
        assert probe() == (None, (None, 0, 0))
        assert statements == ["PRAGMA data_version"]  # nothing changed: no table is read
        # The worker is another process: evidence committed there is seen here.
        insert = (
            "INSERT INTO evidence (id, ally, kind, date, source, summary, reliability, "
            "origin, created_at) VALUES ('e1', 'HU', 'statement', '2024-03-01', 'src', "
            "'text', 1.0, 'user', '2024-03-01 10:00:00')"
        )
        script = f"import sqlite3; c = sqlite3.connect({str(path)!r}); c.execute({insert!r})"
        script += "; c.commit()"
        subprocess.run([sys.executable, "-c", script], check=True)
        assert probe() == (None, (None, 1, 0))
        with sqlite3.connect(path) as other:  # another connection of this process
            other.execute("UPDATE evidence SET retracted_at = '2024-03-02 10:00:00'")
        assert probe() == (None, (None, 1, 1))
        assert sum(s.startswith("SELECT") for s in statements) == 2
    finally:
        probe.close()
        database.dispose()


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
    # The earlier cut-off is still served on request (with the live forecast's freshness,
    # whose cut-off's age is now the new one's).
    earlier = published_client.get("/forecast?as_of=2024-02-22").json()
    assert (
        earlier.pop("freshness")["cut_off_age_days"] == new.json()["freshness"]["cut_off_age_days"]
    )
    assert earlier == {k: v for k, v in old.json().items() if k != "freshness"}


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
own = {
    "forecast.pipeline.fit",
    "forecast.model.confirmation",
    "forecast.model.gate",
    "service.worker.loop",
}
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


def test_by_dates_outside_the_window_get_400_naming_it(published_client, dataset):
    for date in ("9999-12-31", "2027-02-23", "2023-01-01"):
        response = published_client.get("/forecast", params={"by": f"2024-03-15,{date}"})
        assert response.status_code == 400, date
        (error,) = response.json()["errors"]
        assert error["field"] == "by" and date in error["message"]
        assert f"{dataset.question.campaign_start} (the campaign start)" in error["valid"]
        assert "2027-02-22" in error["valid"]
    assert published_client.get("/forecast", params={"by": "2027-02-22"}).status_code == 200


class Gate:
    """A what-if computation that waits until released, counting its calls (in a thread)."""

    def __init__(self):
        import threading

        self.release = threading.Event()
        self.calls = 0

    def __call__(self, run_dir, body, dates, assume):
        self.calls += 1
        assert self.release.wait(60), "never released"
        return body


def held_what_ifs(settings, **overrides):
    """A live server whose what-ifs wait for ``gate.release`` (computed in threads)."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager
    from dataclasses import replace

    from service.app import create_app
    from tests.service.conftest import serving_app

    @contextmanager
    def context():
        app = create_app(replace(settings, **overrides))
        gate = Gate()
        with serving_app(app) as url:
            what_ifs = app.state.forecasts.what_ifs
            what_ifs.compute = gate
            what_ifs.executor = ThreadPoolExecutor(max_workers=8)
            try:
                yield url, what_ifs, gate
            finally:
                gate.release.set()

    return context()


def test_concurrent_requests_for_one_new_what_if_compute_it_once(published):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with held_what_ifs(published) as (url, what_ifs, gate):

        def get(_):
            return httpx.get(f"{url}/forecast", params={"by": "2024-03-15"}, timeout=60)

        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = pool.map(get, range(10))
            wait_until(lambda: sum(what_ifs.joined.values()) == 10, "10 requests joined")
            gate.release.set()
            responses = list(responses)
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.content for r in responses}) == 1
    assert gate.calls == 1 and what_ifs.started == 1


def test_what_ifs_beyond_the_pool_get_503_with_retry_after(published):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with held_what_ifs(published, what_if_workers=1, what_if_queue=1) as (url, what_ifs, gate):

        def get(day, headers=None):
            by = {"by": f"2024-03-{day:02d}"}
            return httpx.get(f"{url}/forecast", params=by, headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=2) as pool:
            # Two clients (an address, the bearer token), each within its share.
            held = [pool.submit(get, 1), pool.submit(get, 2, AUTH)]
            wait_until(lambda: len(what_ifs.in_flight) == 2, "two what-ifs in flight")
            # A third client (another loopback address) finds every slot taken.
            other = httpx.HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(transport=other, timeout=60) as third:
                refused = third.get(f"{url}/forecast", params={"by": "2024-03-03"})
            live = httpx.get(f"{url}/forecast", timeout=10)
            gate.release.set()
            assert [f.result().status_code for f in held] == [200, 200]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["errors"][0]["field"] == "by"
    assert live.status_code == 200  # the published forecast is still served


def test_a_repeated_what_if_is_answered_from_the_cache_without_computing_it_again(
    published_client,
):
    params = {"by": "2024-03-15", "assume": "EE:endorsed"}
    first = published_client.get("/forecast", params=params)
    assert first.status_code == 200, first.text
    what_ifs = published_client.app.state.forecasts.what_ifs
    started = what_ifs.started
    what_ifs.compute = not_computed

    again = published_client.get("/forecast", params=params)

    assert again.status_code == 200, again.text
    assert again.content == first.content
    assert what_ifs.started == started


def test_a_runs_draws_stay_in_memory_while_its_what_ifs_are_asked(published_client, published):
    first = published_client.get("/forecast", params={"by": "2024-03-15"})
    assert first.status_code == 200
    run_id = first.json()["run_id"]
    (published.artifacts_dir / run_id / "draws.npz").unlink()
    # A new key for the same run is computed from the draws held in memory.
    second = published_client.get("/forecast", params={"assume": "EE:endorsed"})
    assert second.status_code == 200, second.text
    assert second.json()["assume"] == {"EE": "endorsed"}


def test_history_pages_with_a_link_header(published_client, published):
    from service.runs.queue import claim_next, publish, queue_run

    database = connect(published.database_url)
    document = published_client.get("/forecast").text
    for day in (1, 2):
        with database.sessions.begin() as session:
            run_id = queue_run(session, as_of=dt.date(2024, 3, day), seed=1, trigger="manual").id
        claim_next(database.sessions, "w")
        publish(database.sessions, run_id, "w", {}, document, {"passed": True}, {})
    database.dispose()
    every = published_client.get("/forecast/history").json()
    assert len(every) == 3 and "link" not in published_client.get("/forecast/history").headers
    pages, url = [], "/forecast/history?limit=2"
    while url:
        response = published_client.get(url)
        pages.append([row["run_id"] for row in response.json()])
        link = response.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert [len(p) for p in pages] == [2, 1]
    assert [r for page in pages for r in page] == [row["run_id"] for row in every]


def test_every_response_carries_the_security_headers(published_client):
    from service.http.headers import CONTENT_SECURITY_POLICY

    published_client.get("/forecast")  # cached: the next one is sent by the middleware
    for path in ("/forecast", "/health", "/", "/schema", "/nowhere", "/forecast?by=x"):
        headers = published_client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY", path


def test_the_api_docs_load_nothing_from_another_site(published_client):
    import re

    docs = published_client.get("/schema")
    assert docs.status_code == 200
    assert "GET /forecast" in docs.text and "openapi.json" in docs.text
    assert "<script" not in docs.text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", docs.text)
    assert published_client.get("/schema/openapi.json").json()["paths"]["/forecast"]
