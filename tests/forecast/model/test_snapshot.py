"""The compiled-functions snapshot's key: every constant a model's graphs hold, by value."""

from __future__ import annotations

import numpy as np
import pymc as pm

from forecast.model import snapshot

COEF_MU = (0.5, 0.3, -1.0)


def coefficient_model(mu: tuple[float, ...]) -> pm.Model:
    """Coefficients with a prior mean per covariate, as the endgame's are."""
    with pm.Model() as model:
        pm.Normal("coef", np.array(mu), 0.25, shape=len(mu))
    return model


def weighted_model(weights: np.ndarray) -> pm.Model:
    """A parameter spread over a fixed array of weights compiled into the graph."""
    with pm.Model() as model:
        scale = pm.HalfNormal("scale", 1.0)
        pm.Deterministic("weighted", scale * pm.math.constant(weights))
    return model


def test_priors_differing_in_the_tenth_decimal_get_two_snapshot_keys():
    """A printed graph shows a vector constant to eight digits: only its bytes tell
    these two priors apart."""
    key = snapshot.model_key(coefficient_model(COEF_MU))
    assert snapshot.model_key(coefficient_model(COEF_MU)) == key
    nudged = (COEF_MU[0] + 1e-10, *COEF_MU[1:])
    assert snapshot.model_key(coefficient_model(nudged)) != key


def test_a_constant_changed_in_the_middle_of_a_large_array_gets_another_snapshot_key():
    """A printed graph elides the middle of a long array."""
    weights = np.linspace(0.0, 1.0, 1000)
    key = snapshot.model_key(weighted_model(weights))
    assert snapshot.model_key(weighted_model(weights.copy())) == key
    changed = weights.copy()
    changed[500] += 0.5
    assert snapshot.model_key(weighted_model(changed)) != key
