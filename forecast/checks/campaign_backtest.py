"""Leave-one-out validation of the campaign level on the reference class.

Each past campaign is forecast as of the day its front-runner emerged by the campaign
level fitted to the other campaigns only: P(confirmed at all) and P(confirmed within
30, 60 and 120 days). Scores are set beside two baselines that need no model: the base
rate of the other campaigns, and independent holdouts (each holdout consents with the
per-ally model's prior mean, so ``P(confirmed) = pi ** holdouts``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from forecast.checks.backtest import brier_log
from forecast.data.reference import Campaign
from forecast.model import campaign_level, sampling
from forecast.model.confirmation import ConfirmationModel

logger = logging.getLogger(__name__)

HORIZONS_DAYS: tuple[int, ...] = (30, 60, 120)
QUESTIONS: tuple[str, ...] = ("confirmed", *(f"within_{d}" for d in HORIZONS_DAYS))
# Sampler settings per left-out fit (a small model: 4 parameters and the organisations).
BACKTEST_SAMPLER: dict[str, Any] = {"chains": 2, "tune": 500, "draws": 500, "target_accept": 0.99}


def outcomes(campaign: Campaign) -> dict[str, float]:
    """What happened, per question (1 yes, 0 no)."""
    out = {"confirmed": float(campaign.confirmed)}
    for days in HORIZONS_DAYS:
        out[f"within_{days}"] = float(campaign.confirmed and campaign.days <= days)
    return out


def base_rates(others: Sequence[Campaign]) -> dict[str, float]:
    """Per question, the share of the other campaigns where it happened, with one success
    and one failure added (Laplace): a share of 0 or 1 would make the log score infinite."""
    n = len(others)
    counts = {q: sum(outcomes(c)[q] for c in others) for q in QUESTIONS}
    return {q: (counts[q] + 1.0) / (n + 2.0) for q in QUESTIONS}


def independent_holdouts(
    campaign: Campaign, model_config: Mapping[str, Any] | None = None
) -> float:
    """P(confirmed) if each holdout consented on its own with the per-ally prior mean."""
    cfg = ConfirmationModel.config(model_config)
    pi = 1.0 / (1.0 + np.exp(-cfg["intercept_mu"]))
    return float(pi**campaign.holdouts)


def fold_data(
    campaigns: Sequence[Campaign],
    orgs: Sequence[str],
    values: Mapping[str, np.ndarray],
    k: int,
) -> dict[str, np.ndarray]:
    """The campaign level's data for forecasting campaign ``k`` from the others.

    Campaign ``k`` weighs nothing in the reference class, and is forecast as of its
    emergence: its covariates and organisation, no time elapsed and nothing observed.
    ``values`` is ``campaign_level.reference_values(campaigns, orgs)``.
    """
    weight = np.ones(len(campaigns))
    weight[k] = 0.0
    return {
        "reference_weight": weight,
        "campaign_x": values["reference_x"][k],
        "campaign_org": np.asarray(orgs.index(campaigns[k].organisation), dtype="int64"),
        "campaign_elapsed": np.asarray(0.0),
        "campaign_open": np.asarray(0.0),
    }


def backtest_campaigns(
    campaigns: Sequence[Campaign],
    *,
    model_config: Mapping[str, Any] | None = None,
    seed: int = 20240222,
    sampler_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Forecast each campaign from the others (compiled once, ``with_data`` per fold).

    Returns
    -------
    dict
        ``campaigns`` (per campaign: ``id``, ``forecasts``, ``outcomes``, ``base_rate``),
        overall ``brier``, ``log``, ``base_rate_brier``, ``base_rate_log`` (means over
        campaigns and questions), ``by_question`` and the independent-holdouts baseline
        of ``confirmed``.
    """
    cfg = ConfirmationModel.config(model_config)
    sampler = {**BACKTEST_SAMPLER, **(sampler_config or {})}
    orgs = campaign_level.organisations(campaigns, campaigns[0].organisation)
    # The forecast's own campaign level: compiled once in the process for both.
    compiled = campaign_level.compiled_reference_model(cfg, campaigns, orgs)
    values = campaign_level.reference_values(campaigns, orgs)
    started = time.perf_counter()
    rows = []
    for k, campaign in enumerate(campaigns):
        fold = compiled.with_data(**fold_data(campaigns, orgs, values, k))
        idata = sampling.sample(fold, sampler, seed + k)
        post = idata.posterior
        p = post["p_success"].values.reshape(-1)
        loc = post["endgame_location"].values.reshape(-1)
        shape = post["endgame_shape"].values.reshape(-1)
        forecasts = {"confirmed": float(p.mean())}
        for days in HORIZONS_DAYS:
            forecasts[f"within_{days}"] = float(campaign_level.p_within(p, loc, shape, days).mean())
        others = [c for j, c in enumerate(campaigns) if j != k]
        rows.append(
            {
                "id": campaign.id,
                "forecasts": forecasts,
                "outcomes": outcomes(campaign),
                "base_rate": base_rates(others),
                "independent_holdouts": independent_holdouts(campaign, model_config),
                "divergences": int(idata.sample_stats["diverging"].sum()),
            }
        )
    logger.info("left %d campaigns out in %.1f s", len(rows), time.perf_counter() - started)
    return summarise(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Brier and log scores of the model and of the base rate, overall and per question."""

    def pairs(key: str, questions: Sequence[str]) -> list[tuple[float, float]]:
        return [(r[key][q], r["outcomes"][q]) for r in rows for q in questions]

    model, base = brier_log(pairs("forecasts", QUESTIONS)), brier_log(pairs("base_rate", QUESTIONS))
    independent = brier_log([(r["independent_holdouts"], r["outcomes"]["confirmed"]) for r in rows])
    return {
        "campaigns": rows,
        "brier": model["brier"],
        "log": model["log"],
        "base_rate_brier": base["brier"],
        "base_rate_log": base["log"],
        "by_question": {q: _question_scores(pairs, q) for q in QUESTIONS},
        "independent_holdouts": {"question": "confirmed", **independent},
    }


def _question_scores(pairs, question: str) -> dict[str, float]:
    """The model's and the base rate's scores on one question."""
    model, base = (
        brier_log(pairs("forecasts", [question])),
        brier_log(pairs("base_rate", [question])),
    )
    return {
        "brier": model["brier"],
        "log": model["log"],
        "base_rate_brier": base["brier"],
        "base_rate_log": base["log"],
    }
