"""The campaign level of consent, learned from the reference class of past appointments.

A campaign ends in one of two ways: every member is on board (the candidate is
confirmed) or the candidate is replaced. Each campaign ``k`` has an *endgame* ``E_k``, the
days from the front-runner's emergence until the holdouts give way together or the bid
is dropped, and an outcome: with probability ``p_k`` the endgame brings every remaining
member in, otherwise the candidate is withdrawn.

    logit p_k    = success_intercept + success_coef . x_k
    log E_k      ~ Normal(endgame_mu + org_effect[org_k], endgame_sd)

``x_k`` are the campaign's covariates on the day its front-runner emerged (all the
largest members backing, a largest member objecting, a member's rival candidacy). The
organisation effect is partially pooled (non-centred). Past campaigns enter with their
outcome and its day; the current campaign, still open at the cut-off, contributes
``P(E > elapsed)`` (time passing without an endgame is evidence too).

No parameter here is shared with the per-ally model (forecast/model/confirmation.py), and no
observation involves both: the joint posterior is the product of the two, so each is
sampled on its own and chain ``k`` of one is paired with chain ``k`` of the other. The
campaign level is compiled once per process for a configuration and reference class
(``compiled_reference_model``), whichever dataset or backtest asks for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import special

from forecast.data.inputs import ModelInputs
from forecast.data.reference import CAMPAIGN_COVARIATES, Campaign
from forecast.model.compiled import compile_for_nutpie

logger = logging.getLogger(__name__)

# The model config keys the campaign level reads (its compiled form depends on no other).
CONFIG_KEYS: tuple[str, ...] = (
    "success_intercept_mu",
    "success_intercept_sd",
    "success_coef_mu",
    "success_coef_sd",
    "endgame_mu_days",
    "endgame_mu_sd",
    "endgame_shape_mu",
    "endgame_shape_sd",
    "org_scale",
    "org_success_scale",
    "org_shape_sd",
    "reference_window_days",
)
# Compiled campaign-level models of this process, by configuration and reference class.
_COMPILED: dict[str, Any] = {}
_COMPILED_LOCK = threading.Lock()


def organisations(campaigns: Sequence[Campaign], current: str) -> list[str]:
    """The organisation coordinate: the reference class's, then the current one if new."""
    names = sorted({c.organisation for c in campaigns})
    return names if current in names else [*names, current]


def reference_values(campaigns: Sequence[Campaign], orgs: Sequence[str]) -> dict[str, np.ndarray]:
    """Arrays of the reference class for ``pm.Data``: covariates, organisation, days, outcome.

    ``reference_weight`` is 1 for every campaign; a backtest sets a left-out one to 0.
    """
    return {
        "reference_x": np.array(
            [[float(getattr(c, f)) for f in CAMPAIGN_COVARIATES] for c in campaigns], dtype=float
        ).reshape(len(campaigns), len(CAMPAIGN_COVARIATES)),
        "reference_org": np.array([orgs.index(c.organisation) for c in campaigns], dtype="int64"),
        "reference_days": np.array([c.days for c in campaigns], dtype=float),
        "reference_confirmed": np.array([float(c.confirmed) for c in campaigns], dtype=float),
        "reference_weight": np.ones(len(campaigns), dtype=float),
    }


def data_values(inputs: ModelInputs, orgs: Sequence[str]) -> dict[str, np.ndarray]:
    """The campaign level's ``pm.Data`` at a cut-off: the reference class and the current
    campaign (its covariates, days elapsed, whether the candidate stands, organisation)."""
    campaign = inputs.campaign
    return {
        **reference_values(inputs.reference, orgs),
        "campaign_x": np.asarray(campaign.covariates, dtype=float),
        "campaign_elapsed": np.asarray(campaign.elapsed, dtype=float),
        "campaign_open": np.asarray(float(not campaign.withdrawn)),
        "campaign_org": np.asarray(list(orgs).index(inputs.organisation), "int64"),
    }


def add_campaign_level(
    cfg: Mapping[str, Any],
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    current_org: Any,
) -> dict[str, Any]:
    """Add the campaign level to the model on the context stack.

    Parameters
    ----------
    cfg
        The model config (``success_*``, ``endgame_*``, ``org_scale`` priors).
    reference
        ``pm.Data`` of ``reference_values`` (dims ``campaign``, ``campaign_covariate``).
    current
        ``pm.Data`` of the current campaign: ``campaign_x`` (its covariates at the
        cut-off), ``campaign_elapsed`` (days from emergence to the end of the cut-off)
        and ``campaign_open`` (1 while the candidate stands).
    current_org
        Index of the current campaign's organisation in the ``organisation`` coordinate
        (an int, or an integer ``pm.Data`` when it changes between fits).

    Returns
    -------
    dict
        The current campaign's ``p_success``, ``endgame_location`` and ``endgame_shape``.
    """
    params = _priors(cfg)
    _reference_class(cfg, params, reference)
    return _current_campaign(params, current, current_org)


def _priors(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The campaign level's parameters; reasons for each prior are in
    ``forecast.model.config`` and docs/model.md."""
    # Whether: log-odds that the endgame brings every holdout in.
    a0 = pm.Normal("success_intercept", cfg["success_intercept_mu"], cfg["success_intercept_sd"])
    coef = pm.Normal(
        "success_coef",
        mu=np.array([cfg["success_coef_mu"][k] for k in CAMPAIGN_COVARIATES]),
        sigma=cfg["success_coef_sd"],
        dims="campaign_covariate",
    )
    # When: log-days from emergence to the endgame; organisations partially pooled.
    endgame_mu = pm.Normal("endgame_mu", np.log(cfg["endgame_mu_days"]), cfg["endgame_mu_sd"])
    shape_typical = pm.Gamma(
        "endgame_shape_typical", mu=cfg["endgame_shape_mu"], sigma=cfg["endgame_shape_sd"]
    )
    # Some organisations settle on a tighter timetable than others: the spread is pooled
    # across them on the log scale (non-centred, sd fixed by the config).
    shape_z = pm.Normal("org_shape_z", 0.0, 1.0, dims="organisation")
    org_shape = pm.Deterministic(
        "org_shape", shape_typical * pt.exp(cfg["org_shape_sd"] * shape_z), dims="organisation"
    )
    # Organisations differ in procedure and in who leads. Their shifts are partially
    # pooled with a fixed between-organisation sd: with four organisations an sd learned
    # from the data sat in a funnel (the sampler diverged) and said little beyond its prior.
    org_effect = pm.Deterministic(
        "org_effect",
        cfg["org_scale"] * pm.Normal("org_z", 0.0, 1.0, dims="organisation"),
        dims="organisation",
    )
    org_success = pm.Deterministic(
        "org_success",
        cfg["org_success_scale"] * pm.Normal("org_success_z", 0.0, 1.0, dims="organisation"),
        dims="organisation",
    )
    return {
        "a0": a0,
        "coef": coef,
        "endgame_mu": endgame_mu,
        "org_shape": org_shape,
        "org_effect": org_effect,
        "org_success": org_success,
    }


def _reference_class(
    cfg: Mapping[str, Any], params: Mapping[str, Any], reference: Mapping[str, Any]
) -> None:
    """Each past campaign's outcome and its days from emergence to the outcome."""
    org = reference["reference_org"]
    weight = reference["reference_weight"]
    logit_ref = (
        params["a0"] + params["org_success"][org] + pt.dot(reference["reference_x"], params["coef"])
    )
    outcome = pm.logp(pm.Bernoulli.dist(logit_p=logit_ref), reference["reference_confirmed"])
    location_ref = params["endgame_mu"] + params["org_effect"][org]
    # A campaign's days are known to within about a week: the emergence dates are the
    # first reports, often approximate (data/README.md). Read as an interval, a
    # one-campaign organisation cannot pull its spread to zero (an unbounded density).
    endgame_ref = pm.LogNormal.dist(mu=location_ref, sigma=params["org_shape"][org])
    ended = reference["reference_days"]
    days = pm.math.logdiffexp(
        pm.logcdf(endgame_ref, ended),
        pm.logcdf(endgame_ref, pt.maximum(ended - cfg["reference_window_days"], 0.5)),
    )
    pm.Potential("reference_class", pt.sum(weight * (outcome + days)))


def _current_campaign(
    params: Mapping[str, Any], current: Mapping[str, Any], current_org: Any
) -> dict[str, Any]:
    """The current campaign's chance of success and endgame; still open at the cut-off,
    it contributes ``P(E > elapsed)``."""
    p_success = pm.Deterministic(
        "p_success",
        pm.math.sigmoid(
            params["a0"]
            + params["org_success"][current_org]
            + pt.dot(current["campaign_x"], params["coef"])
        ),
    )
    location = pm.Deterministic(
        "endgame_location", params["endgame_mu"] + params["org_effect"][current_org]
    )
    endgame_shape = pm.Deterministic("endgame_shape", params["org_shape"][current_org])
    elapsed = current["campaign_elapsed"]
    still_open = pm.logccdf(
        pm.LogNormal.dist(mu=location, sigma=endgame_shape), pt.maximum(elapsed, 1e-3)
    )
    pm.Potential(
        "campaign_still_open",
        current["campaign_open"] * pt.switch(elapsed > 0, still_open, 0.0),
    )
    return {"p_success": p_success, "endgame_location": location, "endgame_shape": endgame_shape}


def reference_model(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> pm.Model:
    """The campaign level alone, on the reference class (for backtests and recovery).

    Its ``pm.Data`` (``reference_weight`` to leave campaigns out, ``campaign_x`` and
    ``campaign_org`` for the campaign forecast) change without recompiling.
    """
    coords = {
        "campaign": [c.id for c in campaigns],
        "campaign_covariate": list(CAMPAIGN_COVARIATES),
        "organisation": list(orgs),
    }
    values = reference_values(campaigns, orgs)
    with pm.Model(coords=coords) as model:
        reference = {
            name: pm.Data(name, value, dims=("campaign", "campaign_covariate")[: value.ndim])
            for name, value in values.items()
        }
        current = {
            "campaign_x": pm.Data(
                "campaign_x", np.zeros(len(CAMPAIGN_COVARIATES)), dims="campaign_covariate"
            ),
            "campaign_elapsed": pm.Data("campaign_elapsed", np.asarray(0.0)),
            "campaign_open": pm.Data("campaign_open", np.asarray(0.0)),
        }
        org = pm.Data("campaign_org", np.asarray(0, dtype="int64"))
        add_campaign_level(cfg, reference, current, org)
    return model


def compiled_reference_model(
    cfg: Mapping[str, Any], campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> Any:
    """``reference_model`` compiled for nutpie, once per process for each configuration
    and reference class. Its ``pm.Data`` change with ``with_data``."""
    key = json.dumps(
        {
            "config": {k: cfg[k] for k in CONFIG_KEYS},
            # The reference class's values are the compiled model's default data.
            "campaigns": {k: v.tolist() for k, v in reference_values(campaigns, orgs).items()},
            "organisations": list(orgs),
        },
        sort_keys=True,
    )
    with _COMPILED_LOCK:
        if key not in _COMPILED:
            started = time.perf_counter()
            _COMPILED[key] = compile_for_nutpie(reference_model(cfg, campaigns, orgs))
            seconds = time.perf_counter() - started
            logger.info("compiled the campaign level for nutpie in %.1f s", seconds)
        return _COMPILED[key]


def p_within(
    p_success: np.ndarray, location: np.ndarray, shape: np.ndarray, days: float
) -> np.ndarray:
    """P(confirmed within ``days`` of emergence) per draw, for a campaign with holdouts.

    The endgame path alone: with holdouts at emergence the campaign is settled at its
    endgame, so ``p * F_E(days)``.
    """
    return p_success * special.ndtr((np.log(days) - location) / shape)
