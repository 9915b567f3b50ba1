"""The question whose records a database (or schema) holds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row, written at the first start that serves a question from this database.
    op.create_table("question", sa.Column("slug", sa.String(64), primary_key=True))


def downgrade() -> None:
    op.drop_table("question")
