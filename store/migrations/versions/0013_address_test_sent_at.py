"""destination_address.test_sent_at: a 送信テスト to the address was accepted (MAIL-2, issue 16)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:40:00

The address page flags an address whose latest call notification failed
(「最近このアドレスに送信できませんでした」) until a later mail to it is sent;
a 送信テスト the mail server accepts is such a mail. Addresses stored before
have none (NULL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("destination_address", schema=None) as batch_op:
        batch_op.add_column(sa.Column("test_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("destination_address", schema=None) as batch_op:
        batch_op.drop_column("test_sent_at")
