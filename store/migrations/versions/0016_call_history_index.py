"""A number's call history in index order (issue 18)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 01:05:00

call_record gets the index (number_id, started_at, id): the history pages
(the site's, number show --calls, GET /api/v1/numbers/{n}/calls) read a
number's calls newest first after a keyset cursor without sorting them all.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_call_record_number_started",
        "call_record",
        ["number_id", "started_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_call_record_number_started", table_name="call_record")
