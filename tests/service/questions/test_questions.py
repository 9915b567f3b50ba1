"""Several questions, one service: each question's endpoints under /questions/{slug}/, its
own evidence and runs, GET /questions, and write tokens limited to questions."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from service.questions.places import places
from service.startup import StartError, prepare
from tests.service.conftest import AUTH, TOKEN, endorsement, make_settings
from tests.service.questions.conftest import BETA_AUTH, BETA_TOKEN, copy_question


def test_questions_lists_every_question_with_its_clock_and_links(several_client, dataset):
    listed = several_client.get("/questions").json()["questions"]
    assert [q["slug"] for q in listed] == [places_slug(several_client), "alpha", "beta"]
    default, alpha = listed[0], listed[1]
    assert (default["default"], alpha["default"]) == (True, False)
    assert alpha["question"] == dataset.question.question
    assert (alpha["clock"], alpha["resolved"], alpha["headline"]) == ("evidence", False, None)
    assert alpha["links"]["forecast"] == "/questions/alpha/forecast"
    assert alpha["links"]["page"] == "/questions/alpha/"


def places_slug(client) -> str:
    return client.app.state.questions.default.slug


def test_an_unknown_slug_is_a_404_naming_the_served_ones(several_client):
    for method, path in (("GET", "/questions/gamma/forecast"), ("POST", "/questions/gamma/runs")):
        response = several_client.request(method, path, json={"as_of": "2024-03-01"}, headers=AUTH)
        assert response.status_code == 404, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "slug"
        assert error["valid"] == f"{places_slug(several_client)}, alpha, beta"


def test_evidence_posted_to_one_question_stays_in_that_question(several_client):
    before = {
        path: len(several_client.get(path).json())
        for path in ("/evidence", "/questions/alpha/evidence", "/questions/beta/evidence")
    }
    posted = several_client.post("/questions/beta/evidence", json=endorsement(), headers=AUTH)
    assert posted.status_code == 201, posted.text
    after = {path: len(several_client.get(path).json()) for path in before}
    assert after == {**before, "/questions/beta/evidence": before["/questions/beta/evidence"] + 1}
    run_id = posted.json()["run_id"]
    assert several_client.get(f"/questions/beta/runs/{run_id}").status_code == 200
    for other in ("/runs", "/questions/alpha/runs"):
        assert several_client.get(other).json() == []
        assert several_client.get(f"{other}/{run_id}").status_code == 404


def test_bad_input_on_a_questions_endpoint_gets_todays_answer_and_stores_nothing(several_client):
    bad = endorsement(ally="ZZ")
    default = several_client.post("/evidence", json=bad, headers=AUTH)
    beta = several_client.post("/questions/beta/evidence", json=bad, headers=AUTH)
    assert beta.status_code == default.status_code == 422
    assert beta.json()["errors"] == default.json()["errors"]
    assert several_client.get("/questions/beta/runs").json() == []


def test_a_token_limited_to_one_question_cannot_write_to_another(several_client, caplog):
    caplog.set_level(logging.WARNING)
    ok = several_client.post("/questions/beta/evidence", json=endorsement(), headers=BETA_AUTH)
    assert ok.status_code == 201, ok.text
    for path in ("/evidence", "/questions/alpha/evidence"):
        refused = several_client.post(path, json=endorsement(ally="EE"), headers=BETA_AUTH)
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["valid"] == "beta"
    assert "a token limited to beta was refused a write to alpha" in caplog.text
    assert BETA_TOKEN not in caplog.text
    assert several_client.get("/questions/alpha/runs").json() == []
    # The server's own token writes everywhere; a wrong one is still a 401.
    assert (
        several_client.post(
            "/questions/alpha/runs", json={"as_of": "2024-03-01"}, headers=AUTH
        ).status_code
        == 202
    )
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert (
        several_client.post(
            "/questions/beta/evidence", json=endorsement(), headers=wrong
        ).status_code
        == 401
    )


def test_history_links_of_a_question_stay_under_its_prefix(several, forecaster, several_client):
    from service.common.db import connect
    from service.runs.queue import in_transaction, queue_live_run
    from service.worker.loop import process_one
    from tests.stand_in import StandInForecaster

    (beta,) = [p for p in places(several) if p.slug == "beta"]
    database = connect(beta.database_url)
    dataset = several_client.app.state.questions.get("beta").dataset
    in_transaction(
        database.sessions, lambda s: queue_live_run(s, dataset, trigger="startup", seed=1)
    )
    stand_in = StandInForecaster(dataset, sampler_config=forecaster.sampler_config)
    stand_in.gate = forecaster.gate
    settings = dataclasses.replace(several, artifacts_dir=beta.artifacts_dir)
    run_id = process_one(database.sessions, stand_in, settings)
    database.dispose()
    (row,) = several_client.get("/questions/beta/forecast/history").json()
    assert row["changes"] == f"/questions/beta/forecast/changes/{run_id}"
    assert several_client.get(row["changes"]).status_code == 200
    listed = {q["slug"]: q for q in several_client.get("/questions").json()["questions"]}
    served = several_client.get("/questions/beta/forecast").json()
    assert listed["beta"]["headline"]["deadlines"] == served["deadlines"]
    assert listed["beta"]["headline"]["p_ever_confirmed"] == served["p_ever_confirmed"]
    assert listed["alpha"]["headline"] is None
    assert several_client.get("/forecast").status_code == 503  # the default has none


def test_a_start_with_questions_that_cannot_be_served_lists_every_problem(tmp_path, data_dir):
    broken = [copy_question(data_dir, tmp_path, slug) for slug in ("one", "two")]
    (broken[0] / "allies.csv").write_text("code,name\n", encoding="utf-8")
    toml = broken[1] / "question.toml"
    toml.write_text(toml.read_text().replace('rule = "unanimity"', 'rule = "majority"'))
    (tmp_path / "again").mkdir()
    clash = copy_question(data_dir, tmp_path / "again", "one")
    tokens = {TOKEN + "-more": ("gamma",)}

    def start(*dirs):
        settings = make_settings(
            tmp_path, data_dir, questions=",".join(map(str, dirs)), api_tokens=tokens
        )
        with pytest.raises(StartError) as raised:
            prepare(settings, fit_if_empty=False)
        return str(raised.value)

    assert "slug 'one' is taken" in start(*broken, clash)
    message = start(*broken)
    assert "question one" in message and "allies.csv" in message
    assert "question two" in message and "majority" in message
    assert "names gamma, not served" in message
    # Nothing was written: no database was created for any question.
    assert not (tmp_path / "forecast.db").exists()
    assert not (tmp_path / "forecast-questions").exists()


def test_on_postgresql_each_question_keeps_its_tables_in_a_schema_of_its_own(
    pg_settings, question_dirs
):
    from litestar.testing import TestClient
    from sqlalchemy import text

    from service.app import create_app
    from service.common.db import connect

    settings = dataclasses.replace(pg_settings, questions=",".join(str(d) for d in question_dirs))
    prepare(settings, fit_if_empty=False)
    with TestClient(create_app(settings)) as client:
        posted = client.post("/questions/beta/evidence", json=endorsement(), headers=AUTH)
        assert posted.status_code == 201, posted.text
        assert client.get("/runs").json() == client.get("/questions/alpha/runs").json() == []
        assert len(client.get("/questions/beta/runs").json()) == 1
    database = connect(settings.database_url)
    with database.reader() as session:
        schemas = set(session.scalars(text("SELECT schema_name FROM information_schema.schemata")))
        runs = {
            schema: session.scalar(text(f"SELECT count(*) FROM {schema}.runs"))
            for schema in ("public", "q_alpha", "q_beta")
        }
    database.dispose()
    assert {"q_alpha", "q_beta"} <= schemas
    assert runs == {"public": 0, "q_alpha": 0, "q_beta": 1}


def test_a_question_whose_database_refuses_a_write_is_the_one_reported(several, several_client):
    import dataclasses as dc

    from service.questions.places import places as placed
    from tests.service.test_outages import unwritable

    (beta,) = [p for p in placed(several) if p.slug == "beta"]
    with unwritable(dc.replace(several, database_url=beta.database_url)):
        refused = several_client.post("/questions/beta/evidence", json=endorsement(), headers=AUTH)
    assert refused.status_code == 503, refused.text
    questions = several_client.app.state.questions
    assert questions.get("beta").write_status.reason is not None
    assert questions.default.write_status.reason is None
    assert questions.get("alpha").write_status.reason is None


def test_a_database_that_holds_another_questions_records_stops_the_start(
    several, question_dirs, data_dir
):
    # The same files, with alpha's copy made the default question: the default database
    # holds the default question's records, not alpha's.
    swapped = dataclasses.replace(
        several, data_dir=question_dirs[0], questions=f"{data_dir},{question_dirs[1]}"
    )
    with pytest.raises(StartError) as raised:
        prepare(swapped, fit_if_empty=True)
    message = str(raised.value)
    assert "question alpha: its database" in message
    assert f"holds the records of question {data_dir.name!r}" in message
    prepare(several, fit_if_empty=False)  # as it was: it starts


def test_every_question_shares_the_processs_what_if_pool_and_its_shares(several_client):
    """One bound and one share per client for the process: a client does not get more
    what-if computations by asking about several questions."""
    questions = list(several_client.app.state.questions)
    pools = {id(q.forecasts.what_ifs) for q in questions}
    assert len(questions) == 3 and len(pools) == 1
    what_ifs = questions[0].forecasts.what_ifs
    assert what_ifs.capacity == 1 + 4  # FORECAST_WHATIF_WORKERS + FORECAST_WHATIF_QUEUE


def test_health_says_writes_are_enabled_only_where_some_token_may_write(several):
    from litestar.testing import TestClient

    from service.app import create_app

    scoped = dataclasses.replace(several, api_token=None)  # BETA_TOKEN alone
    with TestClient(create_app(scoped)) as client:
        enabled = {
            slug: client.get(f"/questions/{slug}/health").json()["writes_enabled"]
            for slug in ("alpha", "beta")
        }
    assert enabled == {"alpha": False, "beta": True}
