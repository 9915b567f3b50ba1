"""The forecast document: its contents, and re-rendering a stored run."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from forecast.posterior import predict
from forecast.posterior.document import CURVE_DAYS, CURVE_STEP_DAYS, build_document, rerender
from forecast.posterior.draws import PosteriorDraws
from tests.draws import make_draws


def test_document_has_both_deadlines(synthetic_run):
    deadlines = synthetic_run.document["deadlines"]
    assert [d["key"] for d in deadlines] == ["april_ministerial", "june"]
    for deadline in deadlines:
        low, high = deadline["interval"]
        assert 0.0 <= low <= deadline["p_confirmed"] <= high <= 1.0


def test_document_has_every_ally_with_its_status(synthetic_run, synthetic_dataset):
    allies = synthetic_run.document["allies"]
    assert [a["code"] for a in allies] == list(synthetic_dataset.codes)
    statuses = {a["code"]: a["status"] for a in allies}
    assert statuses == {
        "AA": "endorsed",
        "BB": "endorsed",
        "CC": "undecided",
        "DD": "undecided",
        "EE": "undecided",
        "FF": "opposed",
        "GG": "not_member",
    }
    for ally in allies:
        assert set(ally["p_endorse_by"]) == {"april_ministerial", "june"}


def test_rerender_with_by_adds_a_deadline_keyed_by_its_date(synthetic_run):
    by = dt.date(2024, 7, 1)
    document = rerender(synthetic_run.run_dir, synthetic_run.document, by=[by])
    keys = [d["key"] for d in document["deadlines"]]
    assert keys == ["april_ministerial", "june", "by_2024-07-01"]
    assert all("by_2024-07-01" in a["p_endorse_by"] for a in document["allies"])
    june, july = (d["p_confirmed"] for d in document["deadlines"][1:])
    assert july >= june


def test_rerender_without_queries_reproduces_the_stored_document(synthetic_run):
    document = rerender(synthetic_run.run_dir, synthetic_run.document)
    assert document == synthetic_run.document


def test_rerender_computes_every_number_again_and_echoes_nothing_stored(synthetic_run):
    """A stored document altered everywhere except its run's fields: the what-if's
    numbers are the draws', and a key the stored document has beyond them is dropped."""
    stored = {
        **synthetic_run.document,
        "p_ever_confirmed": 0.123,
        "curve": [],
        "pivotal": [],
        "stale": "a field of another version",
        "reference_campaigns": 99,
    }
    document = rerender(synthetic_run.run_dir, stored)
    assert document == synthetic_run.document


def test_rerender_assuming_an_ally_opposed_rules_out_confirmation(synthetic_run):
    document = rerender(synthetic_run.run_dir, synthetic_run.document, assume={"DD": "opposed"})
    assert document["assume"] == {"DD": "opposed"}
    assert all(d["p_confirmed"] == 0.0 for d in document["deadlines"])


def spread_draws() -> PosteriorDraws:
    """101 draws whose P(confirmed by a day) differ: the allies' and the endgame's chances
    and the first ally's timing move together across them."""
    n = 101
    return make_draws(
        p_endorse=np.column_stack([np.linspace(0.5, 0.99, n), np.linspace(0.9, 0.6, n)]),
        location=np.log(np.column_stack([np.linspace(130.0, 260.0, n), np.full(n, 150.0)])),
        shape=np.full(n, 0.6),
        decision_lag=np.full(n, 3.0),
        p_success=np.linspace(0.2, 0.9, n),
        endgame_location=np.full(n, np.log(45.0)),
        endgame_shape=np.full(n, 0.9),
    )


def document_of(draws: PosteriorDraws, deadline: dt.date) -> dict:
    return build_document(
        draws,
        question="Q",
        candidate="C",
        deadlines=[("deadline", "Deadline", deadline)],
        names={},
        meta={},
    )


def test_a_deadlines_interval_leaves_three_of_101_draws_below_and_three_above():
    """The 94% interval: the 4th smallest and the 4th largest draw of P(confirmed by D)."""
    draws = spread_draws()
    deadline = dt.date(2024, 4, 2)
    (entry,) = document_of(draws, deadline)["deadlines"]
    by_draw = np.sort(predict.confirmed_by(draws, draws.day(deadline)))
    assert by_draw[3] < by_draw[97]  # the draws differ, so the percentiles tell apart
    assert entry["interval"] == pytest.approx([by_draw[3], by_draw[97]], abs=1e-12)


def test_the_charts_band_leaves_three_of_101_draws_below_and_three_above_each_week():
    """The probability-over-time band is the same 94% interval, week by week."""
    draws = spread_draws()
    curve = document_of(draws, dt.date(2024, 4, 2))["curve"]
    days = draws.censor_day + CURVE_STEP_DAYS * np.arange(len(curve))
    by_draw = np.sort(predict.confirmed_by(draws, days), axis=0)  # (draw, week)
    assert len(curve) == CURVE_DAYS // CURVE_STEP_DAYS + 1
    assert np.all(by_draw[3, 1:] < by_draw[97, 1:])
    band = np.array([point["interval"] for point in curve])
    np.testing.assert_allclose(band, np.column_stack([by_draw[3], by_draw[97]]), atol=1e-12)
