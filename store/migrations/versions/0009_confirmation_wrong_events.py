"""wrong OTP confirmation ID/password entries as otp_event rows (SITE-5, SITE-9, issue 12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:10:00

The kind column is an enum stored as text with a CHECK (``store.models._enum``):
a new member is the CHECK dropped and made again with it (SQLite: a table copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("code_mailed", "code_wrong")
NEW = (*OLD, "confirmation_wrong")


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
