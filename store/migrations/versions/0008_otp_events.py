"""one-time code events (SITE-5 caps per number, issue 12 item 11)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "code_mailed",
                "code_wrong",
                name="otp_event_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_otp_event_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_event")),
    )
    with op.batch_alter_table("otp_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_otp_event_number_id"), ["number_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_otp_event_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("otp_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_otp_event_at"))
        batch_op.drop_index(batch_op.f("ix_otp_event_number_id"))
    op.drop_table("otp_event")
