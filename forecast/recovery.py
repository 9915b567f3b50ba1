"""Parameter recovery: fit the model to data simulated from it and check the intervals cover."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecast import timing
from forecast.frame import FRAME_COLUMNS, ModelInputs, SpendingScale
from forecast.model import ConfirmationModel
from forecast.predict import INTERVAL_PROB

logger = logging.getLogger(__name__)

# The parameters whose recovery is checked: those the simulated design informs. The rival
# and objection effects need covariates that are rare (all zero here), and the decision lag
# is prior-only (no term of the likelihood), so none of those can be recovered.
CHECKED: tuple[str, ...] = ("intercept", "b_spend", "b_griev", "tau0", "d_griev", "timing_shape")
SCALAR_PARAMS: tuple[str, ...] = (
    "intercept",
    "b_spend",
    "b_griev",
    "b_rival",
    "b_obj",
    "tau0",
    "d_griev",
    "d_rival",
    "d_obj",
    "timing_shape",
)
BLOC_PARAMS: tuple[str, ...] = ("bloc_effect", "bloc_delay")
# Simulated design: open grievance severity 0-3 with these shares (most allies have none),
# and each ally in each bloc with this probability.
GRIEVANCE_SHARES: tuple[float, ...] = (0.5, 0.2, 0.2, 0.1)
BLOC_SHARE = 0.3
SIMULATED_START = dt.date(2023, 10, 26)
# Sampler settings for recovery fits: enough draws for stable 94% intervals, fewer than a
# published forecast needs (no gate is applied here).
RECOVERY_SAMPLER_CONFIG: dict[str, Any] = {"chains": 2, "tune": 500, "draws": 500}


def prior_means(model_config: Mapping[str, Any] | None, n_blocs: int) -> dict[str, Any]:
    """The prior mean of every parameter the simulation uses (bloc shifts: zero).

    Parameters
    ----------
    model_config
        Overrides of ``ConfirmationModel.default_model_config``.
    n_blocs
        Number of blocs (length of ``bloc_effect`` and ``bloc_delay``).

    Returns
    -------
    dict
        Parameter name to value; ``tau0`` on the log-day scale.
    """
    cfg = {**ConfirmationModel.default_model_config, **(model_config or {})}
    shape_key = "lognormal_sigma_mu" if cfg["timing"] == "lognormal" else "weibull_k_mu"
    return {
        "intercept": cfg["intercept_mu"],
        "b_spend": 0.0,
        "b_griev": cfg["griev_prior_mu"],
        "b_rival": cfg["rival_prior_mu"],
        "b_obj": cfg["objection_prior_mu"],
        "tau0": float(np.log(cfg["tau0_mu_days"])),
        "d_griev": cfg["delay_griev_mu"],
        "d_rival": cfg["delay_rival_mu"],
        "d_obj": cfg["delay_objection_mu"],
        "timing_shape": cfg[shape_key],
        "bloc_effect": np.zeros(n_blocs),
        "bloc_delay": np.zeros(n_blocs),
    }


def simulate_records(
    model_config: Mapping[str, Any] | None,
    true_params: Mapping[str, Any],
    n_allies: int,
    n_blocs: int,
    as_of_day: int,
    rng: np.random.Generator,
) -> ModelInputs:
    """Simulate one cut-off's records from the model's generative process.

    Each ally gets a standardised spending figure, an open grievance severity (0-3) and
    random bloc memberships; it endorses eventually with probability ``pi`` (cure
    fraction) and, if it does, on a day drawn from the timing distribution. Endorsements
    after the cut-off are unseen (right-censored there). Every ally is a member, every
    report has reliability 1, and there are no rival candidacies or objections.

    Parameters
    ----------
    model_config
        Overrides of ``ConfirmationModel.default_model_config`` (the timing form).
    true_params
        Parameter values to simulate from, by model name (``intercept``, ``b_spend``,
        ``b_griev``, ``tau0`` (log days), ``d_griev``, ``timing_shape``, ``bloc_effect``
        and ``bloc_delay`` (length ``n_blocs``), ...); missing ones take their prior mean.
    n_allies, n_blocs
        Size of the simulated alliance.
    as_of_day
        The cut-off, in days from the campaign start (the end of that day).
    rng
        Source of randomness.

    Returns
    -------
    ModelInputs
        Allies ``S001``..., blocs ``bloc_1``..., as ``setup_frame`` builds them.

    Raises
    ------
    ValueError
        For an unknown parameter name or a bloc vector of the wrong length.
    """
    params = prior_means(model_config, n_blocs)
    unknown = set(true_params) - set(params)
    if unknown:
        raise ValueError(
            f"unknown parameters {sorted(unknown)}; valid: {', '.join(sorted(params))}"
        )
    params.update(true_params)
    for name in BLOC_PARAMS:
        params[name] = np.asarray(params[name], dtype=float)
        if params[name].shape != (n_blocs,):
            raise ValueError(f"{name} has shape {params[name].shape}, expected ({n_blocs},)")
    form = {**ConfirmationModel.default_model_config, **(model_config or {})}["timing"]

    spending_z = rng.standard_normal(n_allies)
    grievance = rng.choice(len(GRIEVANCE_SHARES), size=n_allies, p=GRIEVANCE_SHARES).astype(float)
    in_bloc = (rng.uniform(size=(n_allies, n_blocs)) < BLOC_SHARE).astype(float)
    logit_p = (
        params["intercept"]
        + in_bloc @ params["bloc_effect"]
        + params["b_spend"] * spending_z
        + params["b_griev"] * grievance
    )
    p_endorse = 1.0 / (1.0 + np.exp(-logit_p))
    location = params["tau0"] + in_bloc @ params["bloc_delay"] + params["d_griev"] * grievance
    endorses = rng.uniform(size=n_allies) < p_endorse
    day = timing.sample(form, location, np.full(n_allies, params["timing_shape"]), rng)
    censor_day = float(as_of_day)
    event = endorses & (day <= censor_day)
    # Dated to the day as the frame dates a report (mid-day); day 1 is the sponsor's.
    event_day = np.where(event, np.maximum(np.floor(day) + 0.5, 1.5), 1.0)

    codes = pd.Index([f"S{i + 1:03d}" for i in range(n_allies)], name="code")
    frame = pd.DataFrame(
        {
            "member": 1.0,
            "status": np.where(event, "endorsed", "undecided"),
            "spending_z": spending_z,
            "spending_imputed": 0.0,
            "grievance": grievance,
            "rival": 0.0,
            "objection": 0.0,
            "event": event.astype(float),
            "event_day": event_day,
            "reliability": 1.0,
            "censor_day": censor_day,
        },
        index=codes,
    )[list(FRAME_COLUMNS)]
    blocs = pd.DataFrame(
        in_bloc, index=codes, columns=pd.Index([f"bloc_{b + 1}" for b in range(n_blocs)], name="bloc")
    )
    return ModelInputs(
        as_of=SIMULATED_START + dt.timedelta(days=int(as_of_day) - 1),
        campaign_start=SIMULATED_START,
        frame=frame,
        blocs=blocs,
        spending_scale=SpendingScale(0.0, 1.0),
        evidence_ids=(),
    )


def run_recovery(
    seeds: Sequence[int],
    n_allies: int = 120,
    sampler_config: Mapping[str, Any] | None = None,
    *,
    n_blocs: int = 3,
    as_of_day: int = 180,
    model_config: Mapping[str, Any] | None = None,
    true_params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Simulate a dataset per seed, fit the model to it and compare with the truth.

    The model is built and compiled once for the simulated shape and refitted with each
    seed's data.

    Parameters
    ----------
    seeds
        One simulated dataset (and sampler seed) per entry.
    n_allies, n_blocs
        Size of the simulated alliance.
    sampler_config
        Overrides of ``RECOVERY_SAMPLER_CONFIG`` (itself over the model's defaults).
    as_of_day
        The simulated cut-off, in days from the campaign start.
    model_config
        Overrides of the model's priors and timing form (used to simulate and to fit).
    true_params
        Values to simulate from (see ``simulate_records``); by default the prior means.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, parameter) of ``CHECKED``: ``seed``, ``parameter``, ``true``,
        ``mean``, ``lower`` and ``upper`` (the 94% equal-tailed interval), ``covered``
        (bool), ``r_hat`` and the fit's ``divergences``.
    """
    model: ConfirmationModel | None = None
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        truth = {**prior_means(model_config, n_blocs), **(true_params or {})}
        inputs = simulate_records(model_config, truth, n_allies, n_blocs, as_of_day, rng)
        if model is None:
            model = ConfirmationModel(
                inputs,
                model_config=dict(model_config or {}),
                sampler_config={**RECOVERY_SAMPLER_CONFIG, **(sampler_config or {})},
            )
        idata = model.fit(inputs, random_seed=seed)
        rows.extend(_compare(idata, truth, seed))
        logger.info("recovery seed %s: %d events of %d", seed, inputs.frame.event.sum(), n_allies)
    return pd.DataFrame(rows)


def _compare(idata, truth: Mapping[str, Any], seed: int) -> list[dict[str, Any]]:
    import arviz as az

    tail = (1.0 - INTERVAL_PROB) / 2.0
    divergences = int(idata.sample_stats["diverging"].sum())
    r_hat = az.rhat(idata.posterior[list(CHECKED)])
    rows = []
    for name in CHECKED:
        values = idata.posterior[name].values.reshape(-1)
        lower, upper = np.quantile(values, [tail, 1.0 - tail])
        true = float(truth[name])
        rows.append(
            {
                "seed": seed,
                "parameter": name,
                "true": true,
                "mean": float(values.mean()),
                "lower": float(lower),
                "upper": float(upper),
                "covered": bool(lower <= true <= upper),
                "r_hat": float(r_hat[name]),
                "divergences": divergences,
            }
        )
    return rows
