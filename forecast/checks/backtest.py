"""Backtests: refit at past cut-offs and score the forecasts against dated outcomes."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from forecast.data.dataset import Dataset
from forecast.data.records import EvidenceItem, Problem, ValidationError, parse_date

logger = logging.getLogger(__name__)

OUTCOME_EVENTS: tuple[str, ...] = ("endorsement", "confirmation")
CALIBRATION_BINS = 5
# Keeps log scores finite for a forecast of exactly 0 or 1.
EPSILON = 1e-6


class Outcomes(msgspec.Struct, frozen=True, kw_only=True):
    """What happened: each ally's endorsement date and the confirmation date (or None)."""

    endorsed: dict[str, dt.date]
    confirmed: dt.date | None

    def confirmed_by(self, day: dt.date) -> float:
        """1.0 if the candidate was confirmed on or before ``day``, else 0.0."""
        return float(self.confirmed is not None and self.confirmed <= day)


def load_outcomes(path: Path | str, codes: Sequence[str]) -> Outcomes:
    """Read an outcomes CSV with columns ``event,ally,date``.

    ``event`` is ``endorsement`` (with an ally code) or ``confirmation`` (ally empty).

    Raises
    ------
    ValidationError
        Naming the row, the field and the valid values.
    """
    problems: list[Problem] = []
    endorsed: dict[str, dt.date] = {}
    confirmed = None
    name = Path(path).name
    with Path(path).open(newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            row_problems: list[Problem] = []
            event = (row.get("event") or "").strip()
            day = parse_date(row.get("date"), "date", row_problems)
            ally = (row.get("ally") or "").strip()
            if event not in OUTCOME_EVENTS:
                row_problems.append(Problem("event", f"{event!r}", ", ".join(OUTCOME_EVENTS)))
            elif event == "endorsement" and ally not in codes:
                row_problems.append(Problem("ally", f"{ally!r}", ", ".join(sorted(codes))))
            problems.extend(msgspec.structs.replace(p, file=name, row=number) for p in row_problems)
            if row_problems:
                continue
            if event == "endorsement":
                endorsed[ally] = day
            else:
                confirmed = day
    if problems:
        raise ValidationError(problems)
    return Outcomes(endorsed=endorsed, confirmed=confirmed)


def naive_document(
    dataset: Dataset, inputs_frame: Any, as_of: dt.date, deadlines: Sequence[tuple[str, dt.date]]
) -> dict[str, Any]:
    """The baselines: a constant endorsement hazard estimated from the endorsements so
    far (``deadlines``, ``allies``), and the reference class's base rate (``base_rate``).

    ``lambda = endorsements / exposure days`` (exposure from the campaign start to each
    member's endorsement or the cut-off); every undecided member then endorses by D
    with probability ``1 - exp(-lambda * (D - as_of))``, independently.
    """
    start = dataset.question.campaign_start
    frame = inputs_frame
    members = frame[frame["member"] > 0]
    endorsed = members["status"] == "endorsed"
    exposure = np.where(endorsed, members["event_day"], (as_of - start).days + 1).sum()
    rate = endorsed.sum() / max(float(exposure), 1.0)
    out: dict[str, Any] = {"deadlines": {}, "allies": {}, "base_rate": {}}
    for key, day in deadlines:
        out["base_rate"][key] = reference_base_rate(dataset, as_of, day)
        horizon = max((day - as_of).days, 0)
        p_undecided = 1.0 - math.exp(-rate * horizon)
        per_ally = {
            code: 1.0 if status == "endorsed" else p_undecided
            for code, status in members["status"].items()
        }
        out["allies"][key] = per_ally
        out["deadlines"][key] = float(np.prod(list(per_ally.values())))
    return out


def reference_base_rate(dataset: Dataset, as_of: dt.date, day: dt.date) -> float:
    """The reference class's base rate of a confirmation by ``day``, seen at ``as_of``.

    Among the reference campaigns still open as many days after their emergence as this
    campaign is at ``as_of``, the share confirmed within as many days as ``day`` is from
    this campaign's emergence (one success and one failure added: Laplace). No model:
    what a reader of the reference class alone would say.
    """
    emerged = dataset.question.emerged
    elapsed = (as_of - emerged).days
    horizon = (day - emerged).days
    still_open = [c for c in dataset.campaigns if (c.outcome_date - c.emerged).days > elapsed]
    hits = sum(c.confirmed and (c.outcome_date - c.emerged).days <= horizon for c in still_open)
    return (hits + 1.0) / (len(still_open) + 2.0)


def brier_log(pairs: list[tuple[float, float]]) -> dict[str, float]:
    """Mean Brier and log scores of (forecast, outcome) pairs, and how many there are."""
    if not pairs:
        return {"brier": float("nan"), "log": float("nan"), "n": 0}
    p = np.clip(np.array([a for a, _ in pairs]), EPSILON, 1 - EPSILON)
    y = np.array([b for _, b in pairs])
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "log": float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))),
        "n": len(pairs),
    }


def calibration_table(
    pairs: Sequence[tuple[float, float]], bins: int = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """(forecast, outcome) pairs in ``bins`` equal-width bins of the forecast: per bin
    with a pair, its range (``lo-hi``: lo included, hi excluded but for the last bin,
    which holds 1.0), how many pairs, their mean forecast and the observed frequency."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        inside = [(p, y) for p, y in pairs if lo <= p < hi or (hi == 1 and p == 1)]
        if inside:
            rows.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "n": len(inside),
                    "mean_forecast": float(np.mean([p for p, _ in inside])),
                    "observed": float(np.mean([y for _, y in inside])),
                }
            )
    return rows


def score(
    forecasts: Sequence[dict[str, Any]],
    baselines: Sequence[dict[str, Any]],
    outcomes: Outcomes,
) -> dict[str, Any]:
    """Brier and log scores per deadline (confirmation and per-ally), model vs baseline.

    Per-ally questions are scored only for allies undecided at each cut-off (the others
    are known), and no question is scored at a cut-off on or after its deadline (its
    answer is a matter of record by then). Also a calibration table of per-ally forecasts
    in equal-width bins.
    """
    table: dict[str, Any] = {}
    calibration: list[tuple[float, float]] = []
    for doc, base in zip(forecasts, baselines, strict=True):
        as_of = dt.date.fromisoformat(doc["as_of"])
        for deadline in doc["deadlines"]:
            key, day = deadline["key"], dt.date.fromisoformat(deadline["date"])
            if day <= as_of:
                continue
            hit = outcomes.confirmed_by(day)
            entry = table.setdefault(
                key,
                {
                    "model": [],
                    "baseline": [],
                    "base_rate": [],
                    "model_ally": [],
                    "baseline_ally": [],
                },
            )
            entry["model"].append((deadline["p_confirmed"], hit))
            entry["baseline"].append((base["deadlines"][key], hit))
            entry["base_rate"].append((base["base_rate"][key], hit))
            for ally in doc["allies"]:
                if ally["status"] in ("endorsed", "not_member"):
                    continue
                when = outcomes.endorsed.get(ally["code"])
                y = float(when is not None and when <= day)
                p = ally["p_endorse_by"][key]
                entry["model_ally"].append((p, y))
                entry["baseline_ally"].append((base["allies"][key][ally["code"]], y))
                calibration.append((p, y))
    scores = {
        key: {name: brier_log(pairs) for name, pairs in entry.items()}
        for key, entry in table.items()
    }
    return {"scores": scores, "calibration": calibration_table(calibration)}


def backtest(
    dataset: Dataset,
    evidence: Sequence[EvidenceItem],
    cutoffs: Sequence[dt.date],
    run: Callable[[Sequence[EvidenceItem], dt.date], tuple[dict[str, Any], Any]],
    outcomes: Outcomes | None = None,
) -> dict[str, Any]:
    """Refit at each cut-off on the evidence dated up to it, and score given outcomes.

    Parameters
    ----------
    run
        ``run(evidence, as_of) -> (document, input frame)``: one published fit.

    Returns
    -------
    dict
        ``forecasts`` (one document per cut-off), ``baselines`` and, with outcomes,
        ``scores`` and ``calibration``.
    """
    forecasts, baselines = [], []
    for as_of in sorted(cutoffs):
        used = [e for e in evidence if e.date <= as_of]
        document, frame = run(used, as_of)
        deadlines = [(d["key"], dt.date.fromisoformat(d["date"])) for d in document["deadlines"]]
        forecasts.append(document)
        baselines.append(naive_document(dataset, frame, as_of, deadlines))
        logger.info("backtest cut-off %s done", as_of)
    result: dict[str, Any] = {"forecasts": forecasts, "baselines": baselines}
    if outcomes is not None:
        result.update(score(forecasts, baselines, outcomes))
    return result
