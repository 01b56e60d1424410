"""last caller of a number

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:22:53.384499
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("number", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_caller_number", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "last_caller_presentation",
                sa.Enum(
                    "allowed",
                    "withheld",
                    "payphone",
                    "unavailable",
                    name="presentation",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("number", schema=None) as batch_op:
        # The enum's CHECK would outlive its column in SQLite's table copy.
        batch_op.drop_constraint(op.f("ck_number_presentation"), type_="check")
        batch_op.drop_column("last_call_at")
        batch_op.drop_column("last_caller_presentation")
        batch_op.drop_column("last_caller_number")
