"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 23:38:15.950598
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_number", sa.String(length=20), nullable=False),
        sa.Column(
            "auth_unit",
            sa.Enum(
                "line",
                "number",
                "admin_user",
                name="auth_unit",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line")),
        sa.UniqueConstraint("contract_number", name=op.f("uq_line_contract_number")),
    )
    op.create_table(
        "number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("is_contract", sa.Boolean(), nullable=False),
        sa.Column("endpoint", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("mail_subscribed", sa.Boolean(), nullable=False),
        sa.Column("number_request_subscribed", sa.Boolean(), nullable=False),
        sa.Column("voice_warp_subscribed", sa.Boolean(), nullable=False),
        sa.Column("nuisance_subscribed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["line.id"], name=op.f("fk_number_line_id_line"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number")),
        sa.UniqueConstraint("number", name=op.f("uq_number_number")),
    )
    with op.batch_alter_table("number", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_number_line_id"), ["line_id"], unique=False)

    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("subscriber_number", sa.String(length=20), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column(
            "presentation",
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
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "answered",
                "unanswered",
                "busy",
                "rejected_nuisance",
                "rejected_anonymous",
                "forwarded",
                "forward_failed",
                "expired",
                name="call_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("dial_status", sa.String(length=32), nullable=True),
        sa.Column("forward_dial_status", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_call_record_number_id_number"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_record")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_call_record_linkedid")),
    )
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_record_number_id"), ["number_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_record_subscriber_number"), ["subscriber_number"], unique=False
        )

    op.create_table(
        "designated_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=20), nullable=False),
        sa.Column("designated", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "position BETWEEN 1 AND 30", name=op.f("ck_designated_number_slot_range")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_designated_number_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designated_number")),
        sa.UniqueConstraint("number_id", "caller_number", name="uq_designated_number_caller"),
        sa.UniqueConstraint("number_id", "position", name="uq_designated_number_slot"),
    )
    with op.batch_alter_table("designated_number", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_designated_number_number_id"), ["number_id"], unique=False
        )

    op.create_table(
        "destination_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("address_key", sa.String(length=254), nullable=False),
        sa.Column("send", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "position BETWEEN 1 AND 5", name=op.f("ck_destination_address_slot_range")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_destination_address_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destination_address")),
        sa.UniqueConstraint("number_id", "address_key", name="uq_destination_address_key"),
        sa.UniqueConstraint("number_id", "position", name="uq_destination_address_slot"),
    )
    with op.batch_alter_table("destination_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_destination_address_number_id"), ["number_id"], unique=False
        )

    op.create_table(
        "notification_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("designated_only", sa.Boolean(), nullable=False),
        sa.Column("unanswered_only", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_notification_setting_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_setting")),
    )
    with op.batch_alter_table("notification_setting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_setting_number_id"), ["number_id"], unique=True
        )

    op.create_table(
        "nuisance_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=20), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position BETWEEN 1 AND 30", name=op.f("ck_nuisance_entry_slot_range")),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_nuisance_entry_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nuisance_entry")),
        sa.UniqueConstraint("number_id", "caller_number", name="uq_nuisance_entry_caller"),
        sa.UniqueConstraint("number_id", "position", name="uq_nuisance_entry_slot"),
    )
    with op.batch_alter_table("nuisance_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nuisance_entry_number_id"), ["number_id"], unique=False
        )

    op.create_table(
        "number_request_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reject_payphone", sa.Boolean(), nullable=False),
        sa.Column("reject_unavailable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_number_request_setting_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_request_setting")),
    )
    with op.batch_alter_table("number_request_setting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_number_request_setting_number_id"), ["number_id"], unique=True
        )

    op.create_table(
        "site_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("otp_enabled", sa.Boolean(), nullable=False),
        sa.Column("otp_address", sa.String(length=254), nullable=True),
        sa.Column("otp_address_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("otp_confirmation_id", sa.String(length=12), nullable=True),
        sa.Column("otp_confirmation_password_hash", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_site_credential_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_credential")),
    )
    with op.batch_alter_table("site_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_site_credential_number_id"), ["number_id"], unique=True
        )

    op.create_table(
        "temp_password",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "auth_unit",
            sa.Enum(
                "line",
                "number",
                "admin_user",
                name="auth_unit",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrong_count", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_temp_password_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temp_password")),
    )
    with op.batch_alter_table("temp_password", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_temp_password_number_id"), ["number_id"], unique=True)

    op.create_table(
        "voice_warp_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "unconditional",
                "no_answer",
                "busy",
                name="voice_warp_mode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("destination", sa.String(length=20), nullable=True),
        sa.Column("ring_seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "NOT enabled OR destination IS NOT NULL",
            name=op.f("ck_voice_warp_setting_enabled_has_destination"),
        ),
        sa.CheckConstraint(
            "ring_seconds BETWEEN 5 AND 60", name=op.f("ck_voice_warp_setting_ring_range")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["number.id"],
            name=op.f("fk_voice_warp_setting_number_id_number"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_warp_setting")),
    )
    with op.batch_alter_table("voice_warp_setting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_warp_setting_number_id"), ["number_id"], unique=True
        )

    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call_record.id"],
            name=op.f("fk_decision_call_id_call_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sa.UniqueConstraint("call_id", name=op.f("uq_decision_call_id")),
    )
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["site_credential.id"],
            name=op.f("fk_password_history_credential_id_site_credential"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_history_credential_id"), ["credential_id"], unique=False
        )

    op.create_table(
        "outbox_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "call_notification",
                "test",
                "one_time_password",
                "address_verification",
                name="mail_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="mail_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decision.id"],
            name=op.f("fk_outbox_mail_decision_id_decision"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mail")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_outbox_mail_dedup_key")),
    )
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_mail_decision_id"), ["decision_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_mail_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_mail_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_mail_decision_id"))

    op.drop_table("outbox_mail")
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_history_credential_id"))

    op.drop_table("password_history")
    op.drop_table("decision")
    with op.batch_alter_table("voice_warp_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_warp_setting_number_id"))

    op.drop_table("voice_warp_setting")
    with op.batch_alter_table("temp_password", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temp_password_number_id"))

    op.drop_table("temp_password")
    with op.batch_alter_table("site_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_credential_number_id"))

    op.drop_table("site_credential")
    with op.batch_alter_table("number_request_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_number_request_setting_number_id"))

    op.drop_table("number_request_setting")
    with op.batch_alter_table("nuisance_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nuisance_entry_number_id"))

    op.drop_table("nuisance_entry")
    with op.batch_alter_table("notification_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_setting_number_id"))

    op.drop_table("notification_setting")
    with op.batch_alter_table("destination_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destination_address_number_id"))

    op.drop_table("destination_address")
    with op.batch_alter_table("designated_number", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_designated_number_number_id"))

    op.drop_table("designated_number")
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_record_subscriber_number"))
        batch_op.drop_index(batch_op.f("ix_call_record_number_id"))

    op.drop_table("call_record")
    with op.batch_alter_table("number", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_number_line_id"))

    op.drop_table("number")
    op.drop_table("line")
