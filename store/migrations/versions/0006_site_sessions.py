"""site sessions (SITE-6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("via_temp_password", sa.Boolean(), nullable=False),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_site_session_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_site_session")),
    )
    with op.batch_alter_table("site_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_session_number_id"), ["number_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_site_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("site_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_site_session_number_id"))
    op.drop_table("site_session")
