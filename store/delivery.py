"""What became of every mail of a number's calls (MAIL-2, MAIL-10, issue 16).

The notifier queues one outbox row per recipient with the call's decision
(``store.service.record_call_decisions``); the delivery worker
(``notifier.outbox.record_results``) writes each attempt's result on that
row: ``sent`` with ``sent_at``; still ``pending`` with the next try and the
attempts after a temporary failure; ``failed`` at once on a 5xx, or once
the retry deadline has passed. ``last_error`` keeps the reply of the last
failed attempt: the server's (``550 5.1.1 ...``; a refused recipient reads
``(550, '5.1.1 ...', 'address')``) or, when no server answered, our side's
error (``ExceptionName: ...``, ``maildir: ...``).

This module reads those rows back per address, for the site's call history
and address page and for ``chakushin number show --calls``:

- ``Delivery``: one address of one call, with its ``DeliveryStatus`` and, when
  it failed, a ``FailureKind`` derived from the stored reply (``failure_kind``,
  pure). The raw reply is for the operator only; the site says the kind in
  words (``web.texts``).
- ``call_deliveries``: a number's last calls with their deliveries, in two
  queries whatever the number of calls (the calls with their decisions, then
  every delivery of those decisions).
- ``recently_failed``: the number's current addresses whose latest finished
  call notification failed (since a moment: the site's flag looks back
  ``RECENT``, 30 days; the operator's CLI at every one). The flag lasts until
  a mail queued later to the same address is sent, or a 送信テスト to it is
  accepted by the mail server (the site sends test mails directly, not
  through the outbox: ``note_test_sent`` stamps the saved address).

Issue 19 (CHAT-3): a call's notices to its chat and webhook destinations
(``MailKind.CALL_CHAT`` rows, one per destination) are deliveries of the call
too: ``Delivery.channel`` says which (``"mail"`` or the ``ChatKind``'s value),
``address`` is then the destination's shown name as queued, and a failed
one's kind comes from the HTTP sender's reply (``chat_failure_kind``: ``HTTP
404 ...`` gone, ``HTTP 401/403`` not authorised, another 4xx refused, a 3xx
redirected, 429/5xx until the deadline deferred, no answer unreachable,
``refused: ...`` blocked, ``destination removed``). ``recently_failed_destinations``
is ``recently_failed`` for the number's current destinations.

Times are in the number's time zone, as in the mail (MAIL-9).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import bulk, service
from store.bulk import CallKey, HistoryRow
from store.models import (
    ChatDestination,
    ChatKind,
    DestinationAddress,
    MailKind,
    MailStatus,
    OutboxMail,
    StoredCall,
    StoredDecision,
)
from store.outbox_state import MAIL_CHANNEL as MAIL_CHANNEL
from store.outbox_state import UNKNOWN_CHAT_CHANNEL as UNKNOWN_CHAT_CHANNEL
from store.outbox_state import chat_channel as chat_channel
from store.outbox_state import queued_chat_kind


class DeliveryStatus(enum.StrEnum):
    """Where one address's mail of one call stands."""

    QUEUED = "queued"  # not tried yet, or being sent now
    RETRYING = "retrying"  # a try failed for now; the next one is due at next_attempt_at
    SENT = "sent"  # accepted by the mail server
    FAILED = "failed"  # given up: refused for good, or the retry deadline passed


class FailureKind(enum.StrEnum):
    """Why a mail was given up, read from its stored reply (``failure_kind``)."""

    ADDRESS_REFUSED = "address_refused"  # no such mailbox or domain (550/551/553, 5.1.x)
    MAILBOX_FULL = "mailbox_full"  # over quota (552, 452, x.2.2)
    REFUSED = "refused"  # refused for good otherwise (other 5xx: policy, spam, size)
    DEFERRED = "deferred"  # the server kept answering "later" (4xx) until the deadline
    UNREACHABLE = "unreachable"  # no server answered (refused connection, timeout, TLS)
    # Issue 19 (CHAT-3): a chat or webhook destination's, from the HTTP reply
    # (``chat_failure_kind``); REFUSED, DEFERRED and UNREACHABLE serve them too.
    GONE = "gone"  # 404 / 410: the webhook or the room no longer exists
    NOT_AUTHORIZED = "not_authorized"  # 401 / 403: the token or the webhook's permission
    REDIRECTED = "redirected"  # 3xx: the receiver answered a redirect (never followed)
    BLOCKED = "blocked"  # refused before connecting: the URL's address is not allowed
    DESTINATION_REMOVED = "destination_removed"  # the destination was removed before sending


# The reply code at the start: "550 ...", "550-...", or a refused recipient as
# aiosmtplib prints it, "(550, '5.1.1 ...', 'address')". Our side's error texts
# ("SMTPServerDisconnected: ...", "maildir: ...") start with a name, not digits.
_REPLY_CODE = re.compile(r"\(?\s*([2-5][0-9]{2})(?![0-9.])")
# RFC 3463 enhanced status code: class.subject.detail.
_ENHANCED = re.compile(r"(?<![0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9.])")
_ADDRESS_CODES = frozenset({550, 551, 553})
_FULL_CODES = frozenset({452, 552})


def reply_code(reply: str | None) -> int | None:
    """The SMTP reply code a stored reply starts with; None when no server answered."""
    found = _REPLY_CODE.match(reply or "")
    return int(found.group(1)) if found else None


def reply_codes(reply: str | None) -> str:
    """The codes a reply starts with as one text ("554 5.7.1", "451", ""), for a stand-in
    when the rest of the reply cannot be stored (``notifier.outbox.unstorable_reply``)."""
    code = reply_code(reply)
    if code is None:
        return ""
    enhanced = _ENHANCED.search((reply or "")[:200])
    if enhanced is None or int(enhanced.group(1)) != code // 100:
        return str(code)
    return f"{code} {enhanced.group(0)}"


def failure_kind(reply: str | None) -> FailureKind:
    """MAIL-10: why a failed mail was given up, from its stored ``last_error``.

    The enhanced status code decides when the server gave one of the same
    class as its reply code (``550 5.7.1`` is a policy refusal, not a wrong
    address); otherwise the reply code does. A 4xx in a failed row means the
    server answered "try later" until the retry deadline passed.
    """
    code = reply_code(reply)
    if code is None:
        return FailureKind.UNREACHABLE
    enhanced = _ENHANCED.search((reply or "")[:200])
    subject: tuple[int, int] | None = None
    if enhanced is not None and int(enhanced.group(1)) == code // 100:
        subject = (int(enhanced.group(2)), int(enhanced.group(3)))
    if subject == (2, 2) or (subject is None and code in _FULL_CODES):
        return FailureKind.MAILBOX_FULL
    if code < 500:
        return FailureKind.DEFERRED
    if subject is not None:
        return FailureKind.ADDRESS_REFUSED if subject[0] == 1 else FailureKind.REFUSED
    return FailureKind.ADDRESS_REFUSED if code in _ADDRESS_CODES else FailureKind.REFUSED


# The reply format of notifier.webhooks (issue 19): "HTTP <code> <reason>: <body>" when
# the receiver answered; "<ExceptionName>: <text>" when it did not.
_HTTP_CODE = re.compile(r"HTTP ([1-5][0-9]{2})(?![0-9])")
_CHAT_REMOVED = "destination removed"
_CHAT_BLOCKED = "refused:"
_GONE_CODES = frozenset({404, 410})
_AUTH_CODES = frozenset({401, 403})
_LATER_CODES = frozenset({408, 425, 429})


def http_status(reply: str | None) -> int | None:
    """The HTTP status a chat notice's stored reply starts with; None when none answered."""
    found = _HTTP_CODE.match(reply or "")
    return int(found.group(1)) if found else None


def chat_failure_kind(reply: str | None) -> FailureKind:
    """CHAT-3: why a failed chat or webhook notice was given up, from its ``last_error``.

    A 404 or 410 says the webhook (or the Chatwork room) is gone, a 401 or
    403 that the token or the webhook's permission was refused, another 4xx
    a refusal, a 3xx a redirect (never followed); a 408, 425, 429 or 5xx in
    a failed row means the receiver answered "later" until the deadline.
    """
    text = (reply or "").strip()
    if text == _CHAT_REMOVED:
        return FailureKind.DESTINATION_REMOVED
    if text.startswith(_CHAT_BLOCKED):
        return FailureKind.BLOCKED
    code = http_status(text)
    if code is None:
        return FailureKind.UNREACHABLE
    if code in _GONE_CODES:
        return FailureKind.GONE
    if code in _AUTH_CODES:
        return FailureKind.NOT_AUTHORIZED
    if 300 <= code < 400:
        return FailureKind.REDIRECTED
    if code in _LATER_CODES or code >= 500:
        return FailureKind.DEFERRED
    return FailureKind.REFUSED


@dataclass(frozen=True)
class Delivery:
    """One address's mail of one call, or (issue 19) its notice to one destination.

    ``sent_at`` for ``SENT``; ``next_attempt_at`` while ``QUEUED`` or
    ``RETRYING``; ``failure`` for ``FAILED``. ``reply`` is the stored reply of
    the last failed attempt ("" when none): for the operator, never for a page.
    Times are in the number's time zone. ``channel`` is ``"mail"`` or the
    destination's ``ChatKind`` value; for a chat notice ``address`` is the
    destination's shown name as queued, ``destination_id`` its row and
    ``destination_position`` its slot now (both None once it is removed).
    """

    address: str
    status: DeliveryStatus
    attempts: int
    queued_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    failure: FailureKind | None
    reply: str
    channel: str = MAIL_CHANNEL
    destination_id: int | None = None
    destination_position: int | None = None

    @property
    def is_chat(self) -> bool:
        return self.channel != MAIL_CHANNEL


@dataclass(frozen=True)
class CallDeliveries:
    """One call of the number (``store.bulk.HistoryRow``) and its mails, by address,
    then (issue 19) its chat notices, by destination, each in the order queued.

    ``call_id`` is the stored call's id (issue 18: with ``started_at``, the API's cursor).
    """

    call: HistoryRow
    deliveries: tuple[Delivery, ...]
    call_id: int

    @property
    def key(self) -> CallKey:
        """The call's place in the newest-first order (``call_deliveries(before=)``)."""
        return (self.call.started_at, self.call_id)


@dataclass(frozen=True)
class FailedAddress:
    """A current address (in its slot, ``position``) whose latest finished call
    notification failed."""

    address: str
    position: int
    failure: FailureKind
    reply: str  # for the operator only
    queued_at: dt.datetime  # of the failed mail, in the number's time zone


_DELIVERY_COLUMNS = (
    OutboxMail.decision_id,
    OutboxMail.recipient,
    OutboxMail.status,
    OutboxMail.attempts,
    OutboxMail.next_attempt_at,
    OutboxMail.last_error,
    OutboxMail.created_at,
    OutboxMail.sent_at,
    OutboxMail.kind,
    OutboxMail.destination_id,
    ChatDestination.kind,
    ChatDestination.position,
)


def _delivery(
    recipient: str,
    status: MailStatus,
    attempts: int,
    next_attempt_at: dt.datetime,
    last_error: str | None,
    created_at: dt.datetime,
    sent_at: dt.datetime | None,
    zone: zoneinfo.ZoneInfo,
    *,
    channel: str = MAIL_CHANNEL,
    destination_id: int | None = None,
    destination_position: int | None = None,
) -> Delivery:
    if status is MailStatus.SENT:
        shown = DeliveryStatus.SENT
    elif status is MailStatus.FAILED:
        shown = DeliveryStatus.FAILED
    else:
        shown = DeliveryStatus.RETRYING if last_error else DeliveryStatus.QUEUED
    failure: FailureKind | None = None
    if status is MailStatus.FAILED:
        failure = (
            failure_kind(last_error) if channel == MAIL_CHANNEL else chat_failure_kind(last_error)
        )
    return Delivery(
        address=recipient,
        status=shown,
        attempts=attempts,
        queued_at=created_at.astimezone(zone),
        sent_at=sent_at.astimezone(zone) if sent_at is not None else None,
        next_attempt_at=(
            next_attempt_at.astimezone(zone) if status is MailStatus.PENDING else None
        ),
        failure=failure,
        reply=last_error or "",
        channel=channel,
        destination_id=destination_id,
        destination_position=destination_position,
    )


def deliveries(
    session: Session, decision_ids: Collection[int], timezone: str
) -> dict[int, tuple[Delivery, ...]]:
    """The call notification mails of the decisions, by decision, in the order queued,
    then (issue 19) their chat notices, in the order queued.

    One query for all of them (only the columns needed: not the messages).
    """
    if not decision_ids:
        return {}
    zone = zoneinfo.ZoneInfo(timezone)
    mails: dict[int, list[Delivery]] = {}
    chats: dict[int, list[Delivery]] = {}
    rows = session.execute(
        select(*_DELIVERY_COLUMNS, queued_chat_kind())
        .outerjoin(ChatDestination, ChatDestination.id == OutboxMail.destination_id)
        .where(
            OutboxMail.decision_id.in_(list(decision_ids)),
            OutboxMail.kind.in_([MailKind.CALL_NOTIFICATION, MailKind.CALL_CHAT]),
        )
        .order_by(OutboxMail.decision_id, OutboxMail.id)
    ).all()
    for row in rows:
        decision_id, recipient, status, attempts, next_at, last_error, created, sent = row[:8]
        kind, destination_id, destination_kind, position, queued_kind = row[8:]
        if decision_id is None:  # not with the IN above; said for the type checker
            continue
        if kind is MailKind.CALL_CHAT:
            chats.setdefault(decision_id, []).append(
                _delivery(
                    recipient,
                    status,
                    attempts,
                    next_at,
                    last_error,
                    created,
                    sent,
                    zone,
                    channel=chat_channel(queued_kind, destination_kind),
                    destination_id=destination_id,
                    destination_position=position,
                )
            )
        else:
            mails.setdefault(decision_id, []).append(
                _delivery(recipient, status, attempts, next_at, last_error, created, sent, zone)
            )
    return {
        decision_id: tuple(mails.get(decision_id, ())) + tuple(chats.get(decision_id, ()))
        for decision_id in {*mails, *chats}
    }


def call_deliveries(
    session: Session, number: str, limit: int = 50, *, before: CallKey | None = None
) -> list[CallDeliveries]:
    """The number's last ``limit`` calls, newest first, each with its mails by address
    and its chat notices by destination; with ``before`` (a ``CallDeliveries.key``),
    the ``limit`` calls after that one.

    The calls are those of ``store.bulk.call_history`` (only those recorded
    while this number was provisioned), each with its presented caller's
    phonebook name (issue 19, BOOK-2). Three queries, whatever ``limit``
    (two when no caller was presented).
    Raises ``NotFound`` for an unknown number.
    """
    zone, calls = bulk.recent_calls(session, number, limit, before=before)
    mailed = deliveries(session, [d.id for _, d in calls if d is not None and d.mailed], zone.key)
    names = bulk.caller_names_of(session, number, [call for call, _ in calls])
    return [
        CallDeliveries(
            bulk.history_row(call, decision, zone, caller_name=names.get(call.id, "")),
            mailed.get(decision.id, ()) if decision is not None else (),
            call.id,
        )
        for call, decision in calls
    ]


# How long a failed mail flags its address at most (「最近」 on the address page).
RECENT = dt.timedelta(days=30)


def note_test_sent(session: Session, number: str, address: str, *, now: dt.datetime) -> bool:
    """MAIL-2: a 送信テスト to ``address`` was accepted; False if it is not a saved address
    of ``number`` (a typed one, not saved yet: there is no flag to clear)."""
    found = service.get_number(session, number)
    for saved in found.addresses:
        if saved.address_key == address.strip().lower():
            saved.test_sent_at = now
            session.flush()
            return True
    return False


def recently_failed(
    session: Session, number: str, *, since: dt.datetime | None = None
) -> dict[str, FailedAddress]:
    """The number's current addresses whose latest finished call notification failed.

    Keyed by the address's ``address_key`` (lower case). "Latest" is by the
    time the mail was queued: a mail still pending neither sets nor clears
    the flag; once a mail queued after the failed one is sent, or a 送信テスト
    accepted after it (``test_sent_at``), the address is no longer flagged;
    nor is it when the failed mail was queued before ``since`` (the site passes
    its clock's now minus ``RECENT``; None: however old).
    Only the calls of this number count, and only call notifications. One query.
    """
    found = service.get_number(session, number)
    current: Mapping[str, DestinationAddress] = {a.address_key: a for a in found.addresses}
    if not current:
        return {}
    key = func.lower(OutboxMail.recipient)
    # Only the mails since ``since`` are read (the address page looks back 30 days, not at
    # every call ever): the latest of those is the latest of all whenever it counts.
    window = [OutboxMail.created_at > since] if since is not None else []
    ranked = (
        select(
            key.label("key"),
            OutboxMail.status,
            OutboxMail.last_error,
            OutboxMail.created_at,
            func.row_number()
            .over(partition_by=key, order_by=(OutboxMail.created_at.desc(), OutboxMail.id.desc()))
            .label("rank"),
        )
        .join(StoredDecision, StoredDecision.id == OutboxMail.decision_id)
        .join(StoredCall, StoredCall.id == StoredDecision.call_id)
        .where(
            StoredCall.number_id == found.id,
            OutboxMail.kind == MailKind.CALL_NOTIFICATION,
            OutboxMail.status != MailStatus.PENDING,
            key.in_(list(current)),
            *window,
        )
        .subquery()
    )
    zone = zoneinfo.ZoneInfo(found.timezone)
    rows = session.execute(
        select(ranked.c.key, ranked.c.last_error, ranked.c.created_at).where(
            ranked.c.rank == 1, ranked.c.status == MailStatus.FAILED
        )
    ).all()
    return {
        k: FailedAddress(
            address=current[k].address,
            position=current[k].position,
            failure=failure_kind(last_error),
            reply=last_error or "",
            queued_at=created_at.astimezone(zone),
        )
        for k, last_error, created_at in rows
        if current[k].test_sent_at is None or current[k].test_sent_at < created_at
    }


@dataclass(frozen=True)
class FailedDestination:
    """Issue 19 (CHAT-3): a current destination (in its slot, ``position``) whose latest
    finished call notice failed."""

    position: int
    kind: ChatKind
    failure: FailureKind
    reply: str  # for the operator only
    queued_at: dt.datetime  # of the failed notice, in the number's time zone


def recently_failed_destinations(
    session: Session, number: str, *, since: dt.datetime | None = None
) -> dict[int, FailedDestination]:
    """``recently_failed`` for the number's current chat and webhook destinations, by slot.

    The same rule: the latest finished call notice to the destination (by
    the time it was queued) failed, none queued later was sent, no accepted
    送信テスト after it (``test_sent_at``), and it was queued after ``since``.
    A destination removed and added again is a new row: its predecessor's
    failures do not count. One query.
    """
    found = service.get_number(session, number)
    current: Mapping[int, ChatDestination] = {d.id: d for d in found.destinations}
    if not current:
        return {}
    window = [OutboxMail.created_at > since] if since is not None else []
    ranked = (
        select(
            OutboxMail.destination_id,
            OutboxMail.status,
            OutboxMail.last_error,
            OutboxMail.created_at,
            func.row_number()
            .over(
                partition_by=OutboxMail.destination_id,
                order_by=(OutboxMail.created_at.desc(), OutboxMail.id.desc()),
            )
            .label("rank"),
        )
        .where(
            OutboxMail.kind == MailKind.CALL_CHAT,
            OutboxMail.status != MailStatus.PENDING,
            OutboxMail.destination_id.in_(list(current)),
            *window,
        )
        .subquery()
    )
    zone = zoneinfo.ZoneInfo(found.timezone)
    rows = session.execute(
        select(ranked.c.destination_id, ranked.c.last_error, ranked.c.created_at).where(
            ranked.c.rank == 1, ranked.c.status == MailStatus.FAILED
        )
    ).all()
    failed: dict[int, FailedDestination] = {}
    for destination_id, last_error, created_at in rows:
        d = current[destination_id]
        if d.test_sent_at is not None and d.test_sent_at >= created_at:
            continue
        failed[d.position] = FailedDestination(
            position=d.position,
            kind=d.kind,
            failure=chat_failure_kind(last_error),
            reply=last_error or "",
            queued_at=created_at.astimezone(zone),
        )
    return failed
