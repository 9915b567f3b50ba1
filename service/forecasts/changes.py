"""GET /forecast/changes: each publication and withdrawal, newest first, with what it changed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import msgspec
from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from service.common.db import Database
from service.common.errors import NotFound
from service.common.paging import DEFAULT_LIMIT, Key, keyset_page
from service.common.schemas import ProblemError
from service.common.tables import EvidenceRow, ForecastRow, RunRow
from service.forecasts.schemas import ChangedEvidence, ChangeOut
from service.publication.replacement import change_from, evidence_ids, replaced_forecast

logger = logging.getLogger(__name__)

# The list: each publication, and each withdrawal, newest first.
_EVENTS = union_all(
    select(
        ForecastRow.published_at.label("at"),
        ForecastRow.run_id.label("run_id"),
        literal("published").label("event"),
    ),
    select(
        ForecastRow.withdrawn_at.label("at"),
        ForecastRow.run_id.label("run_id"),
        literal("withdrawn").label("event"),
    ).where(ForecastRow.withdrawn_at.is_not(None)),
).subquery("events")
CHANGE_KEYS = (
    Key(_EVENTS.c.at, dt.datetime.fromisoformat, descending=True),  # type: ignore[arg-type]
    Key(_EVENTS.c.run_id, str, descending=True),  # type: ignore[arg-type]
)


class ChangeService:
    """Lists the recorded changes, publications and withdrawals, newest first, with the
    evidence they name."""

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
            events, next_cursor = keyset_page(session, select(_EVENTS), CHANGE_KEYS, limit, cursor)
            rows = {
                r.run_id: r
                for r in session.scalars(
                    select(ForecastRow).where(ForecastRow.run_id.in_({e.run_id for e in events}))
                )
            }
            return self._entries(session, [(rows[e.run_id], e.event) for e in events]), next_cursor

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
            return self._entries(session, [(row, "published")])[0]

    def _entries(
        self, session: Session, events: Sequence[tuple[ForecastRow, str]]
    ) -> list[ChangeOut]:
        changes = []
        for row, event in events:
            change = row.withdrawal if event == "withdrawn" else row.change
            if change is None:  # published before changes were recorded
                live = session.scalar(select(RunRow.live).where(RunRow.id == row.run_id))
                previous = replaced_forecast(
                    session, row.as_of, bool(live), before=row.published_at
                )
                change = change_from(
                    session,
                    previous,
                    msgspec.json.decode(row.document),
                    evidence_ids(session, row.run_id),
                )
            changes.append((row, event, change))
        ids = {i for _, _, c in changes for i in (*c["added"], *c["retracted"])}
        items = (
            {e.id: e for e in session.scalars(select(EvidenceRow).where(EvidenceRow.id.in_(ids)))}
            if ids
            else {}
        )
        out = []
        for row, event, change in changes:
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
                        "event": event,
                        "withdrawn_at": row.withdrawn_at,
                    },
                    ChangeOut,
                    from_attributes=True,
                )
            )
        return out
