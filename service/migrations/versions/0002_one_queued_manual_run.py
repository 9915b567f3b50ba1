"""One queued manual run per cut-off and seed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED_MANUAL = sa.text("status = 'queued' AND NOT live")


def upgrade() -> None:
    # Duplicates queued before this index existed are failed as superseded, keeping the
    # oldest of each cut-off and seed, so that the index can be created.
    op.execute(
        "UPDATE runs SET status = 'failed', error = 'superseded by an identical queued run' "
        "WHERE status = 'queued' AND NOT live AND EXISTS (SELECT 1 FROM runs AS older "
        "WHERE older.status = 'queued' AND NOT older.live AND older.as_of = runs.as_of "
        "AND older.seed = runs.seed AND (older.requested_at < runs.requested_at "
        "OR (older.requested_at = runs.requested_at AND older.id < runs.id)))"
    )
    op.create_index(
        "uq_runs_one_queued_manual",
        "runs",
        ["as_of", "seed"],
        unique=True,
        sqlite_where=QUEUED_MANUAL,
        postgresql_where=QUEUED_MANUAL,
    )


def downgrade() -> None:
    op.drop_index("uq_runs_one_queued_manual", table_name="runs")
