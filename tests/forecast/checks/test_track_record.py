"""The track record's rules by value: checkpoints, scores, the confirmation date's
intervals and coverage, calibration; and one quick replay end to end."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from forecast.checks import track_record
from forecast.checks.backtest import Outcomes
from forecast.checks.track_record import (
    checkpoint_record,
    checkpoints,
    confirmation_interval,
    covers,
    pooled,
    question_scores,
)

D = dt.date.fromisoformat
OPENED = D("2014-03-18")
# A made-up later.csv's dates: one on the opening day, a repeat, one on and one after
# the confirmation day.
NEWS = [D(d) for d in ("2014-03-18", "2014-03-19", "2014-03-20", "2014-03-20", "2014-03-23")]
NEWS += [D(d) for d in ("2014-03-24", "2014-03-25", "2014-03-26", "2014-03-27", "2014-03-28")]
NEWS += [D("2014-04-02")]
CONFIRMED = D("2014-03-28")


def test_checkpoints_are_the_opening_day_and_each_news_day_before_the_confirmation():
    assert checkpoints(OPENED, NEWS, CONFIRMED) == [
        OPENED,
        *(D(f"2014-03-{d}") for d in (19, 20, 23, 24, 25, 26, 27)),
    ]
    # Never confirmed: every news day after the opening counts.
    assert checkpoints(OPENED, NEWS, None)[-2:] == [CONFIRMED, D("2014-04-02")]


def test_beyond_the_limit_the_news_days_are_evenly_spaced_ending_with_the_last():
    # 7 news days, 3 kept: positions floor(7k/3 + 1/2) = 2, 5, 7 (1-based).
    assert checkpoints(OPENED, NEWS, CONFIRMED, limit=4) == [
        OPENED,
        D("2014-03-20"),
        D("2014-03-25"),
        D("2014-03-27"),
    ]
    assert checkpoints(OPENED, NEWS, CONFIRMED, limit=2) == [OPENED, D("2014-03-27")]
    assert checkpoints(OPENED, NEWS, CONFIRMED, limit=1) == [OPENED]
    with pytest.raises(ValueError, match="valid: 1 or more"):
        checkpoints(OPENED, NEWS, CONFIRMED, limit=0)


GRID = [D("2024-03-02") + dt.timedelta(days=i) for i in range(10)]
CDF = [0.01, 0.02, 0.05, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.96]


def test_the_confirmation_dates_intervals_are_read_off_its_cdf():
    # 50%: the first day at or above 0.25 and at or above 0.75.
    assert confirmation_interval(GRID, CDF, 0.5) == (D("2024-03-06"), D("2024-03-09"))
    # 94%: from the first day at or above 0.03; 0.97 is never reached: open-ended.
    assert confirmation_interval(GRID, CDF, 0.94) == (D("2024-03-04"), None)
    assert confirmation_interval(GRID, [0.0] * 10, 0.5) == (None, None)


def test_an_interval_covers_the_date_inside_it_and_an_open_end_covers_later_or_never():
    last = GRID[-1]
    fifty = (D("2024-03-06"), D("2024-03-09"))
    assert [covers(fifty, D(f"2024-03-0{d}"), last) for d in (5, 6, 9)] == [False, True, True]
    assert not covers(fifty, D("2024-03-10"), last)
    assert not covers(fifty, None, last)
    open_ended = (D("2024-03-04"), None)
    assert covers(open_ended, D("2024-03-10"), last)
    assert covers(open_ended, D("2024-06-01"), last)  # beyond the grid
    assert covers(open_ended, None, last)
    assert not covers(open_ended, D("2024-03-03"), last)
    assert not covers((None, None), D("2024-03-05"), last)
    assert covers((None, None), None, last)


def document() -> dict:
    deadline = {"label": "x", "interval": [0.1, 0.9]}
    return {
        "as_of": "2024-03-01",
        "evidence_count": 4,
        "deadlines": [
            {**deadline, "key": "passed", "date": "2024-02-20", "p_confirmed": 0.0},
            {**deadline, "key": "april", "date": "2024-04-01", "p_confirmed": 0.8},
            {**deadline, "key": "june", "date": "2024-05-31", "p_confirmed": 0.9},
        ],
        "p_ever_confirmed": 0.95,
        "p_ever_confirmed_interval": [0.9, 0.99],
    }


@pytest.fixture
def half_base_rate(monkeypatch):
    """The reference class's base rate fixed at 1/2 (its own rule is backtest's)."""
    monkeypatch.setattr(track_record, "reference_base_rate", lambda dataset, as_of, day: 0.5)


def test_each_forecast_is_scored_by_hand_beside_the_base_rate(half_base_rate):
    outcomes = Outcomes(endorsed={}, confirmed=D("2024-04-15"))
    row = checkpoint_record(document(), None, outcomes, GRID, CDF)
    april, june = row["deadlines"]  # the passed deadline is not scored
    assert (april["key"], april["outcome"], june["outcome"], row["ever"]["outcome"]) == (
        "april",
        0.0,
        1.0,
        1.0,
    )
    # Brier (p - y)^2 and log -ln(p) for y = 1, -ln(1 - p) for y = 0.
    assert april["brier"] == pytest.approx(0.64, abs=1e-9)
    assert april["log"] == pytest.approx(-math.log(0.2), abs=1e-9)  # 1.609
    assert june["brier"] == pytest.approx(0.01, abs=1e-9)
    assert june["log"] == pytest.approx(-math.log(0.9), abs=1e-9)  # 0.105
    assert row["ever"]["brier"] == pytest.approx(0.0025, abs=1e-9)
    assert row["ever"]["log"] == pytest.approx(-math.log(0.95), abs=1e-9)  # 0.051
    for entry in (april, june, row["ever"]):
        assert entry["base_rate_brier"] == pytest.approx(0.25, abs=1e-9)
        assert entry["base_rate_log"] == pytest.approx(math.log(2), abs=1e-9)
    # Confirmed after the grid's last day: only the open-ended 94% interval holds it.
    when = row["confirmation_date"]
    assert when["interval_50"] == ["2024-03-06", "2024-03-09"]
    assert when["interval_94"] == ["2024-03-04", None]
    assert (when["covered_50"], when["covered_94"]) == (False, True)
    scores = question_scores([row])["deadlines"]
    assert scores["model"]["brier"] == pytest.approx((0.64 + 0.01) / 2, abs=1e-9)
    assert scores["base_rate"]["brier"] == pytest.approx(0.25, abs=1e-9)


def row_with(pairs, covered):
    return {
        "gate": "passed",
        "deadlines": [{"p": p, "outcome": y, "base_rate": 0.5} for p, y in pairs],
        "ever": {"p": 0.9, "outcome": 1.0, "base_rate": 0.5},
        "confirmation_date": {"covered_50": covered[0], "covered_94": covered[1]},
    }


def test_pooled_calibration_and_coverage_by_hand():
    first = {
        "checkpoints": [row_with([(0.05, 0.0), (0.85, 1.0)], (True, True))],
        "by_deadline": {
            "a": {k: {"brier": 0.2, "log": 0.5, "n": 2} for k in ("model_ally", "baseline_ally")}
        },
    }
    second = {
        "checkpoints": [
            row_with([(0.08, 1.0), (0.95, 1.0), (0.99, 0.0)], (False, True)),
            row_with([(1.0, 1.0), (0.5, 0.0)], (False, False)),
            {"as_of": "2014-03-20", "gate": "diagnostics gate failed: R-hat"},
        ],
        "by_deadline": {
            "b": {k: {"brier": 0.4, "log": 1.0, "n": 6} for k in ("model_ally", "baseline_ally")}
        },
    }
    result = pooled([first, second])
    assert result["calibration"] == [
        {"bin": "0.0-0.1", "n": 2, "mean_forecast": pytest.approx(0.065), "observed": 0.5},
        # A forecast on an edge falls in the bin above it (1.0 in the last).
        {"bin": "0.5-0.6", "n": 1, "mean_forecast": 0.5, "observed": 0.0},
        {"bin": "0.8-0.9", "n": 1, "mean_forecast": pytest.approx(0.85), "observed": 1.0},
        {
            "bin": "0.9-1.0",
            "n": 3,
            "mean_forecast": pytest.approx(0.98),
            "observed": pytest.approx(2 / 3),
        },
    ]
    assert result["coverage"]["50"] == {"covered": 1, "n": 3, "share": pytest.approx(1 / 3)}
    assert result["coverage"]["94"] == {"covered": 2, "n": 3, "share": pytest.approx(2 / 3)}
    assert (result["checkpoints"], result["failed_checkpoints"]) == (4, 1)
    # Brier over the seven forecasts: (0.05^2 + 0.15^2 + 0.92^2 + 0.05^2 + 0.99^2 + 0 +
    # 0.5^2) / 7.
    expected = (0.0025 + 0.0225 + 0.8464 + 0.0025 + 0.9801 + 0.25) / 7
    assert result["scores"]["deadlines"]["model"]["brier"] == pytest.approx(expected, abs=1e-9)
    # Per ally: the per-question means weighted by their counts, (0.2 * 2 + 0.4 * 6) / 8.
    assert result["allies"]["model_ally"]["brier"] == pytest.approx(0.35, abs=1e-9)
    assert result["allies"]["model_ally"]["n"] == 8


@pytest.mark.slow
def test_a_quick_track_record_of_the_2014_question_runs_end_to_end(tmp_path, capsys):
    """Two checkpoints with few draws (about 20 s): the record is stored, current, and its
    numbers are those of its own rows."""
    from forecast.cli import main
    from forecast.track_record_file import read_status
    from tests.track_record import EXAMPLE

    out = tmp_path / "track-record.json"
    args = ["track-record", "--questions", str(EXAMPLE), "--quick", "--checkpoints", "2"]
    assert main([*args, "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    found = read_status(out)
    assert found.status == "ok", found.reason
    assert found.record == printed
    assert printed["quick"] is True and printed["settings"]["sampler"]["draws"] == 300
    # The shipped question data/ is open: only the example is scored.
    (question,) = printed["questions"]
    assert question["slug"] == "nato-2014" and question["confirmed"] == "2014-03-28"
    first, last = question["checkpoints"]
    assert (first["as_of"], last["as_of"]) == ("2014-03-18", "2014-03-27")
    assert last["evidence_count"] > first["evidence_count"]
    for row in (first, last):
        assert row["gate"] == "passed"
        assert all(d["date"] > row["as_of"] for d in row["deadlines"])
        for d in [*row["deadlines"], row["ever"]]:
            assert d["brier"] == pytest.approx((d["p"] - d["outcome"]) ** 2)
    assert printed["pooled"]["coverage"]["94"]["n"] == 2
    assert question["by_deadline"]["wales_summit"]["model_ally"]["n"] > 0
