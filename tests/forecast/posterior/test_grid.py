"""The endgame's grid of days, kept by what it is made of (``forecast.posterior.grid``)."""

from __future__ import annotations

import numpy as np

from forecast.posterior import grid, predict
from tests.draws import CUT_OFF
from tests.forecast.posterior.test_consensus_predict import DEADLINES, FOCAL_POINTS, two_allies


def test_draws_sharing_the_campaign_levels_draws_share_one_endgame_grid(monkeypatch):
    calls = []
    quantile = grid.endgame.quantile

    def counted(*args, **kwargs):
        calls.append(1)
        return quantile(*args, **kwargs)

    monkeypatch.setattr(grid.endgame, "quantile", counted)
    grid._ENDGAME_DAYS.clear()
    deadlines = np.array(DEADLINES)
    predict.confirmed_by(two_allies(**FOCAL_POINTS), deadlines)
    assert len(calls) == 1
    # Another fit of the per-ally block beside the same campaign-level draws (a rerun that
    # reused the campaign level): its grid of endgame days is the one already computed.
    other_allies = {"p_endorse": np.array([[0.5, 0.9], [0.7, 0.6], [0.9, 0.4]])}
    reused = predict.confirmed_by(two_allies(**FOCAL_POINTS, **other_allies), deadlines)
    assert len(calls) == 1
    grid._ENDGAME_DAYS.clear()
    fresh = predict.confirmed_by(two_allies(**FOCAL_POINTS, **other_allies), deadlines)
    assert len(calls) == 2
    np.testing.assert_array_equal(reused, fresh)
    # Another cut-off, or other endgame draws, is another grid.
    predict.confirmed_by(two_allies(**FOCAL_POINTS, censor_day=CUT_OFF + 5.0), deadlines)
    shifted = {"endgame_location": np.log(np.array([46.0, 30.0, 70.0]))}
    predict.confirmed_by(two_allies(**FOCAL_POINTS, **shifted), deadlines)
    assert len(calls) == 4
