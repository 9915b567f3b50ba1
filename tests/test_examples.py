"""The second question shipped as an example (``examples/nato-2014``): it validates, and
it replays end to end through the command line with scores beside the base rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecast.cli import main
from forecast.data.dataset import load_dataset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nato-2014"


def test_the_2014_question_loads_with_its_own_reference_class():
    dataset = load_dataset(EXAMPLE)
    assert dataset.question.candidate == "Jens Stoltenberg"
    assert len(dataset.allies) == 28
    # Its own campaign and every later one are left out of what it learns from.
    assert dataset.campaigns
    assert all(c.outcome_date < dataset.question.opened for c in dataset.campaigns)
    assert all(e.date <= dataset.question.opened for e in dataset.evidence)


EXAMPLES = sorted(p for p in EXAMPLE.parent.iterdir() if (p / "question.toml").exists())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", ["campaigns.csv", "holdout_counts.csv"])
def test_the_examples_reference_class_is_the_shipped_one(example, name):
    """One reference class: each example's files are copies of data/'s, not a variant."""
    assert (example / name).read_bytes() == (EXAMPLE.parents[1] / "data" / name).read_bytes()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_replay_loads_with_its_later_evidence_and_outcomes(example):
    """A replay ships what was public on its opening day, then its later evidence (each
    item after the opening day, valid) and the outcome on record."""
    from forecast.checks.backtest import load_outcomes
    from forecast.cli import read_evidence_file

    dataset = load_dataset(example)
    opened = dataset.question.opened
    later = read_evidence_file(example / "later.csv", dataset)
    assert later and all(e.date > opened for e in later)
    assert all(e.date <= opened for e in dataset.evidence)
    outcomes = load_outcomes(example / "outcomes.csv", dataset.codes)
    assert outcomes.confirmed is not None and outcomes.confirmed > opened


@pytest.mark.slow
def test_the_2014_question_replays_through_the_cli_with_scores(tmp_path, capsys):
    args = ["--runs-dir", str(tmp_path / "runs"), "backtest", "--data", str(EXAMPLE)]
    args += ["--evidence", str(EXAMPLE / "later.csv"), "--outcomes", str(EXAMPLE / "outcomes.csv")]
    args += ["--as-of", "2014-03-18,2014-03-24", "--by", "2014-03-31", "--draws", "400"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    assert [f["as_of"] for f in result["forecasts"]] == ["2014-03-18", "2014-03-24"]
    first, second = result["forecasts"]
    assert first["candidate"] == "Jens Stoltenberg"
    assert first["diagnostics"]["reference_campaigns"] == len(load_dataset(EXAMPLE).campaigns)
    # The second cut-off sees the replayed evidence dated up to it, the first does not.
    assert second["evidence_count"] > first["evidence_count"]
    keys = ["hague_summit", "april_ministerial", "wales_summit", "by_2014-03-31"]
    assert [d["key"] for d in first["deadlines"]] == keys
    for key in keys:
        scores = result["scores"][key]
        assert scores["model"]["n"] == 2
        for name in ("model", "baseline"):
            assert 0.0 <= scores[name]["brier"] <= 1.0
    assert result["calibration"]


def test_a_question_without_spending_figures_leaves_spending_out():
    from forecast.data.inputs import setup_frame, spending_scale

    dataset = load_dataset(EXAMPLE)
    assert not any(a.spending_pct_gdp for a in dataset.allies)
    frame = setup_frame(
        dataset, dataset.evidence, dataset.question.opened, spending_scale(dataset)
    ).frame
    assert (frame["spending_z"] == 0.0).all()


def test_the_service_serves_the_2014_question(tmp_path):
    from litestar.testing import TestClient

    from service.app import create_app
    from service.common.db import connect, migrate
    from service.evidence.service import seed_evidence
    from tests.service.conftest import make_settings

    settings = make_settings(tmp_path, EXAMPLE)
    database = connect(settings.database_url)
    migrate(database)
    seed_evidence(database, load_dataset(EXAMPLE))
    database.dispose()
    with TestClient(create_app(settings)) as client:
        allies = client.get("/allies").json()
        schema = client.get("/schema/openapi.json").json()
        evidence = client.get("/evidence").json()
    assert len(allies) == 28
    assert {a["code"] for a in allies} >= {"US", "NO", "TR", "AL"}
    assert schema["info"]["title"] == "Jens Stoltenberg confirmation forecast"
    assert len(evidence) == len(load_dataset(EXAMPLE).evidence)
    assert {e["ally"] for e in evidence} >= {"US", "DE"}


def test_the_readmes_headline_numbers_are_the_shipped_forecasts(tmp_path):
    """The README states the shipped forecast (as of 2024-02-22, seed 20240222) in whole
    percents: a change to the model or the data that moves one of them by more than a
    point must update the README too."""
    import datetime as dt
    import re

    from forecast.pipeline.fit import Forecaster

    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    sentence = re.search(r"As of 2024-02-22: (P\(before the April.*?P\(ever\) \d+%)", readme, re.S)
    assert sentence, "the README's headline sentence"
    stated = [int(p) for p in re.findall(r"(\d+)%", sentence.group(1))]
    dataset = load_dataset()
    document = (
        Forecaster(dataset)
        .run(dataset.evidence, dt.date(2024, 2, 22), seed=20240222, run_id="r", run_dir=tmp_path)
        .document
    )
    forecast = [d["p_confirmed"] for d in document["deadlines"]] + [document["p_ever_confirmed"]]
    assert len(stated) == len(forecast) == 5
    for percent, p in zip(stated, forecast, strict=True):
        assert abs(100 * p - percent) <= 1.0, (stated, forecast)
