"""Caller names and chat/webhook destinations (issue 19)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 18:20:00

phonebook_entry names callers per number (at most 300 a number);
chat_destination holds up to three Slack, Teams, Discord, Chatwork or
generic webhook destinations a number; outbox_mail.destination_id links a
call's chat notice (kind ``call_chat``, a new member of the kind's CHECK)
to its destination. Rows stored before keep their values.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("call_notification", "test", "one_time_password", "address_verification")
NEW_KINDS = (*OLD_KINDS, "call_chat")
CHAT_KINDS = ("slack", "teams", "discord", "chatwork", "webhook")


def _check(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    op.create_table(
        "phonebook_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(20), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("note", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_phonebook_entry_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phonebook_entry")),
        sa.UniqueConstraint("number_id", "caller_number", name="uq_phonebook_entry_caller"),
    )
    op.create_index(
        op.f("ix_phonebook_entry_number_id"), "phonebook_entry", ["number_id"], unique=False
    )
    op.create_table(
        "chat_destination",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                *CHAT_KINDS,
                name="chat_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("label", sa.String(20), nullable=False),
        sa.Column("url", sa.String(500), nullable=True),
        sa.Column("room_id", sa.String(20), nullable=True),
        sa.Column("secret", sa.String(100), nullable=True),
        sa.Column("send", sa.Boolean(), nullable=False),
        sa.Column("test_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position BETWEEN 1 AND 3", name=op.f("ck_chat_destination_slot_range")),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_chat_destination_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_destination")),
        sa.UniqueConstraint("number_id", "position", name="uq_chat_destination_slot"),
    )
    op.create_index(
        op.f("ix_chat_destination_number_id"), "chat_destination", ["number_id"], unique=False
    )
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_mail_mail_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_mail_mail_kind"), _check(NEW_KINDS))
        batch_op.add_column(sa.Column("destination_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_mail_destination_id_chat_destination"),
            "chat_destination",
            ["destination_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_mail_destination_id"), ["destination_id"], unique=False
        )


def downgrade() -> None:
    outbox = sa.table("outbox_mail", sa.column("kind", sa.String(32)))
    op.execute(outbox.delete().where(outbox.c.kind.not_in(OLD_KINDS)))
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_mail_destination_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_mail_destination_id_chat_destination"), type_="foreignkey"
        )
        batch_op.drop_column("destination_id")
        batch_op.drop_constraint(op.f("ck_outbox_mail_mail_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_mail_mail_kind"), _check(OLD_KINDS))
    op.drop_index(op.f("ix_chat_destination_number_id"), table_name="chat_destination")
    op.drop_table("chat_destination")
    op.drop_index(op.f("ix_phonebook_entry_number_id"), table_name="phonebook_entry")
    op.drop_table("phonebook_entry")
