"""Finished calls and their one decision each, with their mails (MAIL-10).

The notifier loads the numbers' mail settings (``load_numbers``), skips the
calls decided before (``decided_linkedids``) and stores each call, its
decision and its queued mails in one transaction (``record_call_decisions``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store import outbox
from store.models import (
    MAX_DEDUP_KEY,
    CallOutcome,
    ChatKind,
    MailKind,
    Number,
    Presentation,
    StoredCall,
    StoredDecision,
)
from store.service.lines import storable_key


@dataclass(frozen=True)
class QueuedMail:
    """One mail a decision calls for, composed, ready for the outbox."""

    recipient: str
    subject: str
    message: str  # the whole RFC 5322 message
    message_id: str


@dataclass(frozen=True)
class QueuedChat:
    """Issue 19 (CHAT-1): one chat/webhook notice a decision calls for, ready for the outbox.

    ``recipient`` is the destination's shown name (its label, else its
    kind's name), ``subject`` the message's first line, ``body`` the payload
    as posted and ``content_type`` its Content-Type.
    """

    destination_id: int
    kind: ChatKind
    recipient: str
    subject: str
    body: str
    content_type: str


def chat_key(linkedid: str, destination_id: int) -> str:
    """CHAT-2, MAIL-10: the outbox key of one call's notice to one destination.

    The same every time the call is decided (queued once) and the generic
    webhook's ``webhook-id``: ``msg_`` and 32 hex digits of a digest, so that
    neither the Linkedid nor the destination shows in the receiver's logs.
    """
    digest = hashlib.sha256(f"{linkedid}\0{destination_id}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


# The outbox's recipient column.
_MAX_RECIPIENT = 254


def find_number(session: Session, number: str) -> Number | None:
    if not storable_key(number):
        return None  # issue 18: not there (a NUL is PostgreSQL's error, not an answer)
    return session.scalars(select(Number).where(Number.number == number)).one_or_none()


def load_numbers(session: Session, numbers: Iterable[str]) -> dict[str, Number]:
    """The given subscriber numbers with their mail settings, in one round of queries."""
    found = session.scalars(
        select(Number)
        .where(Number.number.in_(set(numbers)))
        .options(
            selectinload(Number.notification),
            selectinload(Number.addresses),
            selectinload(Number.designated),
            selectinload(Number.destinations),
        )
    ).all()
    return {n.number: n for n in found}


def decided_linkedids(session: Session, linkedids: Iterable[str]) -> set[str]:
    return set(
        session.scalars(select(StoredCall.linkedid).where(StoredCall.linkedid.in_(set(linkedids))))
    )


@dataclass(frozen=True)
class CallDecision:
    """One finished call and its decision, ready to store (MAIL-10)."""

    linkedid: str
    subscriber_number: str
    caller_number: str
    presentation: Presentation
    outcome: CallOutcome
    dial_status: str
    forward_dial_status: str
    started_at: dt.datetime
    ended_at: dt.datetime
    mailed: bool
    reason: str
    rule: str
    mails: Sequence[QueuedMail]
    # Recorded as malformed (issue 12): never linked to a subscriber's number.
    malformed: bool = False
    # Issue 17 (MAIL-9): the interface that answered and Asterisk's member name.
    answered_by: str = ""
    answered_name: str = ""
    # Issue 19 (CHAT-1): the call's chat/webhook notices (only with mails).
    chats: Sequence[QueuedChat] = ()


def record_call_decisions(
    session: Session, decisions: Sequence[CallDecision], *, now: dt.datetime
) -> set[str]:
    """MAIL-10: calls, their one decision each and their mails, in the caller's transaction.

    ``now`` stamps the records, the decisions and the mails, which are due
    at once: the delivery worker compares these stamps with the same clock.

    Returns the Linkedids written; a call decided before (a replay after a
    restart, another notifier) is skipped: a call is decided exactly once.
    Rows go in with three bulk flushes whatever the batch size.

    Issue 19 (CHAT-1): a decision's chat notices are queued beside its mails,
    kind ``CALL_CHAT``, keyed ``chat_key`` (once per call and destination),
    and only if the call is mailed with at least one mail.
    """
    skip = decided_linkedids(session, (d.linkedid for d in decisions))
    todo = [d for d in decisions if d.linkedid not in skip]
    todo = list({d.linkedid: d for d in todo}.values())  # the same call twice in one batch
    if not todo:
        return set()
    number_ids = {
        n: i
        for n, i in session.execute(
            select(Number.number, Number.id).where(
                Number.number.in_({d.subscriber_number for d in todo})
            )
        )
    }
    calls = [
        StoredCall(
            linkedid=d.linkedid,
            subscriber_number=d.subscriber_number,
            number_id=None if d.malformed else number_ids.get(d.subscriber_number),
            caller_number=d.caller_number or None,
            presentation=d.presentation,
            outcome=d.outcome,
            dial_status=d.dial_status or None,
            forward_dial_status=d.forward_dial_status or None,
            answered_by=d.answered_by or None,
            answered_name=d.answered_name or None,
            started_at=d.started_at,
            ended_at=d.ended_at,
            recorded_at=now,
        )
        for d in todo
    ]
    session.add_all(calls)
    session.flush()
    made = [
        StoredDecision(
            call_id=call.id,
            mailed=d.mailed,
            reason=d.reason,
            rule=d.rule,
            recipients=[m.recipient for m in d.mails],
            decided_at=now,
        )
        for call, d in zip(calls, todo, strict=True)
    ]
    session.add_all(made)
    session.flush()
    outbox.enqueue(
        session,
        (
            outbox.QueuedMessage(
                dedup_key=call_mail_key(d.linkedid, mail.recipient),
                kind=MailKind.CALL_NOTIFICATION,
                decision_id=decision.id,
                recipient=mail.recipient,
                subject=mail.subject,
                message=mail.message,
                message_id=mail.message_id,
            )
            for decision, d in zip(made, todo, strict=True)
            for mail in d.mails
        ),
        now=now,
    )
    outbox.enqueue(
        session,
        (
            outbox.QueuedMessage(
                dedup_key=chat_key(d.linkedid, notice.destination_id),
                kind=MailKind.CALL_CHAT,
                decision_id=decision.id,
                destination_id=notice.destination_id,
                recipient=notice.recipient[:_MAX_RECIPIENT],
                subject=notice.subject,
                message=notice.body,
                message_id=chat_key(d.linkedid, notice.destination_id),
                headers={"content_type": notice.content_type, "chat_kind": notice.kind.value},
            )
            for decision, d in zip(made, todo, strict=True)
            for notice in _chats_of(d)
        ),
        now=now,
    )
    session.flush()
    return {d.linkedid for d in todo}


def _chats_of(d: CallDecision) -> list[QueuedChat]:
    """CHAT-1: a call's notices, one per destination, and none for a call that gets no mail."""
    if not (d.mailed and d.mails):
        return []
    first: dict[int, QueuedChat] = {}
    for notice in d.chats:
        first.setdefault(notice.destination_id, notice)
    return list(first.values())


def call_mail_key(linkedid: str, recipient: str) -> str:
    """The outbox key of one call's mail to one recipient (MAIL-10: queued once).

    A 64-character Linkedid and a 254-character address would not fit the
    200-character column: such a key names the recipient by its digest.
    """
    key = f"call:{linkedid}:{recipient.lower()}"
    if len(key) <= MAX_DEDUP_KEY:
        return key
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()
    return f"call:{linkedid}:sha256:{digest}"


def record_call_decision(session: Session, *, now: dt.datetime, **fields: Any) -> bool:
    """One call's decision (see ``record_call_decisions``); False if decided before."""
    fields.setdefault("rule", "")
    return bool(record_call_decisions(session, [CallDecision(**fields)], now=now))
