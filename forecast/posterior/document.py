"""The forecast document (the ``GET /forecast`` JSON), built from posterior draws."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forecast.posterior import predict
from forecast.posterior.draws import DRAWS_FILE, PosteriorDraws
from forecast.posterior.pivotal import pivotal

logger = logging.getLogger(__name__)

# The probability-over-time curve: weekly points from the cut-off to this many days on.
CURVE_DAYS = 280
CURVE_STEP_DAYS = 7
# Draws behind the curve (a chart: 1000 draws put its Monte Carlo error below 0.01).
CURVE_DRAWS = 1000
BY_PREFIX = "by_"


def _deadline_entry(
    draws: PosteriorDraws, key: str, label: str, date: dt.date, assume: Mapping[str, str]
) -> dict[str, Any]:
    """P(confirmed by ``date``) with its interval: 0 for a passed deadline, which the
    record settles (``predict.not_yet``), as each member's P(endorsed by it) is
    (``_endorsed_by``)."""
    p = predict.confirmed_by(draws, draws.day(date), assume)
    return {
        "key": key,
        "label": label,
        "date": date.isoformat(),
        "p_confirmed": float(p.mean()),
        "interval": list(predict.interval(p)),
    }


def passed(draws: PosteriorDraws, date: dt.date) -> bool:
    """Whether a deadline's last day is on or before the cut-off: nothing after the
    cut-off can count towards it, so the reports settle it."""
    return draws.day(date) <= draws.censor_day


def _endorsed_by(draws: PosteriorDraws, date: dt.date, assume: Mapping[str, str]) -> np.ndarray:
    """Per ally: P(endorsed by ``date``), settled by the reports for a passed deadline."""
    if passed(draws, date):
        return predict.reported_by(draws, draws.day(date), assume)
    return predict.endorsed_by(draws, np.full(draws.n_draws, draws.day(date)), assume).mean(axis=0)


def pivotal_entries(
    draws: PosteriorDraws,
    deadlines: Sequence[tuple[str, str, dt.date]],
    names: Mapping[str, str],
    assume: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Per deadline still ahead, each member not yet endorsed (nor assumed): P(confirmed
    by it) if it endorsed at the cut-off and if it refused, and ``change``, how much its
    endorsing today would move the forecast; largest change first, with the reasons on
    record for which it holds out (none for a member that is only silent).

    Ties keep the ally order. A deadline that has passed (``passed``) is left out: no
    decision now can move it.
    """
    deadlines = [deadline for deadline in deadlines if not passed(draws, deadline[2])]
    if not deadlines:
        return []
    days = np.array([draws.day(d) for _, _, d in deadlines])
    endorses, refuses = pivotal(draws, days, assume)
    endorses, refuses = endorses.mean(axis=0), refuses.mean(axis=0)  # (ally, k)
    today = predict.confirmed_by(draws, days, assume).mean(axis=0)  # (k,)
    open_allies = [
        i
        for i, code in enumerate(draws.codes)
        if draws.member[i] > 0 and draws.status[i] != "endorsed" and code not in assume
    ]
    entries = []
    for k, (key, _, _) in enumerate(deadlines):
        rows = [
            {
                "code": draws.codes[i],
                "name": names.get(draws.codes[i], draws.codes[i]),
                "status": draws.status[i],
                "reasons": list(draws.reasons[i]) if draws.reasons else [],
                "if_endorses": float(endorses[i, k]),
                "if_refuses": float(refuses[i, k]),
                "change": float(endorses[i, k] - today[k]),
            }
            for i in open_allies
        ]
        rows.sort(key=lambda r: -r["change"])
        entries.append({"key": key, "p_confirmed": float(today[k]), "allies": rows})
    return entries


def build_document(
    draws: PosteriorDraws,
    *,
    question: str,
    candidate: str,
    deadlines: Sequence[tuple[str, str, dt.date]],
    names: Mapping[str, str],
    meta: Mapping[str, Any],
    by: Sequence[dt.date] = (),
    assume: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Summarise the draws as the forecast document of the HTTP API.

    Parameters
    ----------
    draws
        Posterior draws and the cut-off's observations.
    question, candidate
        From ``data/question.toml``.
    deadlines
        ``(key, label, last day)`` of each deadline; ``by`` dates are added after them.
    names
        Ally code to name.
    meta
        Run fields copied into the document (``run_id``, ``published_at``,
        ``evidence_count``, ``diagnostics``...).
    by
        Extra deadlines (``?by=``).
    assume
        What-if outcomes per ally (``endorsed`` or ``opposed``), conditioned on without
        refitting.

    Returns
    -------
    dict
        JSON-ready; probabilities are posterior means, intervals 94% equal-tailed.
    """
    # Given the record: no confirmation by the cut-off (a no-op while a member is undecided).
    draws = predict.on_the_record(draws)
    assume = dict(assume or {})
    all_deadlines = list(deadlines) + [
        (f"{BY_PREFIX}{d.isoformat()}", f"By {d.isoformat()}", d) for d in by
    ]
    entries = [_deadline_entry(draws, k, label, d, assume) for k, label, d in all_deadlines]
    ever_confirmed = predict.confirmed_ever(draws, assume)
    ever = predict.endorse_ever(draws, assume).mean(axis=0)
    by_deadline = {key: _endorsed_by(draws, d, assume) for key, _, d in all_deadlines}
    holdout = predict.last_holdout(draws, assume)
    ranked = pivotal_entries(draws, all_deadlines, names, assume)
    allies = []
    for i, code in enumerate(draws.codes):
        allies.append(
            {
                "code": code,
                "name": names.get(code, code),
                "status": draws.status[i],
                "p_endorse": float(ever[i]),
                "p_endorse_by": {key: float(v[i]) for key, v in by_deadline.items()},
                "p_last_holdout": float(holdout[i]),
            }
        )
    curve_days = draws.censor_day + np.arange(0, CURVE_DAYS + 1, CURVE_STEP_DAYS, dtype=float)
    curve = predict.confirmed_by(predict.thinned(draws, CURVE_DRAWS), curve_days, assume)
    lo, hi = np.quantile(curve, [0.03, 0.97], axis=0)
    return {
        "question": question,
        "candidate": candidate,
        "as_of": draws.as_of.isoformat(),
        **{k: meta[k] for k in ("run_id", "published_at", "evidence_count") if k in meta},
        "assume": assume,
        "deadlines": entries,
        "p_ever_confirmed": float(ever_confirmed.mean()),
        "p_ever_confirmed_interval": list(predict.interval(ever_confirmed)),
        "allies": allies,
        "pivotal": ranked,
        "curve": [
            {
                "date": draws.date(day).isoformat(),
                "p_confirmed": float(curve[:, k].mean()),
                "interval": [float(lo[k]), float(hi[k])],
            }
            for k, day in enumerate(curve_days)
        ],
        "timing_form": draws.timing,
        **{k: v for k, v in meta.items() if k not in ("run_id", "published_at", "evidence_count")},
    }


# The fields of a document that belong to its run, not to its numbers (``Forecaster.run``
# passes them as ``meta``).
RUN_FIELDS: tuple[str, ...] = ("run_id", "published_at", "evidence_count", "diagnostics")


def rerender(
    run_dir: Path | str,
    document: Mapping[str, Any],
    *,
    by: Sequence[dt.date] = (),
    assume: Mapping[str, str] | None = None,
    load_draws: Callable[[Path], PosteriorDraws] = PosteriorDraws.load,
) -> dict[str, Any]:
    """Recompute a stored run's document with extra deadlines and what-if outcomes.

    Reads only the run's ``draws.npz`` (numpy), so the API can answer ``?by=`` and
    ``?assume=`` without PyMC. ``load_draws`` reads them (a caller that answers many
    what-ifs passes one that keeps recent runs in memory).
    """
    draws = load_draws(Path(run_dir) / DRAWS_FILE)
    deadlines = [
        (d["key"], d["label"], dt.date.fromisoformat(d["date"]))
        for d in document["deadlines"]
        if not d["key"].startswith(BY_PREFIX)
    ]
    # The run's own fields, and nothing else: every number is computed again from the
    # draws (a key passed through unread would echo a stored value into the what-if).
    meta = {k: document[k] for k in RUN_FIELDS if k in document}
    return build_document(
        draws,
        question=document["question"],
        candidate=document["candidate"],
        deadlines=deadlines,
        names={a["code"]: a["name"] for a in document["allies"]},
        meta=meta,
        by=by,
        assume=assume,
    )
