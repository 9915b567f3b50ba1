"""The per-ally likelihood, term by term, against scipy's distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.model.likelihood import endorsement_logp

WINDOW = 7.0
CENSOR = 121.0
# One ally per case: undecided; public endorsement (read as a window); a wave's member
# (decided by then); an unconfirmed report (reliability 0.85); the sponsor (day <= 1); a
# non-member; a public endorsement far in the lower tail (day 2 of a median of 150); an
# undecided ally far in the upper tail; a public endorsement in it.
CASES = {
    #                value  event  reliability  member  wave
    "undecided": (CENSOR, 0.0, 1.0, 1.0, 0.0),
    "public": (60.5, 1.0, 1.0, 1.0, 0.0),
    "wave": (117.5, 1.0, 1.0, 1.0, 1.0),
    "unconfirmed": (116.5, 1.0, 0.85, 1.0, 0.0),
    "sponsor": (0.5, 1.0, 1.0, 1.0, 0.0),
    "non_member": (CENSOR, 0.0, 1.0, 0.0, 0.0),
    "early_public": (2.5, 1.0, 1.0, 1.0, 0.0),
    "late_undecided": (CENSOR, 0.0, 1.0, 1.0, 0.0),
    "late_public": (118.5, 1.0, 1.0, 1.0, 0.0),
}
P_ENDORSE = np.array([0.9, 0.8, 0.95, 0.7, 0.99, 0.5, 0.8, 0.6, 0.9])
# Log-scale locations: the last two sit far below the days observed (a median of 2 days),
# where CDFs round to 1 and a difference of CDFs would cancel to 0.
LOCATION = np.array([np.log(150.0)] * 7 + [np.log(2.0)] * 2)


def expected(form: str, shape: float) -> np.ndarray:
    """The likelihood written out with scipy (log-scale CDFs and survival functions)."""
    scale = np.exp(LOCATION)
    if form == "lognormal":
        dist = stats.lognorm(s=shape, scale=scale)
        logcdf, logsf = dist.logcdf, dist.logsf
    else:  # scipy's Weibull logsf stops near log(1e-301); the cumulative hazard does not

        def logsf(x):
            return -((x / scale) ** shape)

        def logcdf(x):
            return np.log(-np.expm1(logsf(x)))

    value, event, reliability, member, wave = np.array(list(CASES.values())).T
    pi = P_ENDORSE
    log_undecided = np.logaddexp(np.log1p(-pi), np.log(pi) + logsf(CENSOR))
    end = value + 0.5
    start = np.maximum(end - WINDOW, 0.5)
    # P(start < T <= end) as a difference of CDFs in the lower tail and of survival
    # functions in the upper tail, whichever is the smaller at the start (the other
    # cancels; the sponsor's row, whose interval is never used, may give log 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        from_cdf = logcdf(end) + np.log1p(-np.exp(logcdf(start) - logcdf(end)))
        from_sf = logsf(start) + np.log1p(-np.exp(logsf(end) - logsf(start)))
    log_public = np.where(logcdf(start) < logsf(start), from_cdf, from_sf)
    by_then = (reliability < 1) | (wave > 0)
    log_timing = np.where(by_then, logcdf(value), log_public)
    log_endorsed = np.log(pi) + np.where(value <= 1.0, 0.0, log_timing)
    with np.errstate(divide="ignore"):  # log(1 - r) = -inf for public endorsements
        log_reported = np.logaddexp(
            np.log(reliability) + log_endorsed, np.log(1 - reliability) + log_undecided
        )
    return member * np.where(event > 0, log_reported, log_undecided)


@pytest.mark.parametrize(("form", "shape"), [("lognormal", 0.45), ("weibull", 2.0)])
def test_each_case_equals_the_likelihood_written_with_scipy(form, shape):
    value, event, reliability, member, wave = np.array(list(CASES.values())).T
    logp = endorsement_logp(form)(
        value,
        P_ENDORSE,
        LOCATION,
        np.float64(shape),
        event,
        reliability,
        np.full(len(CASES), CENSOR),
        member,
        wave,
        WINDOW,
    ).eval()
    want = expected(form, shape)
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(logp, want, rtol=1e-9, atol=1e-12)
    # In the tails a difference of CDFs (or of survival functions) cancels to 0 (log
    # -inf); the likelihood does not.
    for case, rounds in (("late_public", "cdf"), ("early_public", "sf")):
        i = list(CASES).index(case)
        if form == "lognormal":
            assert logp[i] < -30
            dist = stats.lognorm(s=shape, scale=np.exp(LOCATION[i]))
            end = CASES[case][0] + 0.5
            start = max(end - WINDOW, 0.5)
            probability = getattr(dist, rounds)
            assert probability(end) - probability(start) == 0.0
