"""send test log (MAIL-2 limits, issue 12 item 15)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:30:00
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
    op.create_table(
        "send_test",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_send_test_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_test")),
    )
    with op.batch_alter_table("send_test", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_send_test_number_id"), ["number_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_send_test_session_key"), ["session_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_send_test_sent_at"), ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("send_test", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_test_sent_at"))
        batch_op.drop_index(batch_op.f("ix_send_test_session_key"))
        batch_op.drop_index(batch_op.f("ix_send_test_number_id"))
    op.drop_table("send_test")
