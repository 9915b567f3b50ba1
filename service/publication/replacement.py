"""What a publication changed since the forecast it replaced, or a withdrawal back to it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.data.clock import utcnow
from service.common.tables import ForecastRow, RunRow
from service.publication.live import live_forecasts, served_at

logger = logging.getLogger(__name__)

# Allies listed as moved most, by the change of P(ever endorses).
MOVED_ALLIES = 5


def replaced_forecast(
    session: Session,
    as_of: dt.date,
    live: bool,
    before: dt.datetime | None = None,
    other_than: str | None = None,
) -> ForecastRow | None:
    """The forecast a publication at ``as_of`` replaced (among those published ``before``,
    served now, and other than ``other_than``), or None.

    A live run's replaces the live forecast (``service.publication.live``). A manual run's
    replaces the newest served at its own cut-off (what ``?as_of=`` served there), or
    nothing: it never takes the live forecast's place, so it is never compared with it.
    """
    query = live_forecasts() if live else served_at(as_of)
    if before is not None:
        query = query.where(ForecastRow.published_at < before)
    if other_than is not None:
        query = query.where(ForecastRow.run_id != other_than)
    return session.scalars(query.limit(1)).first()


def difference(
    previous: Mapping[str, Any] | None,
    previous_evidence: Iterable[str],
    document: Mapping[str, Any] | None,
    evidence: Sequence[str],
) -> dict[str, Any]:
    """The change from ``previous`` (a document, or None for the first) to ``document``
    (or None: a manual run's withdrawal that left nothing served at its cut-off).

    Evidence ids are those each run was fitted on; an id of the previous run missing from
    the new one was retracted (the new cut-off is never earlier).
    """
    before_ids = set(previous_evidence)
    now_ids = set(evidence)

    def moved(before: float | None, after: float | None) -> dict[str, Any]:
        delta = None if before is None or after is None else after - before
        return {"before": before, "after": after, "delta": delta}

    old_deadlines = {d["key"]: d["p_confirmed"] for d in (previous or {}).get("deadlines", [])}
    new_deadlines = {d["key"]: d["p_confirmed"] for d in (document or {}).get("deadlines", [])}
    old_allies = {a["code"]: a["p_endorse"] for a in (previous or {}).get("allies", [])}
    allies = [
        {"code": a["code"], "name": a["name"], **moved(old_allies.get(a["code"]), a["p_endorse"])}
        for a in (document or {}).get("allies", [])
    ]
    allies = [a for a in allies if a["delta"]]
    allies.sort(key=lambda a: -abs(a["delta"]))
    return {
        "previous_run_id": previous["run_id"] if previous else None,
        "added": [i for i in evidence if i not in before_ids],
        "retracted": sorted(before_ids - now_ids),
        "deadlines": [
            {"key": key, **moved(old_deadlines.get(key), new_deadlines.get(key))}
            for key in new_deadlines or old_deadlines
        ],
        "p_ever_confirmed": moved(
            (previous or {}).get("p_ever_confirmed"), (document or {}).get("p_ever_confirmed")
        ),
        "allies": allies[:MOVED_ALLIES],
    }


def record_change(session: Session, run: RunRow, document: Mapping[str, Any]) -> dict[str, Any]:
    """The change a run about to be published makes (call before adding its forecast)."""
    previous = replaced_forecast(session, run.as_of, run.live)
    return change_from(session, previous, document, run.evidence_ids or [])


def record_withdrawal(session: Session, forecast: ForecastRow, run: RunRow) -> bool:
    """Withdraw ``forecast`` (``run``'s), recording the change back to the forecast served
    in its place: the live forecast before it, or for a manual run the one before it at its
    cut-off, or nothing. False, changing nothing, for the only live forecast (nothing
    would be served in its place). The caller holds the row locked and commits."""
    restored = replaced_forecast(session, forecast.as_of, run.live, other_than=run.id)
    if restored is None and run.live:
        return False
    if restored is None:
        # Nothing is served in its place, and no item was retracted: none is listed.
        change = difference(msgspec.json.decode(forecast.document), (), None, [])
    else:
        change = difference(
            msgspec.json.decode(forecast.document),
            run.evidence_ids or (),
            msgspec.json.decode(restored.document),
            evidence_ids(session, restored.run_id),
        )
    # Strictly after the publication: the two entries of /forecast/changes stay distinct.
    forecast.withdrawn_at = max(utcnow(), forecast.published_at + dt.timedelta(microseconds=1))
    forecast.withdrawal = {
        **change,
        "restored_run_id": None if restored is None else restored.run_id,
    }
    return True


def change_from(
    session: Session,
    previous: ForecastRow | None,
    document: Mapping[str, Any],
    evidence: Sequence[str],
) -> dict[str, Any]:
    """The change from ``previous`` (a stored forecast, or None) to ``document``, fitted
    on ``evidence``."""
    if previous is None:
        return difference(None, (), document, evidence)
    return difference(
        msgspec.json.decode(previous.document),
        evidence_ids(session, previous.run_id),
        document,
        evidence,
    )


def evidence_ids(session: Session, run_id: str) -> list[str]:
    """The evidence ids ``run_id`` was fitted on."""
    return session.scalar(select(RunRow.evidence_ids).where(RunRow.id == run_id)) or []
