"""A fit's posterior as the numpy draws the service reads, and what they carry."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from forecast.data.inputs import setup_frame, spending_scale
from forecast.model.campaign_level import ENDGAME_COVARIATES
from forecast.pipeline.fit import draws_from_idata
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from tests.conftest import SYNTHETIC_AS_OF

PER_DRAW = (
    "timing_shape",
    "decision_lag",
    "p_success",
    "endgame_location",
    "endgame_shape",
    "endgame_focal",
    "endgame_base",
    "focal_base",
    "focal_holdouts",
    "endgame_clock",
)


def posterior(n_allies: int, chains: int = 2, draws: int = 3) -> az.InferenceData:
    """A posterior of the fitted model's variables with made-up values (no sampling)."""
    rng = np.random.default_rng(0)
    values = {name: rng.uniform(0.2, 0.8, (chains, draws)) for name in PER_DRAW}
    values["p_endorse"] = rng.uniform(0.2, 0.8, (chains, draws, n_allies))
    values["location"] = rng.uniform(4.0, 6.0, (chains, draws, n_allies))
    values["endgame_coef"] = rng.normal(size=(chains, draws, len(ENDGAME_COVARIATES)))
    return az.from_dict(posterior=values)


@pytest.mark.parametrize(
    ("model_config", "window"),
    [(None, (7.0, 3.0)), ({"focal_lead_days": 5.0, "focal_tail_days": 1.0}, (5.0, 1.0))],
    ids=["defaults", "configured"],
)
def test_saved_draws_carry_the_focal_window_the_fit_was_configured_with(
    synthetic_dataset, tmp_path, model_config, window
):
    """The week before a fixed date and three days from it by default (docs/model.md),
    or the configured window: a what-if on the stored draws uses the fit's own window."""
    inputs = setup_frame(
        synthetic_dataset,
        synthetic_dataset.evidence,
        SYNTHETIC_AS_OF,
        spending_scale(synthetic_dataset),
    )
    draws = draws_from_idata(posterior(len(inputs.frame)), inputs, "lognormal", model_config)
    stored = PosteriorDraws.load(draws.save(tmp_path / DRAWS_FILE))
    assert stored.focal_window == window
    assert stored.n_draws == 6
