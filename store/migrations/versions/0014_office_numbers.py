"""Office numbers (issue 17): several devices, a queue, device names, who answered

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:40:00

number.endpoint grows to 800 characters (up to 8 devices joined by "&");
number.queue and number.queue_seconds send a number's calls to an Asterisk
queue instead; device_label names a device or queue member for the mail;
call_record.answered_by / answered_name say who answered (MAIL-9). Rows
stored before keep their values; the new columns are NULL for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("number", schema=None) as batch_op:
        batch_op.alter_column(
            "endpoint", existing_type=sa.String(100), type_=sa.String(800), existing_nullable=True
        )
        batch_op.add_column(sa.Column("queue", sa.String(80), nullable=True))
        batch_op.add_column(sa.Column("queue_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("answered_name", sa.String(40), nullable=True))
    op.create_table(
        "device_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(100), nullable=False),
        sa.Column("label", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_label")),
        sa.UniqueConstraint("interface", name=op.f("uq_device_label_interface")),
    )


def downgrade() -> None:
    op.drop_table("device_label")
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.drop_column("answered_name")
        batch_op.drop_column("answered_by")
    with op.batch_alter_table("number", schema=None) as batch_op:
        batch_op.drop_column("queue_seconds")
        batch_op.drop_column("queue")
        batch_op.alter_column(
            "endpoint", existing_type=sa.String(800), type_=sa.String(100), existing_nullable=True
        )
