"""Evidence: validate and store posted items, list them, retract them; each change queues a run."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forecast.data.clock import today, utcnow
from forecast.data.dataset import Dataset
from forecast.data.records import (
    EVIDENCE_FIELDS,
    EvidenceItem,
    ValidationError,
    Vocabulary,
    validate_evidence,
)
from service.common.db import Database
from service.common.errors import BadRequest, InvalidInput, NotFound
from service.common.paging import DEFAULT_LIMIT, Key, keyset_cut, keyset_order, keyset_select
from service.common.schemas import ProblemError
from service.common.tables import EvidenceRow
from service.evidence.schemas import EvidenceIn, EvidenceOut, EvidencePosted, EvidenceRetracted
from service.http.strict import source_problem, text_problems
from service.runs.queue import in_transaction, queue_live_run

logger = logging.getLogger(__name__)

# The list's order: newest fact first, then newest stored; the id breaks ties.
EVIDENCE_KEYS = (
    Key(EvidenceRow.date, dt.date.fromisoformat, descending=True),
    Key(EvidenceRow.created_at, dt.datetime.fromisoformat, descending=True),
    Key(EvidenceRow.id, str),
)


def evidence_out(row: EvidenceRow) -> EvidenceOut:
    """The item as the API shows it (``retracted`` is the row's own property)."""
    return msgspec.convert(row, EvidenceOut, from_attributes=True)


def evidence_row(item: EvidenceItem, origin: str) -> EvidenceRow:
    fields = {field: getattr(item, field) for field in EVIDENCE_FIELDS}
    return EvidenceRow(id=item.id, **fields, origin=origin, created_at=utcnow())


def seed_evidence(database: Database, dataset: Dataset) -> int:
    """Copy the shipped ``evidence.csv`` into an empty evidence table (once, ever).

    Returns the number of items stored (0 when the table already has rows).
    """
    with database.sessions.begin() as session:
        if session.scalar(select(func.count()).select_from(EvidenceRow)):
            return 0
        unique = {item.id: item for item in dataset.evidence}
        session.add_all(evidence_row(item, "shipped") for item in unique.values())
    logger.info("stored the %d shipped evidence items", len(unique))
    return len(unique)


def posted_grievances(session: Session) -> tuple[str, ...]:
    """Ids of standing posted grievances: a ``grievance_resolved`` item may name them."""
    return tuple(
        session.scalars(
            select(EvidenceRow.id).where(
                EvidenceRow.kind == "grievance", EvidenceRow.retracted_at.is_(None)
            )
        )
    )


def checked(
    raw: Mapping[str, Any], vocabulary: Vocabulary
) -> tuple[EvidenceItem | None, list[ProblemError]]:
    """A posted item typed, or ``None`` with every problem at once, one per field (a
    control character or a bad address says most), each naming the valid values."""
    present = {k: v for k, v in raw.items() if v is not None}
    found = text_problems(present)
    source = present.get("source")
    if isinstance(source, str) and (bad_source := source_problem(source)):
        found.append(bad_source)
    try:
        item = validate_evidence(present, vocabulary, latest=today())
    except ValidationError as exc:
        named = {p.field for p in found}
        found += [
            ProblemError(p.field, p.message, p.valid) for p in exc.problems if p.field not in named
        ]
        return None, found
    return (None if found else item), found


def not_valid(problems: list[ProblemError]) -> InvalidInput:
    """The 422 for a posted item, naming its fields at fault in the title."""
    fields = ", ".join(dict.fromkeys(p.field for p in problems))
    return InvalidInput(f"the evidence is not valid: {fields}", problems)


class EvidenceService:
    """What the evidence routes do, each write in one transaction."""

    def __init__(self, database: Database, dataset: Dataset, seed: int):
        self.database = database
        self.dataset = dataset
        self.seed = seed

    def problems(self, raw: Mapping[str, Any]) -> list[ProblemError]:
        """Every problem of a posted JSON object at once, each naming its field and the
        valid values (as the file loader reports a row); empty for a valid item."""
        with self.database.reader() as session:
            return checked(raw, self.dataset.vocabulary(posted_grievances(session)))[1]

    def add(self, data: EvidenceIn) -> EvidencePosted:
        """Store an item once and queue (or join) the live run.

        Raises
        ------
        InvalidInput
            Naming each field at fault and its valid values; nothing is stored.
        """
        raw = msgspec.structs.asdict(data)

        def work(session: Session) -> EvidencePosted:
            # Checked again in the transaction that stores it: a grievance it resolves may
            # have been retracted since the request was first checked.
            item, problems = checked(raw, self.dataset.vocabulary(posted_grievances(session)))
            if item is None:
                raise not_valid(problems)
            row = session.get(EvidenceRow, item.id, with_for_update=True)
            if row is not None and row.retracted_at is None:
                return EvidencePosted(evidence_id=row.id, run_id=row.run_id, stored="duplicate")
            stored = "restored" if row is not None else "created"
            if row is None:
                row = evidence_row(item, "posted")
                session.add(row)
            row.retracted_at = None
            session.flush()
            row.run_id = queue_live_run(
                session, self.dataset, trigger="evidence", seed=self.seed
            ).id
            logger.info(
                "evidence %s %s (%s %s), run %s", item.id, stored, item.ally, item.kind, row.run_id
            )
            return EvidencePosted(evidence_id=row.id, run_id=row.run_id, stored=stored)

        return in_transaction(self.database.sessions, work)

    def retract(self, evidence_id: str) -> EvidenceRetracted:
        """Mark an item retracted (it stays listed) and queue the live run without it.

        Raises
        ------
        NotFound
            For an id that was never stored.
        """

        def work(session: Session) -> EvidenceRetracted:
            row = session.get(EvidenceRow, evidence_id, with_for_update=True)
            if row is None:
                raise NotFound(
                    f"no evidence with id {evidence_id!r}",
                    [ProblemError("evidence_id", "is not stored", "an id from GET /evidence")],
                )
            if row.retracted_at is None:
                row.retracted_at = utcnow()
                session.flush()
                row.run_id = queue_live_run(
                    session, self.dataset, trigger="retraction", seed=self.seed
                ).id
                logger.info("evidence %s retracted, run %s", row.id, row.run_id)
            return EvidenceRetracted(
                evidence_id=row.id, retracted_at=row.retracted_at, run_id=row.run_id
            )

        return in_transaction(self.database.sessions, work)

    def page(
        self,
        ally: str | None = None,
        include_retracted: bool = True,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[EvidenceOut], str | None]:
        """A page of stored items, newest first, and the cursor of the next page (or None).

        Raises
        ------
        BadRequest
            A cursor this list did not make, or else an unknown ally.
        """
        # The cursor is read before the ally is checked, so that a request with a bad
        # cursor and an unknown ally is told about the cursor.
        query = keyset_select(select(EvidenceRow), EVIDENCE_KEYS, limit, cursor)
        query = self._filtered(query, ally, include_retracted)
        with self.database.reader() as session:
            rows, next_cursor = keyset_cut(session.scalars(query).all(), EVIDENCE_KEYS, limit)
            return [evidence_out(row) for row in rows], next_cursor

    def list(self, ally: str | None = None, include_retracted: bool = True) -> list[EvidenceOut]:
        """Stored items, newest first.

        Raises
        ------
        BadRequest
            An unknown ally.
        """
        query = select(EvidenceRow).order_by(*keyset_order(EVIDENCE_KEYS))
        query = self._filtered(query, ally, include_retracted)
        with self.database.reader() as session:
            return [evidence_out(row) for row in session.scalars(query)]

    def _filtered(
        self, query: Select[tuple[EvidenceRow]], ally: str | None, include_retracted: bool
    ) -> Select[tuple[EvidenceRow]]:
        if ally is not None and ally not in self.dataset.codes:
            valid = ", ".join(sorted(self.dataset.codes))
            raise BadRequest(
                f"unknown ally {ally!r}", [ProblemError("ally", f"{ally!r} is not an ally", valid)]
            )
        if ally is not None:
            query = query.where(EvidenceRow.ally == ally)
        if not include_retracted:
            query = query.where(EvidenceRow.retracted_at.is_(None))
        return query
