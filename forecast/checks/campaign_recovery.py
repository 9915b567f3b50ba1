"""Checks of the campaign level: predictive simulation of campaigns and parameter recovery."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import xarray as xr

from forecast.data.reference import CAMPAIGN_COVARIATES, Campaign, HoldoutCount
from forecast.model import campaign_level, sampling
from forecast.model.compiled import compile_for_nutpie
from forecast.model.confirmation import ConfirmationModel
from forecast.posterior import endgame
from forecast.posterior.predict import INTERVAL_PROB

logger = logging.getLogger(__name__)

# Recovery checks the parameters that every campaign informs; the organisation shifts
# have a fixed pooling sd and each organisation holds few campaigns.
# The holdouts' coefficient of the endgame's clock (an element of ``endgame_coef``).
HOLDOUT_COEF = "endgame_coef[holdouts]"
CHECKED: tuple[str, ...] = (
    "success_intercept",
    "endgame_mu",
    "endgame_shape_typical",
    "focal_intercept",
    HOLDOUT_COEF,
)
# True values sit this many prior sds from the prior mean, so that covering them takes
# data, not a prior centred on them.
TRUTH_OFFSETS_IN_PRIOR_SD: dict[str, float] = {
    "success_intercept": -0.8,
    "endgame_mu": 0.8,
    "endgame_shape_typical": -0.8,
    "focal_intercept": 0.8,
    # Its prior is narrow (sd 0.25): a truth 0.8 sd away moved the posterior mean by about
    # a third of the way on 160 campaigns, within the seeds' noise.
    HOLDOUT_COEF: 1.6,
}
# Simulated campaigns hold 0 to 6 holdouts and 0 to 2 fixed meetings, on days 3 to 60
# after emergence (the reference class: mostly 0 to 5 holdouts, meetings on days 2 to
# 60). With at most 3, the holdouts' coefficient and "none left" were hard to tell apart.
MAX_SIMULATED_HOLDOUTS = 6
MAX_SIMULATED_MEETINGS = 2
SIMULATED_MEETING_DAYS = (3, 60)
RECOVERY_SAMPLER: dict[str, Any] = {"chains": 2, "tune": 500, "draws": 500, "target_accept": 0.95}
SIMULATED_ORGS: tuple[str, ...] = ("org_a", "org_b", "org_c")
_EMERGED = dt.date(2000, 1, 1)


def prior_moments(model_config: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """Prior mean and sd of each checked parameter."""
    cfg = ConfirmationModel.config(model_config)
    return {
        "success_intercept": (cfg["success_intercept_mu"], cfg["success_intercept_sd"]),
        "endgame_mu": (float(np.log(cfg["endgame_mu_days"])), cfg["endgame_mu_sd"]),
        "endgame_shape_typical": (cfg["endgame_shape_mu"], cfg["endgame_shape_sd"]),
        "focal_intercept": (cfg["focal_intercept_mu"], cfg["focal_intercept_sd"]),
        HOLDOUT_COEF: (cfg["endgame_coef_mu"]["holdouts"], cfg["endgame_coef_sd"]["holdouts"]),
    }


def default_truth(model_config: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The checked parameters' true values for recovery (offsets from the prior means)."""
    return {
        name: mean + TRUTH_OFFSETS_IN_PRIOR_SD[name] * sd
        for name, (mean, sd) in prior_moments(model_config).items()
    }


def campaign_parameters(
    draws: xr.Dataset, campaigns: Sequence[Campaign], orgs: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per draw and campaign: P(success), the endgame's location, spread and P(a fixed date
    binds), shape (draw, campaign), and the clock's rate on each stretch of the
    campaign's holdout path (``campaign_level.reference_path``), (draw, campaign, slot).

    ``draws`` is a posterior or prior group (chain and draw dims) of the campaign level.
    """

    def flat(name: str) -> np.ndarray:
        values = draws[name].values
        return values.reshape(-1, *values.shape[2:])

    x = np.array([[float(getattr(c, f)) for f in CAMPAIGN_COVARIATES] for c in campaigns])
    org = np.array([orgs.index(c.organisation) for c in campaigns])
    logit = (
        flat("success_intercept")[:, None]
        + flat("success_coef") @ x.T
        + flat("org_success")[:, org]
    )
    z = np.array(
        [campaign_level.endgame_covariates(c.holdouts, c.rival_candidacy) for c in campaigns]
    )
    focal_logit = (
        flat("focal_intercept")[:, None]
        + flat("org_focal")[:, org]
        + flat("focal_holdouts")[:, None] * z[None, :, 0]
    )
    paths = [campaign_level.reference_path(c)[1] for c in campaigns]
    coef = flat("endgame_coef")
    rates = np.stack([np.exp(-coef @ (p - zk).T) for p, zk in zip(paths, z, strict=True)], axis=1)
    return {
        "rates": rates,
        "p_success": 1.0 / (1.0 + np.exp(-logit)),
        "location": (
            flat("endgame_mu")[:, None] + flat("org_effect")[:, org] + flat("endgame_coef") @ z.T
        ),
        "shape": flat("org_shape")[:, org],
        "focal": 1.0 / (1.0 + np.exp(-focal_logit)),
    }


def simulate_outcomes(
    parameters: Mapping[str, np.ndarray],
    campaigns: Sequence[Campaign],
    rng: np.random.Generator,
    model_config: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """One simulated outcome per draw and campaign: confirmed (0/1) and days to the end
    (the endgame's day, with each campaign's fixed meetings as focal points)."""
    window = campaign_level.focal_window(ConfirmationModel.config(model_config))
    shape = parameters["p_success"].shape
    confirmed = rng.uniform(size=shape) < parameters["p_success"]
    days = np.empty(shape)
    rates = parameters.get("rates")  # None: every campaign's holdouts held from emergence
    for k, campaign in enumerate(campaigns):
        path = None if rates is None else (campaign_level.reference_path(campaign)[0], rates[:, k])
        days[:, k] = endgame.sample(
            parameters["location"][:, k],
            parameters["shape"][:, k],
            parameters["focal"][:, k],
            np.asarray(campaign.meeting_days, dtype=float),
            *window,
            rng,
            path,
        )
    return {"confirmed": confirmed.astype(float), "days": np.ceil(days)}


def predictive_summary(
    idata_group: xr.Dataset,
    campaigns: Sequence[Campaign],
    seed: int = 0,
    model_config: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Simulated reference classes beside the observed one (prior or posterior predictive).

    Returns one row per statistic: the share confirmed, the median days to the outcome,
    the share settled within 30 days and the share settled at a fixed meeting (in its focal
    window, ``model_config``'s); the observed value and where it falls among the
    simulated ones (its quantile; near 0 or 1 means the model cannot produce it).
    """
    orgs = list(idata_group["org_effect"].coords["organisation"].values)
    params = campaign_parameters(idata_group, campaigns, orgs)
    sim = simulate_outcomes(params, campaigns, np.random.default_rng(seed), model_config)
    observed_days = np.array([c.days for c in campaigns])
    observed_confirmed = np.array([float(c.confirmed) for c in campaigns])
    window = campaign_level.focal_window(ConfirmationModel.config(model_config))
    at_meeting = _at_a_meeting(campaigns, sim["days"], window)
    stats = {
        "share confirmed": (sim["confirmed"].mean(axis=1), observed_confirmed.mean()),
        "median days to the outcome": (np.median(sim["days"], axis=1), np.median(observed_days)),
        "share settled within 30 days": (
            (sim["days"] <= 30).mean(axis=1),
            (observed_days <= 30).mean(),
        ),
        "share settled at a fixed meeting": (
            at_meeting.mean(axis=1),
            _at_a_meeting(campaigns, observed_days[None, :], window).mean(),
        ),
    }
    rows = []
    for name, (values, observed) in stats.items():
        lo, hi = np.quantile(values, [0.03, 0.97])
        rows.append(
            {
                "statistic": name,
                "observed": float(observed),
                "simulated_mean": float(values.mean()),
                "simulated_94_low": float(lo),
                "simulated_94_high": float(hi),
                "observed_quantile": float((values < observed).mean()),
            }
        )
    return pd.DataFrame(rows)


def _at_a_meeting(
    campaigns: Sequence[Campaign], days: np.ndarray, window: tuple[float, float]
) -> np.ndarray:
    """Per simulation and campaign: the outcome's day lies in one of its fixed meetings'
    focal windows (``window``: days before it, days from it; False without a meeting)."""
    lead, tail = window
    hits = np.zeros(days.shape, dtype=bool)
    for k, campaign in enumerate(campaigns):
        for meeting in campaign.meeting_days:
            hits[:, k] |= (days[:, k] > meeting - lead) & (days[:, k] <= meeting + tail)
    return hits


def simulate_campaigns(
    truth: Mapping[str, float],
    n: int,
    rng: np.random.Generator,
    model_config: Mapping[str, Any] | None = None,
) -> list[Campaign]:
    """Campaigns drawn from the campaign level with the given parameters.

    Covariates are drawn 0/1 with probability 0.3 each, holdouts and fixed meetings
    evenly (``MAX_SIMULATED_*``), organisations evenly from ``SIMULATED_ORGS`` with shifts
    drawn from their pooling sds (centred); parameters not in ``truth`` (the covariate effects)
    take their prior means.
    """
    cfg = ConfirmationModel.config(model_config)
    org_index = rng.integers(len(SIMULATED_ORGS), size=n)
    # Organisation shifts are centred: with three organisations their mean would otherwise
    # move the population values the check compares with (sd 0.58 for the endgame's).
    org_effect = cfg["org_scale"] * _centred(rng, len(SIMULATED_ORGS))
    org_success = cfg["org_success_scale"] * _centred(rng, len(SIMULATED_ORGS))
    org_shape = truth["endgame_shape_typical"] * np.exp(
        cfg["org_shape_sd"] * _centred(rng, len(SIMULATED_ORGS))
    )
    org_focal = cfg["org_focal_scale"] * _centred(rng, len(SIMULATED_ORGS))
    x = (rng.uniform(size=(n, len(CAMPAIGN_COVARIATES))) < 0.3).astype(float)
    holdouts = rng.integers(MAX_SIMULATED_HOLDOUTS + 1, size=n)
    meetings = [
        tuple(
            _EMERGED + dt.timedelta(days=int(d) - 1)
            for d in np.sort(rng.integers(*SIMULATED_MEETING_DAYS, size=count))
        )
        for count in rng.integers(MAX_SIMULATED_MEETINGS + 1, size=n)
    ]
    coef = np.array([cfg["success_coef_mu"][f] for f in CAMPAIGN_COVARIATES])
    logit = truth["success_intercept"] + x @ coef + org_success[org_index]
    z = np.array(
        [campaign_level.endgame_covariates(h, r) for h, r in zip(holdouts, x[:, 2], strict=True)]
    )
    endgame_coef = np.array([cfg["endgame_coef_mu"][k] for k in campaign_level.ENDGAME_COVARIATES])
    endgame_coef[campaign_level.ENDGAME_COVARIATES.index("holdouts")] = truth.get(
        HOLDOUT_COEF, endgame_coef[0]
    )
    focal_logit = (
        truth["focal_intercept"] + org_focal[org_index] + cfg["focal_holdouts_mu"] * z[:, 0]
    )
    # A campaign with holdouts sees some of them give way on a day 3 to 30 after emergence
    # (a dated count of fewer): its clock runs faster from then on.
    later = [(int(rng.integers(3, 31)), int(rng.integers(h))) if h > 0 else None for h in holdouts]
    skeletons = [
        _simulated(k, SIMULATED_ORGS[org_index[k]], x[k], int(holdouts[k]), meetings[k], later[k])
        for k in range(n)
    ]
    rates = np.array(
        [
            np.exp(-(campaign_level.reference_path(c)[1] - z[k]) @ endgame_coef)
            for k, c in enumerate(skeletons)
        ]
    )
    params = {
        "p_success": 1.0 / (1.0 + np.exp(-logit)),
        "location": truth["endgame_mu"] + org_effect[org_index] + z @ endgame_coef,
        "shape": org_shape[org_index],
        "focal": 1.0 / (1.0 + np.exp(-focal_logit)),
    }
    one_draw = {**{k: v[None, :] for k, v in params.items()}, "rates": rates[None]}
    sim = simulate_outcomes(one_draw, skeletons, rng, cfg)
    campaigns = []
    for k, skeleton in enumerate(skeletons):
        days = int(max(sim["days"][0, k], 1))
        outcome_date = _EMERGED + dt.timedelta(days=days - 1)
        campaigns.append(
            msgspec.structs.replace(
                skeleton,
                outcome="confirmed" if sim["confirmed"][0, k] else "dropped",
                outcome_date=outcome_date,
                # A count dated after the outcome never happened.
                counts=tuple(n for n in skeleton.counts if n.date <= outcome_date),
            )
        )
    return campaigns


def _checked_draws(posterior: xr.Dataset, name: str) -> np.ndarray:
    """A checked parameter's draws, flat: a variable, or ``variable[coordinate]``."""
    if "[" not in name:
        return posterior[name].values.reshape(-1)
    variable, coordinate = name.rstrip("]").split("[")
    values = posterior[variable]
    return values.sel({values.dims[-1]: coordinate}).values.reshape(-1)


def _centred(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` standard normal draws less their mean."""
    draws = rng.standard_normal(n)
    return draws - draws.mean()


def _simulated(
    k: int,
    organisation: str,
    x: np.ndarray,
    holdouts: int,
    meetings: tuple[dt.date, ...],
    later: tuple[int, int] | None = None,
) -> Campaign:
    """A simulated campaign before its outcome is drawn (outcome fields are placeholders;
    the outcome's day far ahead, so that every count is on its path), with a count on its
    emergence day and, with ``later`` (day, holdouts), one after it."""
    days = [(1, holdouts), *([later] if later else [])]
    counts = tuple(
        HoldoutCount(
            campaign=f"sim_{k:03d}",
            date=_EMERGED + dt.timedelta(days=day - 1),
            holdouts=count,
            members=MAX_SIMULATED_HOLDOUTS + 1,
            objecting=0,
            rivals=0,
            source="simulated",
            note="",
        )
        for day, count in days
    )
    return Campaign(
        counts=counts,
        id=f"sim_{k:03d}",
        organisation=organisation,
        post="simulated",
        rule="unanimity",
        front_runner=f"candidate {k}",
        emerged=_EMERGED,
        largest_members=("AA",),
        all_largest_backed=bool(x[0]),
        heavyweight_objection=bool(x[1]),
        blocking_objection=bool(x[3]),
        rival_candidacy=bool(x[2]),
        fallback=False,
        holdouts=holdouts,
        holdout_reasons="simulated",
        fixed_meetings=";".join(f"meeting_{j}={m.isoformat()}" for j, m in enumerate(meetings)),
        meetings=meetings,
        outcome="confirmed",
        outcome_date=_EMERGED + dt.timedelta(days=3650),
        source="simulated",
        notes="",
    )


def run_campaign_recovery(
    seeds: Sequence[int],
    n_campaigns: int = 80,
    *,
    truth: Mapping[str, float] | None = None,
    model_config: Mapping[str, Any] | None = None,
    without_likelihood: Sequence[int] = (),
) -> pd.DataFrame:
    """Fit the campaign level to simulated reference classes and compare with the truth.

    ``without_likelihood`` seeds are fitted again with the reference class's likelihood
    switched off (weight 0: the posterior is then the prior), which a recovery check must
    be able to tell apart (``likelihood`` column False).

    Returns
    -------
    pandas.DataFrame
        One row per seed and checked parameter: ``truth``, ``prior_mean``, ``prior_sd``,
        ``mean``, ``sd``, the 94% interval, ``covered``, ``contraction`` (1 - sd/prior sd)
        and ``moved_towards_truth`` (the posterior mean is nearer the truth than the prior
        mean is).
    """
    cfg = ConfirmationModel.config(model_config)
    truth = dict(truth or default_truth(model_config))
    moments = prior_moments(model_config)
    rows = []
    compiled = None
    fits = [(seed, 1.0) for seed in seeds] + [(seed, 0.0) for seed in without_likelihood]
    for seed, weight in fits:
        campaigns = simulate_campaigns(truth, n_campaigns, np.random.default_rng(seed), cfg)
        if compiled is None or len(campaigns) != n_campaigns:
            orgs = list(SIMULATED_ORGS)
            model = campaign_level.reference_model(cfg, campaigns, orgs)
            compiled = compile_for_nutpie(model)
        values = campaign_level.reference_values(cfg, campaigns, list(SIMULATED_ORGS))
        fitted = compiled.with_data(
            **{k: v for k, v in values.items() if k != "reference_weight"},
            reference_weight=np.full(n_campaigns, weight),
        )
        idata = sampling.sample(fitted, RECOVERY_SAMPLER, seed)
        for name in CHECKED:
            prior_mean, prior_sd = moments[name]
            draws = _checked_draws(idata.posterior, name)
            lo, hi = np.quantile(draws, [(1 - INTERVAL_PROB) / 2, (1 + INTERVAL_PROB) / 2])
            mean, sd = float(draws.mean()), float(draws.std())
            rows.append(
                {
                    "seed": seed,
                    "parameter": name,
                    "truth": truth[name],
                    "prior_mean": prior_mean,
                    "prior_sd": prior_sd,
                    "mean": mean,
                    "sd": sd,
                    "low": float(lo),
                    "high": float(hi),
                    "covered": bool(lo <= truth[name] <= hi),
                    "contraction": 1.0 - sd / prior_sd,
                    "moved_towards_truth": abs(mean - truth[name]) < abs(prior_mean - truth[name]),
                    "likelihood": weight > 0,
                }
            )
    return pd.DataFrame(rows)
