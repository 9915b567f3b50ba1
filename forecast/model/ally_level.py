"""The per-ally block: whether each ally endorses the candidate (cure fraction) and when.

    logit(pi_i) = intercept + in_bloc_i . bloc_effect + b_spend * spending_z_i
                  + b_griev * grievance_i + b_rival * rival_i + b_obj * objection_i
    location_i  = tau0 + in_bloc_i . bloc_delay + d_griev * grievance_i
                  + d_rival * rival_i + d_obj * objection_i
    T_i | endorses ~ LogNormal(location_i, timing_shape) or Weibull(timing_shape, e^location_i)

Bloc effects are partially pooled (non-centred, fixed between-bloc sds). Allies still
undecided at the cut-off are right-censored there (``forecast.model.likelihood``). The
formal decision follows the last consent after ``decision_lag`` days (prior only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.data.inputs import ModelInputs
from forecast.model import likelihood

# The per-ally block's ``pm.Data``: everything evidence can change.
DATA: tuple[str, ...] = (
    "in_bloc",
    "spending_z",
    "grievance",
    "rival",
    "objection",
    "member",
    "event",
    "reliability",
    "censor_day",
    "endorsement_day",
    "wave",
)


def data_values(inputs: ModelInputs) -> dict[str, np.ndarray]:
    """The per-ally block's ``pm.Data`` contents at a cut-off (keys ``DATA``)."""
    frame = inputs.frame
    event = frame["event"].to_numpy(float)
    return {
        "in_bloc": inputs.blocs.to_numpy(float),
        "spending_z": frame["spending_z"].to_numpy(float),
        "grievance": frame["grievance"].to_numpy(float),
        "rival": frame["rival"].to_numpy(float),
        "objection": frame["objection"].to_numpy(float),
        "member": frame["member"].to_numpy(float),
        "event": event,
        "reliability": frame["reliability"].to_numpy(float),
        "censor_day": frame["censor_day"].to_numpy(float),
        "wave": frame["wave"].to_numpy(float),
        # Undecided allies carry their censoring day as a placeholder observation.
        "endorsement_day": np.where(
            event > 0, frame["event_day"].to_numpy(float), frame["censor_day"].to_numpy(float)
        ),
    }


def ally_model(
    cfg: Mapping[str, Any], values: Mapping[str, np.ndarray], coords: Mapping[str, Any]
) -> pm.Model:
    """The per-ally block on ``values`` (``data_values``), with ``ally`` and ``bloc`` coords.

    Parameters
    ----------
    cfg
        The model config (``ConfirmationModel.config``): priors and the timing form.
    values
        The ``pm.Data`` contents, keys ``DATA``.
    coords
        ``{"ally": codes, "bloc": blocs}``.
    """
    timing = cfg["timing"]
    with pm.Model(coords=coords) as model:
        data = {
            name: pm.Data(
                name, values[name], dims=("ally", "bloc") if name == "in_bloc" else "ally"
            )
            for name in DATA
        }
        add_ally_level(cfg, data, timing)
    return model


def add_ally_level(cfg: Mapping[str, Any], data: Mapping[str, Any], timing: str) -> None:
    """Add the per-ally priors and likelihood to the model on the context stack.

    ``data`` holds the block's ``pm.Data`` (keys ``DATA``); reasons for each prior's scale
    are in ``forecast.model.config`` and docs/model.md.
    """
    p_endorse = _whether(cfg, data)
    location, shape = _when(cfg, data, timing)
    pm.Gamma("decision_lag", mu=cfg["decision_lag_mu_days"], sigma=cfg["decision_lag_sd_days"])
    pm.CustomDist(
        "endorsement",
        p_endorse,
        location,
        shape,
        data["event"],
        data["reliability"],
        data["censor_day"],
        data["member"],
        data["wave"],
        cfg["endorsement_window_days"],
        logp=likelihood.endorsement_logp(timing),
        random=likelihood.endorsement_random(timing),
        observed=data["endorsement_day"],
        dims="ally",
    )


def _whether(cfg: Mapping[str, Any], data: Mapping[str, Any]):
    """``p_endorse``: each ally's chance of endorsing in the end."""
    intercept = pm.Normal("intercept", cfg["intercept_mu"], cfg["intercept_sd"])
    # The between-bloc sd is fixed: with four blocs the data can hardly pin it down,
    # and a learned sd's funnel was where the sampler diverged (docs/model.md).
    bloc_z = pm.Normal("bloc_z", 0.0, 1.0, dims="bloc")
    bloc_effect = pm.Deterministic("bloc_effect", cfg["bloc_scale"] * bloc_z, dims="bloc")
    b_spend = pm.Normal("b_spend", 0.0, cfg["spend_prior_sd"])
    b_griev = pm.Normal("b_griev", cfg["griev_prior_mu"], cfg["griev_prior_sd"])
    b_rival = pm.Normal("b_rival", cfg["rival_prior_mu"], cfg["rival_prior_sd"])
    b_obj = pm.Normal("b_obj", cfg["objection_prior_mu"], cfg["objection_prior_sd"])
    logit_p = (
        intercept
        + pt.dot(data["in_bloc"], bloc_effect)
        + b_spend * data["spending_z"]
        + b_griev * data["grievance"]
        + b_rival * data["rival"]
        + b_obj * data["objection"]
    )
    return pm.Deterministic("p_endorse", pm.math.sigmoid(logit_p), dims="ally")


def _when(cfg: Mapping[str, Any], data: Mapping[str, Any], timing: str):
    """The log-scale ``location`` of each ally's endorsement day and the ``timing_shape``."""
    tau0 = pm.Normal("tau0", np.log(cfg["tau0_mu_days"]), cfg["tau0_sd"])
    d_griev = pm.Normal("d_griev", cfg["delay_griev_mu"], cfg["delay_griev_sd"])
    d_rival = pm.Normal("d_rival", cfg["delay_rival_mu"], cfg["delay_rival_sd"])
    d_obj = pm.Normal("d_obj", cfg["delay_objection_mu"], cfg["delay_objection_sd"])
    # Blocs also shift timing (partially pooled, non-centred, fixed sd): a bloc that
    # holds out together may be late rather than opposed.
    bloc_delay_z = pm.Normal("bloc_delay_z", 0.0, 1.0, dims="bloc")
    bloc_delay = pm.Deterministic("bloc_delay", cfg["bloc_delay_scale"] * bloc_delay_z, dims="bloc")
    location = pm.Deterministic(
        "location",
        tau0
        + pt.dot(data["in_bloc"], bloc_delay)
        + d_griev * data["grievance"]
        + d_rival * data["rival"]
        + d_obj * data["objection"],
        dims="ally",
    )
    if timing == "lognormal":
        shape = pm.Gamma(
            "timing_shape", mu=cfg["lognormal_sigma_mu"], sigma=cfg["lognormal_sigma_sd"]
        )
    else:
        shape = pm.Gamma("timing_shape", mu=cfg["weibull_k_mu"], sigma=cfg["weibull_k_sd"])
    return location, shape
