"""Leave-one-out validation of the campaign level on the reference class.

Each past campaign is forecast as of the day its front-runner emerged by the campaign
level fitted to the other campaigns only: P(confirmed at all), P(confirmed within 30,
60 and 120 days) and, for a campaign with a fixed meeting after its emergence,
P(confirmed by the end of that first meeting). Scores are set beside two baselines that
need no model: the base rate of the other campaigns, and independent holdouts (each
holdout consents with the per-ally model's prior mean, so ``P(confirmed) = pi **
holdouts``). The endgame's day is checked for calibration too: where each campaign's
outcome falls in its forecast distribution (PIT), and how often it falls within the
central 50% and 90% intervals.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from forecast.checks.backtest import brier_log
from forecast.checks.campaign_recovery import campaign_parameters
from forecast.data.reference import Campaign, HoldoutCount
from forecast.model import campaign_level, sampling
from forecast.model.confirmation import ConfirmationModel
from forecast.posterior import endgame
from forecast.seed import DEFAULT_SEED

logger = logging.getLogger(__name__)

HORIZONS_DAYS: tuple[int, ...] = (30, 60, 90, 120, 180)
FIRST_MEETING = "by_first_meeting"
QUESTIONS: tuple[str, ...] = (
    "confirmed",
    *(f"within_{d}" for d in HORIZONS_DAYS),
    FIRST_MEETING,
)
# The timing questions: the ones a focal-point endgame is for.
TIMING_QUESTIONS: tuple[str, ...] = QUESTIONS[1:]
# A meeting's first two days: the question "by the first meeting" counts its second day.
MEETING_DAYS = 2.0
# Sampler settings per left-out fit (a small model: 4 parameters and the organisations).
BACKTEST_SAMPLER: dict[str, Any] = {"chains": 2, "tune": 500, "draws": 500, "target_accept": 0.99}


# Days after a later dated count within which the time-left questions ask for the outcome.
TIME_LEFT_DAYS = 30


def first_meeting_end(campaign: Campaign) -> float | None:
    """The end of the first fixed meeting after emergence (its second day), on the
    endgame's clock; None without one."""
    days = campaign.meeting_days
    return days[0] + MEETING_DAYS - 1.0 if days else None


def outcomes(campaign: Campaign) -> dict[str, float]:
    """What happened, per question (1 yes, 0 no); a campaign without a fixed meeting has
    no "by the first meeting" question."""
    out = {"confirmed": float(campaign.confirmed)}
    for days in HORIZONS_DAYS:
        out[f"within_{days}"] = float(campaign.confirmed and campaign.days <= days)
    end = first_meeting_end(campaign)
    if end is not None:
        out[FIRST_MEETING] = float(campaign.confirmed and campaign.days <= end)
    return out


def base_rates(others: Sequence[Campaign]) -> dict[str, float]:
    """Per question, the share of the other campaigns where it happened, with one success
    and one failure added (Laplace): a share of 0 or 1 would make the log score infinite."""
    rates = {}
    for q in QUESTIONS:
        seen = [outcomes(c)[q] for c in others if q in outcomes(c)]
        rates[q] = (sum(seen) + 1.0) / (len(seen) + 2.0)
    return rates


def later_counts(campaign: Campaign) -> list[HoldoutCount]:
    """The counts dated after the emergence day and before the outcome's day: the points
    at which the time left is asked (``time_left``)."""
    return [n for n in campaign.counts if campaign.emerged < n.date < campaign.outcome_date]


def time_left_outcome(campaign: Campaign, count: HoldoutCount) -> float:
    """1 if the campaign was confirmed within ``TIME_LEFT_DAYS`` of the count's day."""
    return float(campaign.confirmed and (campaign.outcome_date - count.date).days <= TIME_LEFT_DAYS)


def time_left_base_rate(others: Sequence[Campaign]) -> float:
    """The share of the other campaigns' later counts followed by a confirmation within
    ``TIME_LEFT_DAYS`` (Laplace: one success and one failure added)."""
    seen = [time_left_outcome(c, n) for c in others for n in later_counts(c)]
    return (sum(seen) + 1.0) / (len(seen) + 2.0)


def at_count(campaign: Campaign, count: HoldoutCount) -> Campaign:
    """The campaign as a forecast at ``count`` reads it: the count's holdouts, and a
    blocking objection if a holdout that could block objected in public that day (the
    emergence day's flag where the count does not say who could block)."""
    blocking = campaign.blocking_objection
    if count.blocking_objecting is not None:
        blocking = count.blocking_objecting > 0
    return msgspec.structs.replace(campaign, holdouts=count.holdouts, blocking_objection=blocking)


def time_left_forecasts(
    cfg: Mapping[str, Any], post: Any, campaign: Campaign, orgs: Sequence[str]
) -> list[float]:
    """P(confirmed within ``TIME_LEFT_DAYS`` of each later count | not settled by it), as
    the shipped campaign level forecasts it at that count: its success and endgame with
    the holdouts and blocking objection of the count (``at_count``),
    its clock carried along the counts up to that day, conditioned on no endgame by the
    count's day."""
    counts = later_counts(campaign)
    if not counts:
        return []
    params = campaign_parameters(post, [at_count(campaign, n) for n in counts], orgs)
    coef = post["endgame_coef"].values.reshape(-1, len(campaign_level.ENDGAME_COVARIATES))
    dates = np.asarray(campaign.meeting_days, dtype=float)
    window = campaign_level.focal_window(cfg)
    out = []
    for j, count in enumerate(counts):
        endgame_j = (params["location"][:, j], params["shape"][:, j], params["focal"][:, j])
        day = campaign.day(count.date)
        start = np.full(params["location"].shape[0], day)
        # The clock along the counts so far, at the rates against this count's covariates.
        starts, z = campaign_level.reference_path(campaign, count.date + dt.timedelta(days=1))
        z_now = campaign_level.endgame_covariates(count.holdouts, campaign.rival_candidacy)
        rates = np.exp(-coef @ (z - z_now).T)  # (draw, slot)
        shift = endgame.path_clock(start, starts, rates) - day
        f0 = endgame.cdf(start, *endgame_j, dates, *window, shift)
        f1 = endgame.cdf(start + TIME_LEFT_DAYS, *endgame_j, dates, *window, shift)
        reached = np.clip((f1 - f0) / np.maximum(1.0 - f0, 1e-12), 0.0, 1.0)
        out.append(float((params["p_success"][:, j] * reached).mean()))
    return out


def fold_base_rates(campaigns: Sequence[Campaign], k: int) -> dict[str, float]:
    """The base rates campaign ``k`` is scored against: those of the other campaigns."""
    return base_rates([c for j, c in enumerate(campaigns) if j != k])


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
        "campaign_z": values["reference_z"][k],
        "campaign_dates": values["reference_dates"][k],
        "campaign_org": np.asarray(orgs.index(campaigns[k].organisation), dtype="int64"),
        "campaign_elapsed": np.asarray(0.0),
        "campaign_path_days": np.zeros(campaign_level.PATH_SLOTS),
        "campaign_open": np.asarray(0.0),
    }


def backtest_campaigns(
    campaigns: Sequence[Campaign],
    *,
    model_config: Mapping[str, Any] | None = None,
    seed: int = DEFAULT_SEED,
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
    values = campaign_level.reference_values(cfg, campaigns, orgs)
    started = time.perf_counter()
    rows = []
    for k, campaign in enumerate(campaigns):
        fold = compiled.with_data(**fold_data(campaigns, orgs, values, k))
        idata = sampling.sample(fold, sampler, seed + k)
        post = idata.posterior
        p = post["p_success"].values.reshape(-1)
        endgame_draws = [
            post[name].values.reshape(-1)
            for name in ("endgame_location", "endgame_shape", "endgame_focal")
        ]
        dates = campaign.meeting_days

        def within(days: float, p=p, endgame_draws=endgame_draws, dates=dates) -> float:
            return float(campaign_level.p_within(cfg, p, *endgame_draws, dates, days).mean())

        forecasts = {"confirmed": float(p.mean())}
        for days in HORIZONS_DAYS:
            forecasts[f"within_{days}"] = within(days)
        if first_meeting_end(campaign) is not None:
            forecasts[FIRST_MEETING] = within(first_meeting_end(campaign))
        ones = np.ones_like(p)
        later = later_counts(campaign)
        rows.append(
            {
                "id": campaign.id,
                "forecasts": forecasts,
                "outcomes": outcomes(campaign),
                # Where the outcome's day falls in the endgame's forecast distribution:
                # the middle of the week it is read as (as the campaign level reads it).
                "pit": float(
                    campaign_level.p_within(
                        cfg, ones, *endgame_draws, dates, _reading_middle(cfg, campaign)
                    ).mean()
                ),
                "base_rate": fold_base_rates(campaigns, k),
                "independent_holdouts": independent_holdouts(campaign, model_config),
                # The time left at each later dated count (``later_counts``).
                "time_left": {
                    "dates": [n.date.isoformat() for n in later],
                    "holdouts": [n.holdouts for n in later],
                    "forecasts": time_left_forecasts(cfg, post, campaign, orgs),
                    "outcomes": [time_left_outcome(campaign, n) for n in later],
                    "base_rate": time_left_base_rate(
                        [c for j, c in enumerate(campaigns) if j != k]
                    ),
                },
                "divergences": int(idata.sample_stats["diverging"].sum()),
            }
        )
    logger.info("left %d campaigns out in %.1f s", len(rows), time.perf_counter() - started)
    return summarise(rows)


def _reading_middle(cfg: Mapping[str, Any], campaign: Campaign) -> float:
    """The middle of the days a past campaign's outcome is read as (its last week)."""
    return 0.5 * (max(campaign.days - cfg["reference_window_days"], 0.5) + campaign.days)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Brier and log scores of the model and of the base rate, overall and per question."""

    def pairs(key: str, questions: Sequence[str]) -> list[tuple[float, float]]:
        return [
            (r[key][q], r["outcomes"][q]) for r in rows for q in questions if q in r["outcomes"]
        ]

    model, base = brier_log(pairs("forecasts", QUESTIONS)), brier_log(pairs("base_rate", QUESTIONS))
    timing_model = brier_log(pairs("forecasts", TIMING_QUESTIONS))
    timing_base = brier_log(pairs("base_rate", TIMING_QUESTIONS))
    independent = brier_log([(r["independent_holdouts"], r["outcomes"]["confirmed"]) for r in rows])
    pit = np.array([r["pit"] for r in rows])
    return {
        "n_campaigns": len(rows),
        "campaigns": rows,
        "brier": model["brier"],
        "log": model["log"],
        "base_rate_brier": base["brier"],
        "base_rate_log": base["log"],
        "timing": {
            "questions": list(TIMING_QUESTIONS),
            "brier": timing_model["brier"],
            "log": timing_model["log"],
            "base_rate_brier": timing_base["brier"],
            "base_rate_log": timing_base["log"],
        },
        "by_question": {q: _question_scores(pairs, q) for q in QUESTIONS},
        "time_left": time_left_scores(rows),
        # Per campaign, the model's mean Brier score over its questions minus the base
        # rate's, then the mean and standard error over campaigns (negative: the model
        # is better). Pairing by campaign keeps one hard campaign from counting twice.
        "paired": {
            "all": paired_difference(rows, QUESTIONS),
            "timing": paired_difference(rows, TIMING_QUESTIONS),
            "confirmed": paired_difference(rows, ("confirmed",)),
        },
        "independent_holdouts": {"question": "confirmed", **independent},
        "endgame_calibration": {
            "pit": pit.tolist(),
            "coverage_50": float(np.mean((pit >= 0.25) & (pit <= 0.75))),
            "coverage_90": float(np.mean((pit >= 0.05) & (pit <= 0.95))),
            # PIT counts in quarters: a calibrated forecast puts a quarter in each.
            "pit_quarters": np.histogram(pit, bins=4, range=(0.0, 1.0))[0].tolist(),
        },
    }


def time_left_scores(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Brier and log scores of the time-left questions (every later dated count of every
    campaign) beside their base rate, and the model minus the base rate paired by
    campaign (each campaign's mean over its counts)."""
    model, base, diffs = [], [], []
    for r in rows:
        left = r.get("time_left") or {}
        pairs = list(zip(left.get("forecasts", []), left.get("outcomes", []), strict=True))
        if not pairs:
            continue
        model += pairs
        base += [(left["base_rate"], y) for _, y in pairs]
        diffs.append(
            float(np.mean([(f - y) ** 2 - (left["base_rate"] - y) ** 2 for f, y in pairs]))
        )
    return {
        "days": TIME_LEFT_DAYS,
        "counts": len(model),
        **brier_log(model),
        **{f"base_rate_{k}": v for k, v in brier_log(base).items() if k != "n"},
        "paired": _mean_and_se(diffs),
    }


def paired_difference(
    rows: Sequence[Mapping[str, Any]], questions: Sequence[str], against: str = "base_rate"
) -> dict[str, float]:
    """The model's Brier score minus ``against``'s, paired by campaign: each campaign's
    mean over its ``questions``, then the mean difference over campaigns and its standard
    error (sd / sqrt(n))."""
    diffs = []
    for r in rows:
        asked = [q for q in questions if q in r["outcomes"]]
        if not asked:
            continue
        y = np.array([r["outcomes"][q] for q in asked])
        model = np.array([r["forecasts"][q] for q in asked])
        other = np.array([r[against][q] for q in asked])
        diffs.append(float(np.mean((model - y) ** 2) - np.mean((other - y) ** 2)))
    return _mean_and_se(diffs)


def _mean_and_se(diffs: Sequence[float]) -> dict[str, float]:
    """Per-campaign differences summarised: their mean, its standard error (sd /
    sqrt(n)) and n; NaN where too few to tell."""
    d = np.array(diffs, dtype=float)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    return {"difference": float(d.mean()) if d.size else float("nan"), "se": se, "n": int(d.size)}


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
