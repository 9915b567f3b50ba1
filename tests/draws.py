"""Posterior draws built by hand from small arrays, for tests of the numpy posterior maths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from forecast.posterior.draws import PosteriorDraws

START = dt.date(2023, 10, 26)
CUT_OFF = 120.0


def make_draws(**overrides: Any) -> PosteriorDraws:
    """``PosteriorDraws`` of two members and three draws, with any field overridden.

    By default AA is silent and BB was reported (reliability 0.8) on day 100; the
    front-runner emerged on day 100, 20 days before the cut-off (day 120), and the
    endgame's median is 30-70 days after emergence. ``as_of`` follows ``censor_day``
    unless it is given. Arrays have shape (draw,) or (draw, ally): override them together
    when the number of draws or allies changes.
    """
    fields: dict[str, Any] = dict(
        timing="lognormal",
        codes=("AA", "BB"),
        p_endorse=np.array([[0.7, 0.9], [0.85, 0.6], [0.95, 0.8]]),
        location=np.log(np.array([[160.0, 140.0], [200.0, 130.0], [150.0, 220.0]])),
        shape=np.array([0.5, 0.8, 0.35]),
        decision_lag=np.array([3.0, 8.0, 0.0]),
        member=np.ones(2),
        status=("undecided", "undecided"),
        event=np.array([0.0, 1.0]),
        event_day=np.array([1.0, 100.0]),
        reliability=np.array([1.0, 0.8]),
        censor_day=CUT_OFF,
        campaign_start=START,
        p_success=np.array([0.6, 0.3, 0.8]),
        endgame_location=np.log(np.array([45.0, 30.0, 70.0])),
        endgame_shape=np.array([0.9, 0.6, 1.2]),
        emerged_offset=100.0,
        withdrawn=False,
    )
    fields.update(overrides)
    if "as_of" not in fields:
        days = int(fields["censor_day"]) - 1
        fields["as_of"] = fields["campaign_start"] + dt.timedelta(days=days)
    return PosteriorDraws(**fields)
