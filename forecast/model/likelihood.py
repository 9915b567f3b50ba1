"""The per-ally likelihood: one ally's record under the cure-fraction survival model.

PyTensor expressions for ``pm.CustomDist``: the log-density of a record (public
endorsement, unconfirmed support, wave, or still undecided at the cut-off) and the
simulation of endorsement days that prior and posterior predictive checks draw from.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.data.inputs import SPONSOR_DAY
from forecast.posterior import timing

_SQRT_HALF = float(np.sqrt(0.5))


def timing_log_probabilities(form: str, location, shape):
    """``log F(x)``, ``log S(x)`` and ``log P(a < T <= b)`` of the timing distribution,
    with few special-function calls (they set the cost of the sampler's gradient).

    Log-normal: logs of ``erfc``, which keeps its relative precision in both tails to
    about 37 sds from the median (days of 1e-16 to 1e16 times the median here); the
    interval is a difference of CDFs below the median and of survival functions above
    it, so no probability near 1 is subtracted from another. Weibull: exact in the log
    scale through the cumulative hazard.
    """

    def log_scaled(x):
        return pt.log(pt.maximum(x, 1e-12)) - location

    if form == "lognormal":

        def tail(z):  # P(Z > z)
            return 0.5 * pt.erfc(_SQRT_HALF * z)

        def log_cdf(x):
            return pt.log(tail(-log_scaled(x) / shape))

        def log_sf(x):
            return pt.log(tail(log_scaled(x) / shape))

        def log_interval(a, b):
            z_a, z_b = log_scaled(a) / shape, log_scaled(b) / shape
            side = pt.switch(z_a >= 0.0, 1.0, -1.0)  # survival functions above the median
            return pt.log(side * (tail(side * z_a) - tail(side * z_b)))

    else:

        def hazard(x):  # cumulative hazard (x / scale)^k
            return pt.exp(shape * log_scaled(x))

        def log_cdf(x):
            return pt.log(-pt.expm1(-hazard(x)))

        def log_sf(x):
            return -hazard(x)

        def log_interval(a, b):
            h_a = hazard(a)
            return -h_a + pt.log(-pt.expm1(h_a - hazard(b)))

    return log_cdf, log_sf, log_interval


def endorsement_logp(form: str):
    """Log-likelihood of one ally's record under the cure-fraction survival model.

    An endorsement reported with reliability r is true with probability r; if false the
    ally is simply still undecided at the cut-off (right-censored there):
    ``r * pi * f(t) + (1 - r) * [(1 - pi) + pi * S(c)]``. Allies that are not members
    contribute nothing (weight 0).
    """

    def logp(
        value, p_endorse, location, shape, event, reliability, censor_day, member, wave, window
    ):
        log_cdf, log_sf, log_interval = timing_log_probabilities(form, location, shape)
        undecided = pm.math.logaddexp(pt.log1p(-p_endorse), pt.log(p_endorse) + log_sf(censor_day))
        # T is the day an ally decides. A public endorsement (reliability 1) reported on
        # day t was decided within ``window`` days before the end of t (the report follows
        # the decision by a uniform lag): F(t + 1/2) - F(t + 1/2 - window). A point density
        # made many reports on one day an unbounded pull on the timing spread (the
        # sampler's divergences); the interval is bounded. A report of support with
        # reliability below 1 says only that support had been given by that day (the CDF).
        # A wave (many members announcing on one day, forecast.data.inputs.WAVE_SIZE) says
        # only "decided by then" as well. The sponsoring government backs its candidate
        # from day one (day <= 1): that says nothing about how long allies take, so it
        # carries no timing term.
        end = value + 0.5
        public = log_interval(pt.maximum(end - window, 0.5), end)
        by_then = (reliability < 1.0) | (wave > 0)
        timing_term = pt.switch(by_then, log_cdf(value), public)
        endorsed = pt.log(p_endorse) + pt.switch(value <= SPONSOR_DAY, 0.0, timing_term)
        # log(r e^a + (1 - r) e^b) written as a + log(r + (1 - r) e^(b - a)); the clip only
        # keeps the unused branch finite so that its gradient cannot poison the switch.
        gap = pt.clip(undecided - endorsed, -50.0, 50.0)
        reported = endorsed + pt.log(reliability + (1.0 - reliability) * pt.exp(gap))
        return member * pt.switch(event > 0, reported, undecided)

    return logp


def endorsement_random(form: str):
    """Simulate endorsement days (``inf`` for an ally that never endorses)."""

    def random(
        p_endorse, location, shape, event, reliability, censor_day, member, wave, window, rng, size
    ):
        size = size or np.broadcast_shapes(np.shape(p_endorse), np.shape(location))
        days = timing.sample(form, np.broadcast_to(location, size), shape, rng)
        endorses = rng.uniform(size=size) < p_endorse
        return np.where(endorses, days, np.inf)

    return random
