"""A stand-in forecaster: the real run, gate, document and storage on known draws, unsampled."""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from forecast.data.inputs import ModelInputs, holding_out
from forecast.model.campaign_level import ENDGAME_COVARIATES
from forecast.model.confirmation import ConfirmationModel
from forecast.pipeline.fit import Forecaster
from forecast.posterior import endgame

# The name the stand-in's fits give as their sampler (in the diagnostics it publishes).
SAMPLER = "known-draws"

# The known posterior, per draw independent (so R-hat is about 1 and ESS about the number
# of draws): each parameter's centre and spread on the scale it is drawn on. Endorsement
# probabilities fall from 0.95 for the first ally to 0.6 for the last, so that the allies'
# numbers differ; timing and the endgame are in days as the synthetic question's campaign
# (started 2023-10-26, front-runner emerged 2024-02-21) makes plausible.
P_ENDORSE = (0.95, 0.6)  # the first and last ally's mean; Beta with concentration 40
P_ENDORSE_CONCENTRATION = 40.0
LOCATION_DAYS, LOCATION_SD = 150.0, 0.1  # median endorsement day (log-normal timing)
TIMING_SHAPE, TIMING_SHAPE_SD = 0.5, 0.05
DECISION_LAG_DAYS, DECISION_LAG_SD = 5.0, 0.2
P_SUCCESS, P_SUCCESS_CONCENTRATION = 0.85, 40.0
ENDGAME_BASE_DAYS, ENDGAME_BASE_SD = 30.0, 0.15
ENDGAME_SHAPE, ENDGAME_SHAPE_SD = 0.8, 0.05
ENDGAME_COEF, ENDGAME_COEF_SD = (0.4, 0.3, -0.5), 0.05  # ENDGAME_COVARIATES order
FOCAL_BASE, FOCAL_BASE_SD = -1.0, 0.2
FOCAL_HOLDOUTS, FOCAL_HOLDOUTS_SD = 0.3, 0.05
# What the stand-in draws, as the gate checks the real model's sampled parameters.
PARAMETERS = (
    "p_endorse",
    "location",
    "timing_shape",
    "decision_lag",
    "p_success",
    "endgame_base",
    "endgame_shape",
    "endgame_coef",
    "focal_base",
    "focal_holdouts",
)


def known_posterior(inputs: ModelInputs, chains: int, draws: int, seed: int) -> xr.Dataset:
    """The stand-in's posterior at ``inputs``: the same ``seed`` gives the same draws.

    The endgame's location, P(a fixed date binds) and clock are derived from the drawn
    base and coefficients at the holdouts left at the cut-off, as the campaign level
    defines them, so that a what-if that changes the holdouts recomputes them consistently.
    """
    rng = np.random.default_rng(seed)
    n_ally = len(inputs.frame)
    size = (chains, draws)

    def lognormal(centre: float, sd: float, shape: tuple[int, ...] = size) -> np.ndarray:
        return np.exp(rng.normal(np.log(centre), sd, shape))

    def beta(mean: np.ndarray | float, concentration: float, shape: tuple[int, ...]) -> np.ndarray:
        return rng.beta(mean * concentration, (1 - mean) * concentration, shape)

    means = np.linspace(*P_ENDORSE, n_ally)
    base = rng.normal(np.log(ENDGAME_BASE_DAYS), ENDGAME_BASE_SD, size)
    coef = rng.normal(ENDGAME_COEF, ENDGAME_COEF_SD, (*size, len(ENDGAME_COVARIATES)))
    focal_base = rng.normal(FOCAL_BASE, FOCAL_BASE_SD, size)
    focal_holdouts = rng.normal(FOCAL_HOLDOUTS, FOCAL_HOLDOUTS_SD, size)
    holdouts = int((holding_out(inputs.frame) > 0).sum())
    z = endgame.covariates(holdouts, inputs.campaign.rival)
    location = base + coef @ z
    # The clock at the cut-off: each stretch of the campaign's path since emergence at the
    # speed its holdouts and rival gave the clock.
    clock = sum(
        days * np.exp(-(coef @ endgame.covariates(held, rival)))
        for days, held, rival in inputs.campaign.path
    )
    ally = ("chain", "draw", "ally")
    scalar = ("chain", "draw")
    return xr.Dataset(
        {
            "p_endorse": (ally, beta(means, P_ENDORSE_CONCENTRATION, (*size, n_ally))),
            "location": (ally, np.log(lognormal(LOCATION_DAYS, LOCATION_SD, (*size, n_ally)))),
            "timing_shape": (scalar, lognormal(TIMING_SHAPE, TIMING_SHAPE_SD)),
            "decision_lag": (scalar, lognormal(DECISION_LAG_DAYS, DECISION_LAG_SD)),
            "p_success": (scalar, beta(P_SUCCESS, P_SUCCESS_CONCENTRATION, size)),
            "endgame_base": (scalar, base),
            "endgame_shape": (scalar, lognormal(ENDGAME_SHAPE, ENDGAME_SHAPE_SD)),
            "endgame_coef": (("chain", "draw", "campaign_covariate"), coef),
            "focal_base": (scalar, focal_base),
            "focal_holdouts": (scalar, focal_holdouts),
            "endgame_location": (scalar, location),
            "endgame_focal": (scalar, 1 / (1 + np.exp(-(focal_base + focal_holdouts * z[0])))),
            "endgame_clock": (scalar, np.broadcast_to(clock, size)),
        },
        coords={
            "chain": np.arange(chains),
            "draw": np.arange(draws),
            "ally": list(inputs.frame.index),
            "campaign_covariate": list(ENDGAME_COVARIATES),
        },
    )


class KnownDrawsModel(ConfirmationModel):
    """The confirmation model with its sampling replaced by ``known_posterior``.

    Nothing is built or compiled: a fit takes no time. The sampler settings still say
    how many chains and draws a fit has (a refit's longer chains included).
    """

    def compile(self) -> None:
        """Nothing to compile for known draws."""

    @property
    def parameter_names(self) -> list[str]:
        return list(PARAMETERS)

    def fit(
        self,
        inputs: ModelInputs | None = None,
        *,
        random_seed: int,
        sampler: str | None = None,
        sampler_overrides: dict[str, Any] | None = None,
    ) -> az.InferenceData:
        """Known draws at ``inputs`` (or the current cut-off) in place of a sampled fit."""
        if self.timing != "lognormal":
            raise ValueError(f"the stand-in draws log-normal timing only, not {self.timing!r}")
        if inputs is not None:
            self.set_inputs(inputs)
        cfg = {**self.sampler_config, **(sampler_overrides or {})}
        self.fit_sampler_config = {**cfg, "sampler": SAMPLER}
        self.sample_seconds = 0.0
        self.campaign_reused = False
        posterior = known_posterior(self.inputs, cfg["chains"], cfg["draws"], random_seed)
        diverging = np.zeros((cfg["chains"], cfg["draws"]), dtype=bool)
        idata = az.InferenceData(
            posterior=posterior,
            sample_stats=xr.Dataset(
                {"diverging": (("chain", "draw"), diverging)},
                coords={k: posterior.coords[k] for k in ("chain", "draw")},
            ),
        )
        idata.attrs.update(self._attrs(random_seed))
        self.idata = idata
        return idata


class StandInForecaster(Forecaster):
    """A ``Forecaster`` whose runs publish known draws: ``run`` diagnoses, gates,
    summarises and stores them exactly as a sampled fit's (a gate the draws miss fails
    the run with the gate's reason)."""

    model_class = KnownDrawsModel
