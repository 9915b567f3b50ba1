"""What changed with each published forecast; the newest live run found by an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Forecasts published before this column existed have none: the API derives theirs.
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("change", sa.JSON(), nullable=True))
    op.create_index("ix_runs_live_requested", "runs", ["live", "requested_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_live_requested", table_name="runs")
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_column("change")
