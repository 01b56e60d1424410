"""OTP address verification mails as otp_event rows (SITE-5, SITE-9, issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:45:00

As 0009: the kind CHECK dropped and made again with the new member.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("code_mailed", "code_wrong", "confirmation_wrong")
NEW = (*OLD, "verification_mailed")


def _check(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("otp_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_otp_event_otp_event_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_otp_event_otp_event_kind"), _check(NEW))


def downgrade() -> None:
    otp_event = sa.table("otp_event", sa.column("kind", sa.String(32)))
    op.execute(otp_event.delete().where(otp_event.c.kind.not_in(OLD)))
    with op.batch_alter_table("otp_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_otp_event_otp_event_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_otp_event_otp_event_kind"), _check(OLD))
