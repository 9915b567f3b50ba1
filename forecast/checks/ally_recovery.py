"""Parameter recovery: fit the model to data simulated from it and check the intervals cover."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from forecast.data.inputs import (
    FRAME_COLUMNS,
    CampaignState,
    ModelInputs,
    SpendingScale,
    mark_waves,
)
from forecast.data.reference import CAMPAIGN_COVARIATES
from forecast.model import ally_level
from forecast.model.confirmation import ConfirmationModel
from forecast.model.gate import count_divergences
from forecast.posterior.predict import INTERVAL_PROB

logger = logging.getLogger(__name__)

# The parameters whose recovery is checked: those the simulated design informs. The others
# are simulated at their prior means and not checked: the rival and objection effects need
# covariates that are rare (all zero here), the decision lag has no likelihood term (prior
# only), and bloc shifts (zero here) are weakly identified with a handful of blocs.
CHECKED: tuple[str, ...] = ("intercept", "b_spend", "b_griev", "tau0", "d_griev", "timing_shape")
BLOC_PARAMS: tuple[str, ...] = ("bloc_effect", "bloc_delay")
# Simulated design: open grievance severity 0-3 with these shares (most allies have none),
# and each ally in each bloc with this probability.
GRIEVANCE_SHARES: tuple[float, ...] = (0.5, 0.2, 0.2, 0.1)
BLOC_SHARE = 0.3
SIMULATED_START = dt.date(2023, 10, 26)
# Sampler settings for recovery fits: enough draws for stable 94% intervals, fewer than a
# published forecast needs (no gate is applied here).
RECOVERY_SAMPLER_CONFIG: dict[str, Any] = {"chains": 2, "tune": 500, "draws": 500}
# The true values of the checked parameters sit this many prior sds from the prior mean
# (either side), so that an interval covers them because of the data, not because the
# prior is centred on them.
TRUTH_OFFSETS_IN_PRIOR_SD: dict[str, float] = {
    "intercept": -0.5,
    "b_spend": 0.8,
    "b_griev": -0.8,
    "tau0": -0.5,
    "d_griev": 0.75,
    "timing_shape": 0.5,
}
# How a simulated endorsement is dated: on the day the ally decided (the generative
# process itself), or on the cut-off day (as nearly every report in the shipped data is:
# 21-22 February 2024). The model reads a report dated t as "decided by t" (the CDF), which
# is exact for cut-off dating but biases tau0 and the intercept down for decision dating.
DATINGS: tuple[str, ...] = ("decision", "cut_off")


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
    cfg = ConfirmationModel.config(model_config)
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


def prior_sds(model_config: Mapping[str, Any] | None) -> dict[str, float]:
    """The prior sd of every checked parameter."""
    cfg = ConfirmationModel.config(model_config)
    return {
        "intercept": cfg["intercept_sd"],
        "b_spend": cfg["spend_prior_sd"],
        "b_griev": cfg["griev_prior_sd"],
        "tau0": cfg["tau0_sd"],
        "d_griev": cfg["delay_griev_sd"],
        "timing_shape": cfg[
            "lognormal_sigma_sd" if cfg["timing"] == "lognormal" else "weibull_k_sd"
        ],
    }


def default_truth(model_config: Mapping[str, Any] | None, n_blocs: int) -> dict[str, Any]:
    """The values ``run_recovery`` simulates from by default.

    The checked parameters sit ``TRUTH_OFFSETS_IN_PRIOR_SD`` prior sds from their prior
    means; the others (rival and objection effects, bloc shifts) at their prior means.
    """
    sds = prior_sds(model_config)
    truth = prior_means(model_config, n_blocs)
    for name, offset in TRUTH_OFFSETS_IN_PRIOR_SD.items():
        truth[name] = float(truth[name] + offset * sds[name])
    return truth


def simulate_records(
    model_config: Mapping[str, Any] | None,
    true_params: Mapping[str, Any],
    n_allies: int,
    n_blocs: int,
    as_of_day: int,
    rng: np.random.Generator,
    *,
    dating: str = "decision",
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
        The cut-off, in days from the campaign start (the end of that day), >= 2.
    rng
        Source of randomness.
    dating
        ``"decision"``: a report is dated on the day the ally decided; ``"cut_off"``:
        every report is dated on the cut-off day.

    Returns
    -------
    ModelInputs
        Allies ``S001``..., blocs ``bloc_1``..., as ``setup_frame`` builds them.

    Raises
    ------
    ValueError
        For an unknown parameter name or dating, a bloc vector of the wrong length, or a
        cut-off before day 2.
    """
    params = prior_means(model_config, n_blocs)
    unknown = set(true_params) - set(params)
    if unknown:
        raise ValueError(
            f"unknown parameters {sorted(unknown)}; valid: {', '.join(sorted(params))}"
        )
    if dating not in DATINGS:
        raise ValueError(f"dating {dating!r} is not known; valid: {', '.join(DATINGS)}")
    if as_of_day < 2:
        raise ValueError(f"as_of_day {as_of_day} is before day 2 (day 1 is the sponsor's)")
    params.update(true_params)
    for name in BLOC_PARAMS:
        params[name] = np.asarray(params[name], dtype=float)
        if params[name].shape != (n_blocs,):
            raise ValueError(f"{name} has shape {params[name].shape}, expected ({n_blocs},)")

    spending_z = rng.standard_normal(n_allies)
    grievance = rng.choice(len(GRIEVANCE_SHARES), size=n_allies, p=GRIEVANCE_SHARES).astype(float)
    in_bloc = (rng.uniform(size=(n_allies, n_blocs)) < BLOC_SHARE).astype(float)
    cfg = ConfirmationModel.config(model_config)
    day = endorsement_days(cfg, params, spending_z, grievance, in_bloc, rng)
    endorses = np.isfinite(day)
    censor_day = float(as_of_day)
    # A public report follows the decision within the reporting window (uniformly), as
    # the model reads it; reports are dated to the day, at mid-day, as the frame dates
    # them; days up to 1 are the sponsor's, so a report is never dated before day 2.
    window = cfg["endorsement_window_days"]
    report_day = day + rng.uniform(0.0, window, size=n_allies)
    event = endorses & (report_day <= censor_day)
    reported = (
        np.floor(report_day) + 0.5 if dating == "decision" else np.full(n_allies, censor_day - 0.5)
    )
    event_day = np.where(event, np.maximum(reported, 1.5), 1.0)

    columns = {
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
        "wave": 0.0,
    }
    return _simulated_inputs(columns, in_bloc, as_of_day)


def _simulated_inputs(
    columns: Mapping[str, Any], in_bloc: np.ndarray, as_of_day: int
) -> ModelInputs:
    """The input frame of simulated allies ``S001``... in blocs ``bloc_1``..."""
    codes, blocs = _simulated_coords(*in_bloc.shape)
    frame = pd.DataFrame(dict(columns), index=pd.Index(codes, name="code"))
    frame["wave"] = mark_waves(frame)
    frame = frame[list(FRAME_COLUMNS)]
    return ModelInputs(
        as_of=SIMULATED_START + dt.timedelta(days=int(as_of_day) - 1),
        campaign_start=SIMULATED_START,
        frame=frame,
        blocs=pd.DataFrame(in_bloc, index=frame.index, columns=pd.Index(blocs, name="bloc")),
        spending_scale=SpendingScale(0.0, 1.0),
        evidence_ids=(),
        # The campaign level is not simulated here (forecast.checks.campaign_recovery
        # checks it): no reference class, and a campaign still open at its start.
        campaign=CampaignState(
            covariates=(0.0,) * len(CAMPAIGN_COVARIATES),
            emerged_offset=0.0,
            elapsed=0.0,
            withdrawn=False,
        ),
        reference=(),
        organisation="simulated",
    )


def _simulated_coords(n_allies: int, n_blocs: int) -> tuple[list[str], list[str]]:
    """Codes of simulated allies and blocs."""
    return [f"S{i + 1:03d}" for i in range(n_allies)], [f"bloc_{b + 1}" for b in range(n_blocs)]


def endorsement_days(
    cfg: Mapping[str, Any],
    params: Mapping[str, Any],
    spending_z: np.ndarray,
    grievance: np.ndarray,
    in_bloc: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each ally's endorsement day (``inf``: never), drawn from the model's own graph.

    The per-ally block is built on the simulated covariates (no rival candidacy or
    objection), its parameters fixed at ``params`` with ``pm.do``, and its ``endorsement``
    drawn by prior predictive simulation: the equations simulated are the ones fitted.

    Parameters
    ----------
    cfg
        The full model config (``ConfirmationModel.config``).
    params
        Every parameter of ``prior_means`` (bloc shifts of length ``n_blocs``).
    spending_z, grievance
        Per ally, shape (n_allies,).
    in_bloc
        Bloc memberships, shape (n_allies, n_blocs).
    """
    n_allies, n_blocs = in_bloc.shape
    zeros, ones = np.zeros(n_allies), np.ones(n_allies)
    values = {
        **{name: zeros for name in ally_level.DATA},
        "in_bloc": in_bloc,
        "spending_z": spending_z,
        "grievance": grievance,
        "member": ones,
        "reliability": ones,
        "censor_day": ones,
        "endorsement_day": ones,
    }
    codes, blocs = _simulated_coords(n_allies, n_blocs)
    coords = {"ally": codes, "bloc": blocs}
    model = ally_level.ally_model(cfg, values, coords)
    # The free variables at the chosen values: bloc shifts enter through their
    # non-centred z-scores (the between-bloc sds are fixed in the config).
    scalars = ("intercept", "b_spend", "b_griev", "b_rival", "b_obj", "tau0", "d_griev")
    fixed = {
        name: np.asarray(params[name], dtype=float)
        for name in (*scalars, "d_rival", "d_obj", "timing_shape")
    }
    fixed["bloc_z"] = np.asarray(params["bloc_effect"], dtype=float) / cfg["bloc_scale"]
    fixed["bloc_delay_z"] = np.asarray(params["bloc_delay"], dtype=float) / cfg["bloc_delay_scale"]
    fixed["decision_lag"] = np.asarray(cfg["decision_lag_mu_days"], dtype=float)
    with pm.do(model, fixed):
        simulated = pm.sample_prior_predictive(
            draws=1, var_names=["endorsement"], random_seed=rng, return_inferencedata=False
        )
    return np.asarray(simulated["endorsement"], dtype=float).reshape(n_allies)


def run_recovery(
    seeds: Sequence[int],
    n_allies: int = 120,
    sampler_config: Mapping[str, Any] | None = None,
    *,
    n_blocs: int = 3,
    as_of_day: int = 180,
    dating: str = "decision",
    model_config: Mapping[str, Any] | None = None,
    true_params: Mapping[str, Any] | None = None,
    without_likelihood: Sequence[int] = (),
) -> pd.DataFrame:
    """Simulate a data set per seed, fit the model to it and compare with the truth.

    The model is built and compiled once for the simulated shape and refitted with each
    seed's data (``ConfirmationModel.fit(inputs, ...)``).

    Parameters
    ----------
    seeds
        One simulated data set (and sampler seed) per entry.
    n_allies
        Number of simulated allies.
    sampler_config
        Overrides of ``RECOVERY_SAMPLER_CONFIG`` (itself over the model's defaults).
    n_blocs
        Number of simulated blocs.
    as_of_day
        The simulated cut-off, in days from the campaign start; by day 180 about three
        in five eventual endorsers have endorsed at the default truth.
    dating
        How reports are dated (see ``simulate_records``).
    model_config
        Overrides of the model's priors and timing form (used to simulate and to fit).
    true_params
        Values to simulate from, over ``default_truth``.
    without_likelihood
        Seeds fitted again (on the same compiled model) with every ally's record
        switched off, so the posterior is the prior: a recovery check must tell those
        fits from the real ones (``likelihood`` column False).

    Returns
    -------
    pandas.DataFrame
        One row per (seed, parameter) of ``CHECKED``: ``seed``, ``parameter``, ``true``,
        ``mean``, ``lower`` and ``upper`` (the 94% equal-tailed interval), ``covered``
        (bool), ``r_hat``, ``contraction`` (1 - posterior sd / prior sd),
        ``prior_error`` (how far the prior mean is from the truth),
        ``moved_towards_truth`` (the posterior mean is nearer the truth than the prior
        mean), and the fit's ``divergences`` and ``events`` (endorsements seen by the
        cut-off).
    """
    truth = {**default_truth(model_config, n_blocs), **(true_params or {})}
    model: ConfirmationModel | None = None
    rows = []
    fits = [(seed, True) for seed in seeds] + [(seed, False) for seed in without_likelihood]
    for seed, likelihood in fits:
        rng = np.random.default_rng(seed)
        inputs = simulate_records(
            model_config, truth, n_allies, n_blocs, as_of_day, rng, dating=dating
        )
        if not likelihood:  # a non-member's record adds nothing to the likelihood
            inputs.frame["member"] = 0.0
        if model is None:
            model = ConfirmationModel(
                inputs,
                model_config=dict(model_config or {}),
                sampler_config={**RECOVERY_SAMPLER_CONFIG, **(sampler_config or {})},
            )
        idata = model.fit(inputs, random_seed=seed)
        events = int(inputs.frame["event"].sum())
        summary = _summarise(idata, truth, seed, events, model_config, n_blocs)
        rows.extend(row | {"likelihood": likelihood} for row in summary)
        logger.info("recovery seed %s: %d of %d allies endorsed", seed, events, n_allies)
    return pd.DataFrame(rows)


def _summarise(
    idata: az.InferenceData,
    truth: Mapping[str, Any],
    seed: int,
    events: int,
    model_config: Mapping[str, Any] | None,
    n_blocs: int,
) -> list[dict[str, Any]]:
    """One row per checked parameter: the truth against the posterior and the prior."""
    means, sds = prior_means(model_config, n_blocs), prior_sds(model_config)
    tail = (1.0 - INTERVAL_PROB) / 2.0
    divergences = count_divergences(idata)
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
                "contraction": float(1.0 - values.std() / sds[name]),
                "prior_error": abs(float(means[name]) - true),
                "moved_towards_truth": bool(
                    abs(values.mean() - true) < abs(float(means[name]) - true)
                ),
                "divergences": divergences,
                "events": events,
            }
        )
    return rows
