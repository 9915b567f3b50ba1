"""Each ally's own decision per draw (``forecast.posterior.own``): reports and what-ifs."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.posterior import predict
from forecast.posterior.own import own_endorsed_by
from tests.draws import CUT_OFF, make_draws
from tests.forecast.posterior.test_consensus_predict import two_allies


def test_a_fully_reliable_report_counts_where_the_timing_curve_gives_it_no_chance():
    # BB's own timing puts its endorsement near day 400 with sd 2% in log days: F(100)
    # underflows to 0, yet a report of reliability 1 means BB has endorsed.
    draws = two_allies(
        location=np.log(np.array([[160.0, 400.0]] * 3)),
        shape=np.full(3, 0.02),
        reliability=np.array([1.0, 1.0]),
        status=("undecided", "endorsed"),
    )
    after = np.full(draws.n_draws, CUT_OFF + 10.0)
    assert np.all(own_endorsed_by(draws, after)[:, 1] == 1.0)
    assert np.all(predict.endorse_ever(draws)[:, 1] == 1.0)


def test_an_unknown_ally_in_assume_is_refused_with_the_valid_codes():
    draws = make_draws(
        timing="weibull",
        codes=("AA",),
        p_endorse=np.full((1, 1), 0.5),
        location=np.full((1, 1), 5.0),
        shape=np.ones(1),
        decision_lag=np.zeros(1),
        member=np.ones(1),
        status=("undecided",),
        event=np.zeros(1),
        event_day=np.ones(1),
        reliability=np.ones(1),
        censor_day=10.0,
        p_success=np.full(1, 0.5),
        endgame_location=np.full(1, np.log(45.0)),
        endgame_shape=np.ones(1),
        emerged_offset=5.0,
    )
    with pytest.raises(KeyError, match="valid: AA"):
        predict.confirmed_by(draws, 20.0, {"ZZ": "endorsed"})
