"""Backtests: refits at cut-offs on simulated evidence, scored against simulated outcomes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from forecast.checks.backtest import load_outcomes, naive_document, score
from forecast.cli import main, print_backtest, print_campaign_backtest
from forecast.data.records import ValidationError

# A world the test makes up: the undecided allies come round on these days, and the
# candidate is confirmed a few days after the last of them.
ENDORSED = {"CC": "2024-03-04", "DD": "2024-03-20", "EE": "2024-04-25", "FF": "2024-05-10"}
CONFIRMED = "2024-05-16"
CUTOFFS = "2024-02-22,2024-03-25,2024-05-01"


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def simulated(tmp_path: Path) -> tuple[Path, Path]:
    evidence = write_csv(
        tmp_path / "later.csv",
        ["ally", "kind", "date", "source", "summary", "reliability", "severity", "grievance"],
        [
            {"ally": a, "kind": "endorsement", "date": d, "source": "sim", "summary": f"{a} backs"}
            for a, d in ENDORSED.items()
        ]
        + [
            {
                "ally": "EE",
                "kind": "withdrawal",
                "date": "2024-04-20",
                "source": "sim",
                "summary": "EE withdraws",
            }
        ],
    )
    outcomes = write_csv(
        tmp_path / "outcomes.csv",
        ["event", "ally", "date"],
        [{"event": "endorsement", "ally": a, "date": d} for a, d in ENDORSED.items()]
        + [{"event": "confirmation", "ally": "", "date": CONFIRMED}],
    )
    return evidence, outcomes


@pytest.mark.slow
def test_backtest_refits_at_each_cut_off_and_scores_beside_the_baseline(
    simulated, synthetic_dir, tmp_path, capsys
):
    evidence, outcomes = simulated
    args = ["--runs-dir", str(tmp_path / "runs"), "backtest", "--data", str(synthetic_dir)]
    args += ["--evidence", str(evidence), "--as-of", CUTOFFS, "--outcomes", str(outcomes)]
    args += ["--by", "2024-04-30"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    assert [f["as_of"] for f in result["forecasts"]] == CUTOFFS.split(",")
    # Each cut-off sees only the evidence dated up to it.
    statuses = [{a["code"]: a["status"] for a in f["allies"]} for f in result["forecasts"]]
    assert [s["DD"] for s in statuses] == ["undecided", "endorsed", "endorsed"]
    assert statuses[1]["EE"] == "undecided" and statuses[2]["EE"] == "endorsed"
    assert all(f["deadlines"][-1]["key"] == "by_2024-04-30" for f in result["forecasts"])
    # Each question is scored at the cut-offs before its deadline only.
    counted = {"april_ministerial": 2, "june": 3, "by_2024-04-30": 2}
    for key, n in counted.items():
        table = result["scores"][key]
        for name in ("model", "baseline", "model_ally", "baseline_ally"):
            assert 0.0 <= table[name]["brier"] <= 1.0
            assert table[name]["log"] >= 0.0
        assert table["model"]["n"] == n
    assert sum(row["n"] for row in result["calibration"]) > 0

    # Without --json the command prints the same result as a table (one backtest only).
    print_backtest(result)
    printed = capsys.readouterr().out
    assert "baseline" in printed and "Brier" in printed and "calibration" in printed


def test_scores_reward_the_forecast_that_was_right():
    outcomes = load_outcomes_from({"AA": dt.date(2024, 3, 1)}, dt.date(2024, 3, 5))
    doc = lambda p: {  # noqa: E731
        "as_of": "2024-02-22",
        "deadlines": [{"key": "k", "date": "2024-04-01", "p_confirmed": p}],
        "allies": [{"code": "AA", "status": "undecided", "p_endorse_by": {"k": p}}],
    }
    base = {"deadlines": {"k": 0.5}, "allies": {"k": {"AA": 0.5}}, "base_rate": {"k": 0.5}}
    right, wrong = score([doc(0.9)], [base], outcomes), score([doc(0.1)], [base], outcomes)
    assert right["scores"]["k"]["model"]["brier"] < right["scores"]["k"]["baseline"]["brier"]
    assert wrong["scores"]["k"]["model"]["log"] > wrong["scores"]["k"]["baseline"]["log"]


def test_a_deadline_already_passed_at_a_cut_off_is_not_scored_there():
    outcomes = load_outcomes_from({"AA": dt.date(2024, 3, 1)}, dt.date(2024, 3, 5))
    doc = lambda as_of: {  # noqa: E731
        "as_of": as_of,
        "deadlines": [{"key": "k", "date": "2024-04-01", "p_confirmed": 1.0}],
        "allies": [{"code": "AA", "status": "undecided", "p_endorse_by": {"k": 1.0}}],
    }
    base = {"deadlines": {"k": 0.5}, "allies": {"k": {"AA": 0.5}}, "base_rate": {"k": 0.5}}
    result = score([doc("2024-02-22"), doc("2024-04-01")], [base, base], outcomes)
    assert result["scores"]["k"]["model"]["n"] == 1
    assert result["scores"]["k"]["model_ally"]["n"] == 1


def load_outcomes_from(endorsed, confirmed):
    from forecast.checks.backtest import Outcomes

    return Outcomes(endorsed=endorsed, confirmed=confirmed)


def test_the_baseline_is_a_constant_hazard_from_the_endorsements_so_far(synthetic_dataset):
    from forecast.data.inputs import setup_frame

    as_of = dt.date(2024, 2, 22)
    frame = setup_frame(synthetic_dataset, synthetic_dataset.evidence, as_of).frame
    base = naive_document(
        synthetic_dataset, frame, as_of, [("soon", as_of), ("later", dt.date(2024, 6, 1))]
    )
    assert base["deadlines"]["soon"] == 0.0
    assert 0.0 < base["deadlines"]["later"] < 1.0
    assert np.isclose(base["allies"]["later"]["AA"], 1.0)  # AA had endorsed


def test_the_reference_base_rate_counts_the_campaigns_still_open_by_hand(synthetic_dataset):
    """The synthetic class (days from emergence to outcome; c confirmed, d dropped):
    alpha 28c, beta 26d, gamma 7c, delta 15c, eps 52c, zeta 34c, eta 24d, theta 17d,
    iota 9c, kappa 124c. The question emerged on 2024-02-21."""
    from forecast.checks.backtest import reference_base_rate

    emerged = synthetic_dataset.question.emerged
    days = {c.id: (c.outcome_date - c.emerged).days for c in synthetic_dataset.campaigns}
    assert sorted(days.values()) == [7, 9, 15, 17, 24, 26, 28, 34, 52, 124]
    # At the emergence (0 days elapsed), all ten open; confirmed within 30 days: gamma,
    # delta, iota, alpha (4): (4 + 1) / (10 + 2).
    at = reference_base_rate(synthetic_dataset, emerged, emerged + dt.timedelta(30))
    assert at == pytest.approx(5 / 12)
    # 20 days on: open are alpha, beta, eps, zeta, eta, kappa (6); confirmed within 30
    # days of the emergence: alpha (1): (1 + 1) / (6 + 2).
    later = reference_base_rate(
        synthetic_dataset, emerged + dt.timedelta(20), emerged + dt.timedelta(30)
    )
    assert later == pytest.approx(2 / 8)


def test_an_outcomes_file_with_an_unknown_ally_is_refused_naming_row_and_field(tmp_path):
    path = write_csv(
        tmp_path / "o.csv",
        ["event", "ally", "date"],
        [{"event": "endorsement", "ally": "ZZ", "date": "2024-03-01"}],
    )
    with pytest.raises(ValidationError, match=r"row 2.*ally"):
        load_outcomes(path, ("AA", "BB"))


@pytest.mark.slow
def test_the_campaign_backtest_command_prints_the_contracts_json_and_a_table(
    synthetic_dir, synthetic_dataset, tmp_path, capsys
):
    args = ["--data-dir", str(synthetic_dir), "--runs-dir", str(tmp_path / "runs"), "backtest"]
    assert main([*args, "--campaigns", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"campaigns", "brier", "log", "base_rate_brier", "base_rate_log"} <= set(result)
    rows = result["campaigns"]
    assert [row["id"] for row in rows] == [c.id for c in synthetic_dataset.campaigns]
    questions = (
        "confirmed",
        "within_30",
        "within_60",
        "within_90",
        "within_120",
        "within_180",
    )
    for row in rows:
        # "by the first fixed meeting" only for a campaign with a meeting after emergence.
        meeting = {"by_first_meeting"} if "by_first_meeting" in row["outcomes"] else set()
        asked = set(questions) | meeting
        assert set(row["forecasts"]) == set(row["outcomes"]) == asked
    # The scores are the means over every question asked of every campaign, recomputed.
    asked = [(row, q) for row in rows for q in row["outcomes"]]
    p = np.array([row["forecasts"][q] for row, q in asked])
    y = np.array([row["outcomes"][q] for row, q in asked])
    base = np.array([row["base_rate"][q] for row, q in asked])
    assert result["brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    log = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert result["log"] == pytest.approx(log, rel=1e-12)
    assert result["base_rate_brier"] == pytest.approx(np.mean((base - y) ** 2), rel=1e-12)
    # The time left at the synthetic data's three later counts (two of alpha_1994, one of
    # eps_2003), scored over them.
    left = [
        (f, o)
        for row in rows
        for f, o in zip(*(row["time_left"][k] for k in ("forecasts", "outcomes")), strict=True)
    ]
    assert result["time_left"]["counts"] == len(left) == 3
    assert result["time_left"]["brier"] == pytest.approx(
        np.mean([(f - o) ** 2 for f, o in left]), rel=1e-12
    )
    assert all(0.0 < f < 1.0 for f, _ in left)

    print_campaign_backtest(result)  # what the command prints without --json
    printed = capsys.readouterr().out
    assert "leave-one-out" in printed and "Brier" in printed
    assert all(row["id"] in printed for row in rows)
