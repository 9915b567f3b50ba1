"""What changed with each published forecast: the evidence added or retracted since the
forecast it replaced, and how the probabilities moved."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.common.db import Database
from service.common.errors import NotFound
from service.common.paging import DEFAULT_LIMIT, Key, keyset_page
from service.common.schemas import ChangedEvidence, ChangeOut, ProblemError
from service.common.tables import EvidenceRow, ForecastRow, RunRow

logger = logging.getLogger(__name__)

# Allies listed as moved most, by the change of P(ever endorses).
MOVED_ALLIES = 5
# The list's order: newest publication first.
CHANGE_KEYS = (
    Key(ForecastRow.published_at, dt.datetime.fromisoformat, descending=True),
    Key(ForecastRow.run_id, str, descending=True),
)


def replaced_forecast(
    session: Session, as_of: dt.date, before: dt.datetime | None = None
) -> ForecastRow | None:
    """The forecast a publication at ``as_of`` replaced (among those published ``before``).

    The live forecast (greatest cut-off, then newest) when the new one takes its place;
    otherwise the newest at the same cut-off (the one ``?as_of=`` served), or None.
    """
    query = select(ForecastRow)
    if before is not None:
        query = query.where(ForecastRow.published_at < before)
    live = session.scalars(
        query.order_by(
            ForecastRow.as_of.desc(), ForecastRow.published_at.desc(), ForecastRow.run_id.desc()
        ).limit(1)
    ).first()
    if live is None or live.as_of <= as_of:
        return live
    return session.scalars(
        query.where(ForecastRow.as_of == as_of)
        .order_by(ForecastRow.published_at.desc(), ForecastRow.run_id.desc())
        .limit(1)
    ).first()


def difference(
    previous: Mapping[str, Any] | None,
    previous_evidence: Iterable[str],
    document: Mapping[str, Any],
    evidence: Sequence[str],
) -> dict[str, Any]:
    """The change from ``previous`` (a document, or None for the first) to ``document``.

    Evidence ids are those each run was fitted on; an id of the previous run missing from
    the new one was retracted (the new cut-off is never earlier).
    """
    before_ids = set(previous_evidence)
    now_ids = set(evidence)

    def moved(before: float | None, after: float) -> dict[str, Any]:
        delta = None if before is None else after - before
        return {"before": before, "after": after, "delta": delta}

    old_deadlines = {d["key"]: d["p_confirmed"] for d in (previous or {}).get("deadlines", [])}
    old_allies = {a["code"]: a["p_endorse"] for a in (previous or {}).get("allies", [])}
    allies = [
        {"code": a["code"], "name": a["name"], **moved(old_allies.get(a["code"]), a["p_endorse"])}
        for a in document["allies"]
    ]
    allies = [a for a in allies if a["delta"]]
    allies.sort(key=lambda a: -abs(a["delta"]))
    return {
        "previous_run_id": previous["run_id"] if previous else None,
        "added": [i for i in evidence if i not in before_ids],
        "retracted": sorted(before_ids - now_ids),
        "deadlines": [
            {"key": d["key"], **moved(old_deadlines.get(d["key"]), d["p_confirmed"])}
            for d in document["deadlines"]
        ],
        "p_ever_confirmed": moved(
            (previous or {}).get("p_ever_confirmed"), document["p_ever_confirmed"]
        ),
        "allies": allies[:MOVED_ALLIES],
    }


def record_change(session: Session, run: RunRow, document: Mapping[str, Any]) -> dict[str, Any]:
    """The change a run about to be published makes (call before adding its forecast)."""
    previous = replaced_forecast(session, run.as_of)
    return _change_from(session, previous, document, run.evidence_ids or [])


def _change_from(
    session: Session,
    previous: ForecastRow | None,
    document: Mapping[str, Any],
    evidence: Sequence[str],
) -> dict[str, Any]:
    if previous is None:
        return difference(None, (), document, evidence)
    before = session.scalar(select(RunRow.evidence_ids).where(RunRow.id == previous.run_id))
    return difference(msgspec.json.decode(previous.document), before or (), document, evidence)


class ChangeService:
    """Lists the recorded changes, newest publication first, with the evidence they name."""

    def __init__(self, database: Database):
        self.database = database

    def page(
        self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[ChangeOut], str | None]:
        """A page of changes and the cursor of the next page (or None).

        Raises
        ------
        BadRequest
            A cursor this list did not make.
        """
        with self.database.reader() as session:
            rows, next_cursor = keyset_page(
                session, select(ForecastRow), CHANGE_KEYS, limit, cursor
            )
            return self._entries(session, rows), next_cursor

    def get(self, run_id: str) -> ChangeOut:
        """The change of one published run; ``NotFound`` for a run that published nothing."""
        with self.database.reader() as session:
            row = session.get(ForecastRow, run_id)
            if row is None:
                raise NotFound(
                    f"run {run_id!r} published no forecast",
                    [
                        ProblemError(
                            "run_id", "published no forecast", "a run_id of GET /forecast/history"
                        )
                    ],
                )
            return self._entries(session, [row])[0]

    def _entries(self, session: Session, rows: Sequence[ForecastRow]) -> list[ChangeOut]:
        changes = []
        for row in rows:
            change = row.change
            if change is None:  # published before changes were recorded
                previous = replaced_forecast(session, row.as_of, before=row.published_at)
                evidence = session.scalar(
                    select(RunRow.evidence_ids).where(RunRow.id == row.run_id)
                )
                change = _change_from(
                    session, previous, msgspec.json.decode(row.document), evidence or []
                )
            changes.append((row, change))
        ids = {i for _, c in changes for i in (*c["added"], *c["retracted"])}
        items = (
            {e.id: e for e in session.scalars(select(EvidenceRow).where(EvidenceRow.id.in_(ids)))}
            if ids
            else {}
        )
        out = []
        for row, change in changes:
            named = [
                ChangedEvidence(
                    id=i,
                    change=how,
                    ally=items[i].ally,
                    kind=items[i].kind,  # type: ignore[arg-type]
                    date=items[i].date,
                    source=items[i].source,
                    summary=items[i].summary,
                )
                for how in ("added", "retracted")
                for i in change[how]
                if i in items
            ]
            out.append(
                msgspec.convert(
                    {
                        **change,
                        "run_id": row.run_id,
                        "as_of": row.as_of,
                        "published_at": row.published_at,
                        "evidence": named,
                    },
                    ChangeOut,
                    from_attributes=True,
                )
            )
        return out
