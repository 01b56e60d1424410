"""site tokens (SITE-5 address verification links and one-time passwords), OTP choice

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "address_verification",
                "otp_code",
                name="site_token_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_site_token_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_site_token_token_hash")),
    )
    with op.batch_alter_table("site_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_token_number_id"), ["number_id"], unique=False)

    with op.batch_alter_table("site_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("otp_chosen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("site_credential", schema=None) as batch_op:
        batch_op.drop_column("otp_chosen_at")
    with op.batch_alter_table("site_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_token_number_id"))
    op.drop_table("site_token")
