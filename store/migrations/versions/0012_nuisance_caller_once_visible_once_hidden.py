"""nuisance_entry: a caller once visibly and once hidden (CALL-2, issue 16)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:00:00

The list refused a typed number that a hidden entry (the phone's 144-2 for
a withheld caller) held: "already listed" told the subscriber the withheld
caller's digits. The unique key is now (number, caller, hidden). Every
entry stored before is kept. Downgrading drops a hidden entry whose digits
are also listed visibly for the same number: the visible entry refuses the
same caller, so the routing is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nuisance_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_nuisance_entry_caller", type_="unique")
        batch_op.create_unique_constraint(
            "uq_nuisance_entry_caller_hidden", ["number_id", "caller_number", "hidden"]
        )


def downgrade() -> None:
    entry = sa.table(
        "nuisance_entry",
        sa.column("number_id", sa.Integer()),
        sa.column("caller_number", sa.String()),
        sa.column("hidden", sa.Boolean()),
    )
    visible = entry.alias("visible")
    op.execute(
        entry.delete()
        .where(entry.c.hidden.is_(True))
        .where(
            sa.exists()
            .where(visible.c.number_id == entry.c.number_id)
            .where(visible.c.caller_number == entry.c.caller_number)
            .where(visible.c.hidden.is_(False))
        )
    )
    with op.batch_alter_table("nuisance_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_nuisance_entry_caller_hidden", type_="unique")
        batch_op.create_unique_constraint(
            "uq_nuisance_entry_caller", ["number_id", "caller_number"]
        )
