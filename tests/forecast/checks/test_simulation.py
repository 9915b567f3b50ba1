"""Records simulated from the model's own graph (``pm.do``) follow the generative model,
checked against its probabilities worked out independently with scipy."""

import numpy as np
import pytest
from scipy import special, stats

from forecast.checks.ally_recovery import default_truth, simulate_records
from forecast.model.config import DEFAULT_MODEL_CONFIG

N_ALLIES = 6000
N_BLOCS = 3
AS_OF_DAY = 180
EARLY_DAY = 90


@pytest.fixture(scope="module")
def simulated():
    truth = default_truth(None, N_BLOCS)
    truth["bloc_effect"] = np.array([1.5, -2.0, 0.0])
    truth["bloc_delay"] = np.array([-0.4, 0.0, 0.5])
    inputs = simulate_records(None, truth, N_ALLIES, N_BLOCS, AS_OF_DAY, np.random.default_rng(11))
    return truth, inputs


def _reported_by(truth, inputs, last_day: float) -> np.ndarray:
    """P(ally i endorses and its report, within the window after the decision, falls
    before ``last_day``): pi_i * E_U[F_i(last_day - U)], U uniform on the window."""
    frame, in_bloc = inputs.frame, inputs.blocs.to_numpy(float)
    logit = (
        truth["intercept"]
        + in_bloc @ truth["bloc_effect"]
        + truth["b_spend"] * frame["spending_z"].to_numpy()
        + truth["b_griev"] * frame["grievance"].to_numpy()
    )
    location = truth["tau0"] + in_bloc @ truth["bloc_delay"] + truth["d_griev"] * frame["grievance"]
    window = DEFAULT_MODEL_CONFIG["endorsement_window_days"]
    lags = (np.arange(400) + 0.5) / 400 * window
    days = last_day - lags[None, :]
    cdf = stats.lognorm.cdf(
        days, s=truth["timing_shape"], scale=np.exp(location.to_numpy())[:, None]
    )
    return special.expit(logit) * cdf.mean(axis=1)


def _within_four_sd(observed: float, p: np.ndarray) -> None:
    sd = np.sqrt(np.sum(p * (1 - p)))
    assert abs(observed - p.sum()) < 4 * sd, (observed, p.sum(), sd)


def test_simulated_endorsements_seen_by_the_cut_off_match_the_generative_model(simulated):
    truth, inputs = simulated
    # Reported on or before the cut-off day (the end of day AS_OF_DAY).
    _within_four_sd(inputs.frame["event"].sum(), _reported_by(truth, inputs, AS_OF_DAY))


def test_simulated_report_days_match_the_generative_model(simulated):
    truth, inputs = simulated
    frame = inputs.frame
    early = ((frame["event"] > 0) & (frame["event_day"] <= EARLY_DAY + 0.5)).sum()
    # A report is dated to its day: dated on or before EARLY_DAY means made before
    # EARLY_DAY + 1.
    _within_four_sd(early, _reported_by(truth, inputs, EARLY_DAY + 1))


def test_each_bloc_s_simulated_endorsements_match_its_effect_and_delay(simulated):
    """Per bloc, among allies in that bloc alone: its shifts reached the graph at their
    scale (the graph's non-centred z-scores times the fixed between-bloc sds)."""
    truth, inputs = simulated
    in_bloc = inputs.blocs.to_numpy(bool)
    alone = in_bloc.sum(axis=1) == 1
    expected = _reported_by(truth, inputs, AS_OF_DAY)
    for b in range(N_BLOCS):
        rows = alone & in_bloc[:, b]
        _within_four_sd(inputs.frame["event"][rows].sum(), expected[rows])
