"""The public track record: every resolved question replayed at its checkpoints, each
forecast scored against what happened, beside the reference class's base rate.

A question is resolved when it ships its replay log (``later.csv``) and its outcomes
(``outcomes.csv``): ``QuestionDir.resolved``. Each checkpoint is fitted only on the
question's own evidence dated on or before it (``backtest.backtest``), with the reference
campaigns decided before its opening day (the loader's rule). The record is stored by
``forecast.track_record_file``, which the API reads.

Definitions (README "Track record"):

- Checkpoints (``checkpoints``): the opening day, then each day news arrived (each
  distinct date of ``later.csv``) strictly before the confirmation date; beyond
  ``max_checkpoints`` the opening day and evenly spaced news days ending with the last.
- Scores: Brier ``(p - y)^2`` and log ``-(y log p + (1 - y) log(1 - p))`` of P(confirmed
  by each deadline still ahead of the checkpoint) and of P(ever confirmed), with the
  base rate's (``backtest.reference_base_rate``; for "ever", by any day) beside them.
- Calibration: the P(confirmed by a deadline) forecasts of every question and checkpoint
  in ten equal bins, each with its mean forecast and the share that came true.
- Coverage: from the posterior draws, the predictive distribution of the confirmation
  date, F(t) = P(confirmed by the end of day t | not by the cut-off), on a daily grid up
  to ``document.CURVE_DAYS`` ahead. Its central q interval runs from the first day with
  F >= (1 - q) / 2 to the first day with F >= (1 + q) / 2 (open-ended, "later or never",
  when F stays below it on the grid). The coverage of q is the share of checkpoints whose
  interval holds the actual confirmation date. The 94% intervals the document gives on
  each P(confirmed by D) are the uncertainty of a probability, not a range an outcome
  falls in, so they are recorded but not scored.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forecast.checks.backtest import (
    Outcomes,
    backtest,
    brier_log,
    calibration_table,
    load_outcomes,
    reference_base_rate,
    score,
)
from forecast.data.clock import today
from forecast.data.dataset import Dataset, load_dataset, read_evidence
from forecast.data.questions import QuestionDir
from forecast.model.config import config_hash, validated
from forecast.model.gate import GateFailed
from forecast.pipeline.fit import Forecaster
from forecast.pipeline.store import new_run_id
from forecast.posterior import predict
from forecast.posterior.document import CURVE_DAYS
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from forecast.seed import DEFAULT_SEED
from forecast.track_record_file import fingerprint, question_hash

logger = logging.getLogger(__name__)

# Eight fits per question keep the full record to minutes; chosen before any was scored.
MAX_CHECKPOINTS = 8
CALIBRATION_BINS = 10
COVERAGE_LEVELS: tuple[float, ...] = (0.5, 0.94)
# Fewer draws for ``--quick``: the record runs end to end, its numbers are not to be judged.
QUICK_SAMPLER: dict[str, Any] = {"draws": 300}
# Draws behind the confirmation date's distribution (its Monte Carlo error below 0.02).
DATE_DRAWS = 1000


def checkpoints(
    opened: dt.date,
    news: Sequence[dt.date],
    confirmed: dt.date | None,
    limit: int = MAX_CHECKPOINTS,
) -> list[dt.date]:
    """The cut-offs a question is replayed at: the opening day, then each distinct day of
    ``news`` after it and strictly before ``confirmed`` (all of them if never confirmed).

    With more than ``limit`` days, the opening day and ``m = limit - 1`` of the ``n`` news
    days are kept: the k-th (k = 1..m) at position ``floor(k n / m + 1/2)`` (1-based), so
    evenly spaced and ending with the last news day. Only dates decide: no outcome but
    the confirmation day, and no forecast.
    """
    if limit < 1:
        raise ValueError(f"limit {limit} is not a number of checkpoints (valid: 1 or more)")
    days = sorted({d for d in news if d > opened and (confirmed is None or d < confirmed)})
    kept = limit - 1
    if len(days) > kept:
        days = [days[math.floor(k * len(days) / kept + 0.5) - 1] for k in range(1, kept + 1)]
    return [opened, *days]


def confirmation_interval(
    dates: Sequence[dt.date], cdf: Sequence[float], prob: float
) -> tuple[dt.date | None, dt.date | None]:
    """The central ``prob`` interval of the confirmation date from its CDF on ``dates``
    (ascending days): the first day where the CDF reaches ``(1 - prob) / 2`` and the first
    where it reaches ``(1 + prob) / 2``; None for an end the grid does not reach (the
    interval runs past the grid's last day, "later or never")."""
    tail = (1.0 - prob) / 2.0
    values = np.asarray(cdf, dtype=float)

    def first(level: float) -> dt.date | None:
        reached = np.flatnonzero(values >= level - 1e-12)
        return dates[reached[0]] if reached.size else None

    return first(tail), first(1.0 - tail)


def covers(
    interval: tuple[dt.date | None, dt.date | None], actual: dt.date | None, last: dt.date
) -> bool:
    """Whether an interval of ``confirmation_interval`` on a grid ending at ``last`` holds
    the ``actual`` confirmation date (None: never confirmed)."""
    lo, hi = interval
    if actual is None or actual > last:  # beyond the grid: only an open-ended interval
        return hi is None
    return lo is not None and lo <= actual and (hi is None or actual <= hi)


def confirmation_cdf(draws: PosteriorDraws) -> tuple[list[dt.date], np.ndarray]:
    """P(confirmed by the end of each day) from the day after the cut-off to ``CURVE_DAYS``
    on, given no confirmation by the cut-off (as the document reads the record)."""
    draws = predict.thinned(predict.on_the_record(draws), DATE_DRAWS)
    days = draws.censor_day + np.arange(1, CURVE_DAYS + 1, dtype=float)
    cdf = predict.confirmed_by(draws, days).mean(axis=0)
    return [draws.date(day) for day in days], cdf


def _scored(p: float, y: float, base: float) -> dict[str, Any]:
    model, ref = brier_log([(p, y)]), brier_log([(base, y)])
    return {
        "outcome": y,
        "brier": model["brier"],
        "log": model["log"],
        "base_rate": base,
        "base_rate_brier": ref["brier"],
        "base_rate_log": ref["log"],
    }


def checkpoint_record(
    document: dict[str, Any],
    dataset: Dataset,
    outcomes: Outcomes,
    dates: Sequence[dt.date],
    cdf: Sequence[float],
) -> dict[str, Any]:
    """One checkpoint: each deadline still ahead of it and P(ever), forecast and base rate
    scored against the outcome, and the confirmation date's intervals and coverage."""
    as_of = dt.date.fromisoformat(document["as_of"])
    deadlines = []
    for d in document["deadlines"]:
        day = dt.date.fromisoformat(d["date"])
        if day <= as_of:  # settled by the record at the cut-off: nothing to forecast
            continue
        base = reference_base_rate(dataset, as_of, day)
        deadlines.append(
            {
                "key": d["key"],
                "label": d["label"],
                "date": d["date"],
                "p": d["p_confirmed"],
                "interval": d["interval"],
                **_scored(d["p_confirmed"], outcomes.confirmed_by(day), base),
            }
        )
    ever = float(outcomes.confirmed is not None)
    dates_of = {}
    for prob in COVERAGE_LEVELS:
        interval = confirmation_interval(dates, cdf, prob)
        dates_of[f"interval_{prob * 100:.0f}"] = [d.isoformat() if d else None for d in interval]
        dates_of[f"covered_{prob * 100:.0f}"] = covers(interval, outcomes.confirmed, dates[-1])
    return {
        "as_of": document["as_of"],
        "evidence_count": document.get("evidence_count"),
        "gate": "passed",
        "deadlines": deadlines,
        "ever": {
            "p": document["p_ever_confirmed"],
            "interval": document["p_ever_confirmed_interval"],
            **_scored(
                document["p_ever_confirmed"], ever, reference_base_rate(dataset, as_of, dt.date.max)
            ),
        },
        "confirmation_date": {
            "actual": outcomes.confirmed.isoformat() if outcomes.confirmed else None,
            "grid_last_day": dates[-1].isoformat(),
            **dates_of,
        },
    }


def replay_question(
    question: QuestionDir,
    *,
    seed: int,
    sampler_config: dict[str, Any] | None,
    max_checkpoints: int = MAX_CHECKPOINTS,
    progress: Callable[[str], None] = logger.info,
) -> dict[str, Any]:
    """Replay one resolved question at its checkpoints and score each forecast."""
    dataset = load_dataset(question.path)
    later = read_evidence(question.path / "later.csv", dataset, latest=today())
    known = {e.id for e in dataset.evidence}
    evidence = [*dataset.evidence, *(e for e in later if e.id not in known)]
    outcomes = load_outcomes(question.path / "outcomes.csv", dataset.codes)
    opened = dataset.question.opened
    days = checkpoints(opened, [e.date for e in later], outcomes.confirmed, max_checkpoints)
    forecaster = Forecaster(dataset, sampler_config=sampler_config)
    rows: list[dict[str, Any]] = []
    forecasts, baselines = [], []
    cdfs: list[tuple[list[dt.date], np.ndarray]] = []  # the confirmation date's, per fit
    with tempfile.TemporaryDirectory(prefix="track-record-") as scratch:

        def run(used, cut_off):
            run_id = new_run_id()
            result = forecaster.run(
                used, cut_off, seed=seed, run_id=run_id, run_dir=Path(scratch) / run_id
            )
            cdfs.append(confirmation_cdf(PosteriorDraws.load(result.run_dir / DRAWS_FILE)))
            return result.document, forecaster.inputs(used, cut_off).frame

        for as_of in days:
            progress(f"{question.slug}: fitting at {as_of}")
            try:
                made = backtest(dataset, evidence, [as_of], run)
            except GateFailed as exc:
                logger.warning("%s at %s: %s; not scored", question.slug, as_of, exc)
                rows.append({"as_of": as_of.isoformat(), "gate": str(exc)})
                continue
            forecasts += made["forecasts"]
            baselines += made["baselines"]
            rows.append(checkpoint_record(made["forecasts"][0], dataset, outcomes, *cdfs[-1]))
    return {
        "slug": question.slug,
        "path": str(question.path),
        "data_hash": question_hash(question.path),
        "question": dataset.question.question,
        "candidate": dataset.question.candidate,
        "opened": opened.isoformat(),
        "confirmed": outcomes.confirmed.isoformat() if outcomes.confirmed else None,
        "checkpoints": rows,
        "scores": question_scores(rows),
        # Per deadline: the model, the constant-hazard baseline and the base rate, and
        # per ally P(endorsed by it) against the endorsement dates (``backtest.score``).
        "by_deadline": score(forecasts, baselines, outcomes)["scores"] if forecasts else {},
    }


def _pairs(rows: Sequence[dict[str, Any]], field: str) -> list[tuple[float, float]]:
    scored = [r for r in rows if r.get("gate") == "passed"]
    return [(d[field], d["outcome"]) for r in scored for d in r["deadlines"]]


def _ever_pairs(rows: Sequence[dict[str, Any]], field: str) -> list[tuple[float, float]]:
    return [(r["ever"][field], r["ever"]["outcome"]) for r in rows if r.get("gate") == "passed"]


def question_scores(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean Brier and log scores of checkpoint rows: P(confirmed by a deadline) and
    P(ever), the model's and the base rate's."""
    return {
        "deadlines": {
            "model": brier_log(_pairs(rows, "p")),
            "base_rate": brier_log(_pairs(rows, "base_rate")),
        },
        "ever": {
            "model": brier_log(_ever_pairs(rows, "p")),
            "base_rate": brier_log(_ever_pairs(rows, "base_rate")),
        },
    }


def pooled(questions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Over every question and checkpoint: the scores, the calibration table of
    P(confirmed by a deadline), the confirmation date's interval coverage, and the
    per-ally scores (``backtest.score``'s, weighted by their counts)."""
    rows = [r for q in questions for r in q["checkpoints"]]
    scored = [r for r in rows if r.get("gate") == "passed"]
    coverage = {}
    for prob in COVERAGE_LEVELS:
        level = f"{prob * 100:.0f}"
        hits = sum(r["confirmation_date"][f"covered_{level}"] for r in scored)
        coverage[level] = {
            "covered": hits,
            "n": len(scored),
            "share": hits / len(scored) if scored else None,
        }
    allies: dict[str, dict[str, float]] = {}
    for name in ("model_ally", "baseline_ally"):
        parts = [s[name] for q in questions for s in q["by_deadline"].values() if s[name]["n"] > 0]
        n = sum(p["n"] for p in parts)
        allies[name] = {
            "brier": sum(p["brier"] * p["n"] for p in parts) / n if n else None,
            "log": sum(p["log"] * p["n"] for p in parts) / n if n else None,
            "n": n,
        }
    return {
        "checkpoints": len(rows),
        "failed_checkpoints": len(rows) - len(scored),
        "scores": question_scores(rows),
        "calibration": calibration_table(_pairs(rows, "p"), CALIBRATION_BINS),
        "coverage": coverage,
        "allies": allies,
    }


def sampler_settings(quick: bool, draws: int | None) -> dict[str, Any]:
    """The sampler overrides of a record: ``QUICK_SAMPLER`` when quick, ``draws`` if given."""
    overrides = dict(QUICK_SAMPLER) if quick else {}
    if draws:
        overrides["draws"] = draws
    return overrides


def build_record(
    questions: Sequence[QuestionDir],
    *,
    quick: bool = False,
    draws: int | None = None,
    seed: int = DEFAULT_SEED,
    max_checkpoints: int = MAX_CHECKPOINTS,
    progress: Callable[[str], None] = logger.info,
) -> dict[str, Any]:
    """The track record of the resolved ``questions`` (the others are left out), with what
    made it: ``track_record_file.write_record`` stores it.

    Raises
    ------
    ValueError
        When none of ``questions`` is resolved.
    """
    resolved = [q for q in questions if q.resolved]
    if not resolved:
        raise ValueError(
            "no resolved question to score (a resolved question ships later.csv and "
            f"outcomes.csv); given: {', '.join(str(q.path) for q in questions) or 'none'}"
        )
    overrides = sampler_settings(quick, draws)
    made_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    replays = [
        replay_question(
            q,
            seed=seed,
            sampler_config=overrides,
            max_checkpoints=max_checkpoints,
            progress=progress,
        )
        for q in resolved
    ]
    return {
        "made_at": made_at,
        **fingerprint(),
        "config_hash": config_hash(),
        "quick": quick,
        "settings": {
            "seed": seed,
            "sampler": validated(None, overrides)[1],
            "max_checkpoints": max_checkpoints,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "questions": replays,
        "pooled": pooled(replays),
    }
