"""SQLAlchemy 2.x models for everything SPEC.md stores.

Limits are also written into the schema: list entries take a slot number
(``position``) that a CHECK keeps within the limit and a UNIQUE keeps
distinct, so no two writers racing past the domain layer can store a sixth
address or a 31st designated number.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.validation import (
    MAX_ADDRESSES,
    MAX_CALLER_NAME,
    MAX_CHATWORK_ROOM,
    MAX_DESIGNATED,
    MAX_DESTINATION_LABEL,
    MAX_DESTINATION_SECRET,
    MAX_DESTINATION_URL,
    MAX_DESTINATIONS,
    MAX_NUISANCE,
    MAX_PHONEBOOK_NOTE,
    MAX_RING_SECONDS,
    MIN_RING_SECONDS,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


MAX_DEDUP_KEY = 200  # OutboxMail.dedup_key


def utcnow() -> dt.datetime:
    """The default of the informational stamps only (when a line, number or
    nuisance entry was provisioned): no rule reads them. Every time a rule
    compares is written by its writer from the clock it was given."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class AuthUnit(enum.StrEnum):
    """認証単位 (Words)."""

    LINE = "line"
    NUMBER = "number"
    ADMIN_USER = "admin_user"


class Service(enum.StrEnum):
    """Services a number can subscribe to."""

    MAIL = "mail"  # 着信お知らせメール
    NUMBER_REQUEST = "number_request"  # ナンバー・リクエスト
    VOICE_WARP = "voice_warp"  # ボイスワープ
    NUISANCE = "nuisance"  # 迷惑電話おことわり


class VoiceWarpMode(enum.StrEnum):
    """CALL-4 forwarding conditions."""

    UNCONDITIONAL = "unconditional"
    NO_ANSWER = "no_answer"
    BUSY = "busy"


class Presentation(enum.StrEnum):
    """How the caller's number came with the call."""

    ALLOWED = "allowed"
    WITHHELD = "withheld"  # 非通知
    PAYPHONE = "payphone"  # 公衆電話
    UNAVAILABLE = "unavailable"  # 表示圏外


class CallOutcome(enum.StrEnum):
    """CALL-5 outcomes, plus ``expired`` for calls that never completed."""

    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    BUSY = "busy"
    REJECTED_NUISANCE = "rejected_nuisance"
    REJECTED_ANONYMOUS = "rejected_anonymous"
    FORWARDED = "forwarded"
    FORWARD_FAILED = "forward_failed"
    EXPIRED = "expired"


class MailKind(enum.StrEnum):
    CALL_NOTIFICATION = "call_notification"
    TEST = "test"
    ONE_TIME_PASSWORD = "one_time_password"
    ADDRESS_VERIFICATION = "address_verification"
    # Issue 19: a call's notice to a chat or webhook destination (an HTTP POST).
    CALL_CHAT = "call_chat"


class ChatKind(enum.StrEnum):
    """Issue 19: what a chat/webhook destination is (``store.destinations``)."""

    SLACK = "slack"  # Slack incoming webhook
    TEAMS = "teams"  # Microsoft Teams workflow webhook (Power Automate)
    DISCORD = "discord"  # Discord channel webhook
    CHATWORK = "chatwork"  # Chatwork room, posted with the room's API token
    WEBHOOK = "webhook"  # the operator's own system: JSON signed per Standard Webhooks


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored as the value string with a CHECK, not a native PostgreSQL enum:
    # adding a member later is then a plain migration on both backends.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class Line(Base):
    """契約者回線: one contract, its auth unit and its numbers."""

    __tablename__ = "line"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_number: Mapped[str] = mapped_column(String(20), unique=True)
    auth_unit: Mapped[AuthUnit] = mapped_column(_enum(AuthUnit, "auth_unit"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    numbers: Mapped[list[Number]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="Number.number"
    )


class Number(Base):
    """A contract or additional number of a line, with its per-number settings."""

    __tablename__ = "number"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    is_contract: Mapped[bool] = mapped_column(Boolean)
    # Issue 17: one device or several joined by "&" (store.validation.MAX_ENDPOINT),
    # or, instead, an Asterisk queue with its Queue() timeout (None: call.ring_seconds).
    endpoint: Mapped[str | None] = mapped_column(String(800))
    queue: Mapped[str | None] = mapped_column(String(80))
    queue_seconds: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    mail_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    number_request_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    voice_warp_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    nuisance_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # CALL-2: the last call routed to this number, for the 144-2 feature code.
    # The number is kept even when withheld; it is never shown.
    last_caller_number: Mapped[str | None] = mapped_column(String(32))
    last_caller_presentation: Mapped[Presentation | None] = mapped_column(
        _enum(Presentation, "presentation")
    )
    last_call_at: Mapped[dt.datetime | None]

    line: Mapped[Line] = relationship(back_populates="numbers")
    notification: Mapped[NotificationSetting] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    addresses: Mapped[list[DestinationAddress]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="DestinationAddress.position"
    )
    designated: Mapped[list[DesignatedNumber]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="DesignatedNumber.position"
    )
    nuisance: Mapped[list[NuisanceEntry]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="NuisanceEntry.position"
    )
    number_request: Mapped[NumberRequestSetting] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    voice_warp: Mapped[VoiceWarpSetting] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    temp_password: Mapped[TempPassword | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    credential: Mapped[SiteCredential | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    phonebook: Mapped[list[PhonebookEntry]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PhonebookEntry.id"
    )
    destinations: Mapped[list[ChatDestination]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ChatDestination.position"
    )

    def subscribes(self, service: Service) -> bool:
        return bool(getattr(self, f"{service.value}_subscribed"))


def _number_fk(unique: bool = False) -> Mapped[int]:
    return mapped_column(ForeignKey("number.id", ondelete="CASCADE"), unique=unique, index=True)


class NotificationSetting(Base):
    """MAIL-1 and MAIL-4: service started, and the two conditions (off by default)."""

    __tablename__ = "notification_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk(unique=True)
    started: Mapped[bool] = mapped_column(Boolean, default=False)
    designated_only: Mapped[bool] = mapped_column(Boolean, default=False)
    unanswered_only: Mapped[bool] = mapped_column(Boolean, default=False)


class DestinationAddress(Base):
    """MAIL-2: one of at most five addresses, each with its send flag."""

    __tablename__ = "destination_address"
    __table_args__ = (
        UniqueConstraint("number_id", "position", name="uq_destination_address_slot"),
        UniqueConstraint("number_id", "address_key", name="uq_destination_address_key"),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_ADDRESSES}", name="slot_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    position: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(254))
    address_key: Mapped[str] = mapped_column(String(254))  # lower-cased, for duplicates
    send: Mapped[bool] = mapped_column(Boolean, default=True)
    # The last 送信テスト to this address the mail server accepted (the site's clock):
    # it clears the address page's failure flag as a later sent mail does (issue 16).
    test_sent_at: Mapped[dt.datetime | None]


class PhonebookEntry(Base):
    """Issue 19 (BOOK-1): a caller's name in a number's phonebook; callers stored as designated."""

    __tablename__ = "phonebook_entry"
    __table_args__ = (
        UniqueConstraint("number_id", "caller_number", name="uq_phonebook_entry_caller"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    caller_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(MAX_CALLER_NAME))
    note: Mapped[str] = mapped_column(String(MAX_PHONEBOOK_NOTE), default="")


class ChatDestination(Base):
    """Issue 19 (CHAT-1): one of a number's chat/webhook destinations, with its send flag.

    ``url`` (None for Chatwork: ``room_id``) and ``secret`` (Chatwork token or the
    webhook's ``whsec_`` key) are credentials, shown only masked once saved."""

    __tablename__ = "chat_destination"
    __table_args__ = (
        UniqueConstraint("number_id", "position", name="uq_chat_destination_slot"),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_DESTINATIONS}", name="slot_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ChatKind] = mapped_column(_enum(ChatKind, "chat_kind"))
    label: Mapped[str] = mapped_column(String(MAX_DESTINATION_LABEL), default="")
    url: Mapped[str | None] = mapped_column(String(MAX_DESTINATION_URL))
    room_id: Mapped[str | None] = mapped_column(String(MAX_CHATWORK_ROOM))
    secret: Mapped[str | None] = mapped_column(String(MAX_DESTINATION_SECRET))
    send: Mapped[bool] = mapped_column(Boolean, default=True)
    test_sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class DesignatedNumber(Base):
    """MAIL-5: one of at most 30 designated caller numbers with its flag."""

    __tablename__ = "designated_number"
    __table_args__ = (
        UniqueConstraint("number_id", "position", name="uq_designated_number_slot"),
        UniqueConstraint("number_id", "caller_number", name="uq_designated_number_caller"),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_DESIGNATED}", name="slot_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    position: Mapped[int] = mapped_column(Integer)
    caller_number: Mapped[str] = mapped_column(String(20))
    designated: Mapped[bool] = mapped_column(Boolean, default=True)


class NuisanceEntry(Base):
    """CALL-2: one of at most 30 rejected callers.

    ``hidden`` marks an entry added by the feature code for a caller who
    withheld the number: it is matched like any other but never shown. A
    caller is listed at most once visibly and once hidden (issue 16): a
    typed number that only a hidden entry holds is added like any other, or
    "already listed" would tell the subscriber the withheld caller's digits.
    """

    __tablename__ = "nuisance_entry"
    __table_args__ = (
        UniqueConstraint("number_id", "position", name="uq_nuisance_entry_slot"),
        UniqueConstraint(
            "number_id", "caller_number", "hidden", name="uq_nuisance_entry_caller_hidden"
        ),
        CheckConstraint(f"position BETWEEN 1 AND {MAX_NUISANCE}", name="slot_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    position: Mapped[int] = mapped_column(Integer)
    caller_number: Mapped[str] = mapped_column(String(20))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NumberRequestSetting(Base):
    """CALL-3: reject callers who withhold their number (payphone/unavailable optional)."""

    __tablename__ = "number_request_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk(unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reject_payphone: Mapped[bool] = mapped_column(Boolean, default=False)
    reject_unavailable: Mapped[bool] = mapped_column(Boolean, default=False)


class VoiceWarpSetting(Base):
    """CALL-4: forwarding mode, destination and ring time, switchable on/off."""

    __tablename__ = "voice_warp_setting"
    __table_args__ = (
        CheckConstraint(
            f"ring_seconds BETWEEN {MIN_RING_SECONDS} AND {MAX_RING_SECONDS}", name="ring_range"
        ),
        CheckConstraint("NOT enabled OR destination IS NOT NULL", name="enabled_has_destination"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk(unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[VoiceWarpMode] = mapped_column(
        _enum(VoiceWarpMode, "voice_warp_mode"), default=VoiceWarpMode.UNCONDITIONAL
    )
    destination: Mapped[str | None] = mapped_column(String(20))
    ring_seconds: Mapped[int] = mapped_column(Integer, default=20)


class TempPassword(Base):
    """IVR-9 / SITE-2: the temporary password set by phone, one per number."""

    __tablename__ = "temp_password"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk(unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    auth_unit: Mapped[AuthUnit] = mapped_column(_enum(AuthUnit, "auth_unit"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None]


class SiteCredential(Base):
    """SITE-3/4/5: the site password of a number and its one-time-password settings."""

    __tablename__ = "site_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk(unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[dt.datetime]
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)
    invalidated_at: Mapped[dt.datetime | None]
    otp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    otp_address: Mapped[str | None] = mapped_column(String(254))
    otp_address_verified_at: Mapped[dt.datetime | None]
    otp_confirmation_id: Mapped[str | None] = mapped_column(String(12))
    otp_confirmation_password_hash: Mapped[str | None] = mapped_column(String(255))
    # SITE-5: when the subscriber chose to use the one-time password or not;
    # None means not chosen yet, and the site asks after login.
    otp_chosen_at: Mapped[dt.datetime | None]

    history: Mapped[list[PasswordHistory]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PasswordHistory.created_at"
    )


class PasswordHistory(Base):
    """Earlier password hashes of a credential (SITE-3: not equal to the current one)."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("site_credential.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime]


class SiteTokenKind(enum.StrEnum):
    ADDRESS_VERIFICATION = "address_verification"  # SITE-5: the link, 24 hours
    OTP_CODE = "otp_code"  # SITE-5: the one-time password, 300 seconds


class SiteToken(Base):
    """SITE-5: a secret mailed to a subscriber, kept only as its SHA-256 hex digest.

    An address verification token carries the address it verifies: the
    verified address in ``SiteCredential`` stays in use until the link is
    followed. A one-time password counts its wrong entries.
    """

    __tablename__ = "site_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    kind: Mapped[SiteTokenKind] = mapped_column(_enum(SiteTokenKind, "site_token_kind"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)


class StoredCall(Base):
    """One call to a subscriber number as the notifier saw it (CALL-5), by Linkedid.

    The stored row of a finished ``notifier.model.CallRecord`` (the call as
    the notifier follows it), hence the different name.

    ``caller_number`` is kept even when withheld, for the nuisance feature
    code; ``presentation`` says whether it may ever be shown.
    """

    __tablename__ = "call_record"
    # Issue 18: a number's history pages newest first, (started_at, id) after a cursor.
    __table_args__ = (Index("ix_call_record_number_started", "number_id", "started_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    subscriber_number: Mapped[str] = mapped_column(String(20), index=True)
    number_id: Mapped[int | None] = mapped_column(
        ForeignKey("number.id", ondelete="SET NULL"), index=True
    )
    caller_number: Mapped[str | None] = mapped_column(String(32))
    presentation: Mapped[Presentation] = mapped_column(_enum(Presentation, "presentation"))
    outcome: Mapped[CallOutcome] = mapped_column(_enum(CallOutcome, "call_outcome"))
    dial_status: Mapped[str | None] = mapped_column(String(32))
    forward_dial_status: Mapped[str | None] = mapped_column(String(32))
    # Issue 17 (MAIL-9): who answered, the device or queue member's interface
    # (PJSIP/201), and the member's name as Asterisk gave it (queues.conf), if any.
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_name: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    recorded_at: Mapped[dt.datetime]


class DeviceLabel(Base):
    """Issue 17 (MAIL-9): the name an operator gives a device or queue member (受付).

    By interface, PBX-wide: Asterisk's interfaces are (PJSIP/201 is one phone
    whichever number rings it).
    """

    __tablename__ = "device_label"

    id: Mapped[int] = mapped_column(primary_key=True)
    interface: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(20))


class ApiToken(Base):
    """Issue 18: a bearer token of the provisioning API, made and revoked by the operator.

    Only the SHA-256 of the secret is kept (the secret is 256 random bits, so a
    slow hash adds nothing); the name is what the request log shows.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    scope: Mapped[str] = mapped_column(String(8))  # "read" or "write"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class StoredDecision(Base):
    """MAIL-10: the one decision taken for a call (a stored ``notifier.model.Decision``)."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("call_record.id", ondelete="CASCADE"), unique=True
    )
    mailed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(16), default="")  # the SPEC rule that decided
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    decided_at: Mapped[dt.datetime]


class OutboxMail(Base):
    """A mail waiting for or done with delivery; one row per recipient.

    ``dedup_key`` is unique so that a decision replayed after a restart
    cannot queue the same mail twice (MAIL-10).
    """

    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(MAX_DEDUP_KEY), unique=True)
    kind: Mapped[MailKind] = mapped_column(_enum(MailKind, "mail_kind"))
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decision.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(254))
    # Issue 19: a CALL_CHAT row's destination (None for mails, and once removed).
    destination_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_destination.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[MailStatus] = mapped_column(
        _enum(MailStatus, "mail_status"), default=MailStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class ServiceNode(Base):
    """One ``chakushin serve`` process as it last reported itself (OPS-4).

    Each node writes its row on start, on every heartbeat and when it
    stops, so ``chakushin status`` on any host that reaches the database
    sees every node: whether it still runs, its AMI connection, its last
    error. ``name`` is ``serve.node_name`` (default: the host name).
    """

    __tablename__ = "service_node"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    roles: Mapped[str] = mapped_column(String(60))  # comma-separated: agi, notifier, site
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime]
    # Seconds between heartbeats: a row older than a few of these is a dead node.
    heartbeat_seconds: Mapped[int] = mapped_column(Integer)
    stopped_at: Mapped[dt.datetime | None]
    ami_state: Mapped[str] = mapped_column(String(20), default="")
    agi_active: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None]


class SiteSession(Base):
    """SITE-6: a logged-in session of the settings site (the cookie holds the token).

    Only the token's SHA-256 is kept. ``stage`` is where the login stands
    (forced password change, one-time password, done); ``idle_seconds`` the
    auth unit's idle timeout. Rows are deleted at logout and when found idle.
    """

    __tablename__ = "site_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    number_id: Mapped[int] = _number_fk()
    stage: Mapped[str] = mapped_column(String(20))
    csrf_token: Mapped[str] = mapped_column(String(64))
    via_temp_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # SITE-5, seeds (9)/(10): this login proved the one-time password's owner (a code,
    # or the confirmation ID and password); the OTP address change asks no more.
    otp_proven: Mapped[bool] = mapped_column(Boolean, default=False)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    # last_seen_at + idle_seconds: rows past it are dead and purged in one DELETE.
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

    number: Mapped[Number] = relationship()


class OtpEventKind(enum.StrEnum):
    CODE_MAILED = "code_mailed"
    CODE_WRONG = "code_wrong"
    # Issue 12: a wrong confirmation ID or password (SITE-5) on the address change,
    # the confirmation change or a CSV row (SITE-9); migration 0009.
    CONFIRMATION_WRONG = "confirmation_wrong"
    # Issue 12: an OTP address verification mail queued (SITE-5, SITE-9); migration 0010.
    VERIFICATION_MAILED = "verification_mailed"


class OtpEvent(Base):
    """SITE-5 (issue 12): one one-time code mailed, wrong code or wrong confirmation ID/password.

    Counted per number over a rolling 24 hours (guessing, mail floods), in the database so
    that the caps hold across site processes; old rows are deleted as new ones come. ``at``
    is the site's clock, never a column default."""

    __tablename__ = "otp_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    kind: Mapped[OtpEventKind] = mapped_column(_enum(OtpEventKind, "otp_event_kind"))
    at: Mapped[dt.datetime] = mapped_column(index=True)


class SendTest(Base):
    """MAIL-2 送信テスト: one row per test mail asked for, to limit them (issue 12 item 15).

    Counted per number and per login (``session_key``: ``send_limits.login_key``
    of the number that logged in; issue 12) within the site's window; in
    the database, so that the limit holds across site processes. Rows past
    the window are deleted as new ones come. ``sent_at`` is the site's clock.
    """

    __tablename__ = "send_test"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = _number_fk()
    session_key: Mapped[str] = mapped_column(String(64), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(index=True)
