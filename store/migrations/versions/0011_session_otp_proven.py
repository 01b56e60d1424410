"""site_session.otp_proven: the login proved the one-time password's owner (SITE-5, issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:00:00

Seeds (9)/(10): by a code at login, or by the confirmation ID and password
on the OTP page; the address change then asks for them no more. Sessions
stored before are not proven (false).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("otp_proven", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("site_session", schema=None) as batch_op:
        batch_op.drop_column("otp_proven")
