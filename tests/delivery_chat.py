"""Issue 19 (CHAT-1, CHAT-3): calls with chat notices in the outbox, for the history tests.

The rows are written as the notifier queues them (``MailKind.CALL_CHAT``, one
per destination, recipient = the destination's shown name, headers
``content_type`` and ``chat_kind``, the dedup key ``msg_...``) and their
attempts recorded as the delivery worker records them
(``notifier.outbox.record_results``), so the store, CLI, API and site tests
of the history need neither the engine nor the chat worker.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import Claimed, RetryPolicy, SendResult, record_results
from notifier.webhooks import HttpSender, Target
from store import db, service
from store.models import (
    CallOutcome,
    ChatDestination,
    ChatKind,
    MailKind,
    MailStatus,
    OutboxMail,
    PhonebookEntry,
    Presentation,
    StoredCall,
    StoredDecision,
)

POLICY = RetryPolicy(deadline=dt.timedelta(hours=1))
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
TOKEN = "0123456789abcdef0123456789abcdef"


def add_destination(
    sessions: sessionmaker[Session],
    number: str,
    kind: ChatKind,
    *,
    position: int,
    label: str = "",
    url: str | None = None,
    now: dt.datetime,
) -> int:
    """A destination row of ``number`` in slot ``position``; its id. A webhook gets the
    signing secret ``SECRET``, Chatwork room 123 with the token ``TOKEN``."""
    with db.transaction(sessions) as s:
        found = service.get_number(s, number)
        row = ChatDestination(
            number_id=found.id,
            position=position,
            kind=kind,
            label=label,
            url=None
            if kind is ChatKind.CHATWORK
            else (url or f"https://example.com/hook/{position}"),
            room_id="123" if kind is ChatKind.CHATWORK else None,
            secret={ChatKind.WEBHOOK: SECRET, ChatKind.CHATWORK: TOKEN}.get(kind),
            send=True,
            created_at=now,
        )
        s.add(row)
        s.flush()
        return row.id


def add_name(sessions: sessionmaker[Session], number: str, caller: str, name: str) -> None:
    """A phonebook entry of ``number`` (BOOK-1), written as the store keeps it."""
    with db.transaction(sessions) as s:
        found = service.get_number(s, number)
        s.add(PhonebookEntry(number_id=found.id, caller_number=caller, name=name, note=""))


def chat_key(linkedid: str, destination_id: int) -> str:
    return "msg_" + hashlib.sha256(f"{linkedid}\0{destination_id}".encode()).hexdigest()[:32]


def a_call_with_chats(
    sessions: sessionmaker[Session],
    *,
    number: str,
    linkedid: str,
    at: dt.datetime,
    mails: Iterable[str] = (),
    chats: Iterable[tuple[int, ChatKind, str]] = (),
    caller: str = "0398765432",
    presentation: Presentation = Presentation.ALLOWED,
) -> None:
    """A mailed, unanswered call to ``number`` at ``at``: a mail to each of ``mails`` and a
    chat notice to each (destination id, kind, shown name) of ``chats``, queued then."""
    with db.transaction(sessions) as s:
        assert service.record_call_decision(
            s,
            now=at,
            linkedid=linkedid,
            subscriber_number=number,
            caller_number=caller,
            presentation=presentation,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=at,
            ended_at=at,
            mailed=True,
            reason="notify",
            mails=[
                service.QueuedMail(to, f"call {linkedid}", "body", f"<{linkedid}.{to}@x>")
                for to in mails
            ],
        )
        decision_id = s.scalar(
            select(StoredDecision.id)
            .join(StoredCall, StoredCall.id == StoredDecision.call_id)
            .where(StoredCall.linkedid == linkedid)
        )
        for destination_id, kind, shown in chats:
            s.add(
                OutboxMail(
                    dedup_key=chat_key(linkedid, destination_id),
                    kind=MailKind.CALL_CHAT,
                    decision_id=decision_id,
                    destination_id=destination_id,
                    recipient=shown,
                    subject="着信",
                    body='{"text": "着信"}',
                    headers={"content_type": "application/json", "chat_kind": kind.value},
                    status=MailStatus.PENDING,
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
            )


def chat_attempt(
    sessions: sessionmaker[Session],
    results: Mapping[str, SendResult],
    *,
    at: dt.datetime,
    policy: RetryPolicy = POLICY,
) -> None:
    """One round of a chat worker at ``at``: the due chat notices whose shown name has a
    result are claimed and their results recorded (the others are left as they are)."""
    with db.transaction(sessions) as s:
        rows: Sequence[OutboxMail] = s.scalars(
            select(OutboxMail)
            .where(
                OutboxMail.kind == MailKind.CALL_CHAT,
                OutboxMail.status == MailStatus.PENDING,
                OutboxMail.next_attempt_at <= at,
            )
            .order_by(OutboxMail.id)
        ).all()
        claimed = []
        for row in rows:
            if row.recipient not in results:
                continue
            row.attempts += 1
            row.next_attempt_at = at + policy.lease
            claimed.append(
                (
                    Claimed(row.id, row.recipient, row.body, row.attempts, row.created_at, at),
                    results[row.recipient],
                )
            )
        s.flush()
        record_results(s, claimed, at, policy, random.Random(1))


async def post_due_chats(
    sessions: sessionmaker[Session],
    sender: HttpSender,
    *,
    at: dt.datetime,
    policy: RetryPolicy = POLICY,
) -> int:
    """One round of a chat worker at ``at`` over real HTTP: every due chat notice claimed,
    posted with ``sender`` to its destination and its result recorded; how many."""
    with db.transaction(sessions) as s:
        rows = s.execute(
            select(OutboxMail, ChatDestination)
            .outerjoin(ChatDestination, ChatDestination.id == OutboxMail.destination_id)
            .where(
                OutboxMail.kind == MailKind.CALL_CHAT,
                OutboxMail.status == MailStatus.PENDING,
                OutboxMail.next_attempt_at <= at,
            )
            .order_by(OutboxMail.id)
        ).all()
        todo = []
        for row, destination in rows:
            row.attempts += 1
            row.next_attempt_at = at + policy.lease
            claimed = Claimed(row.id, row.recipient, row.body, row.attempts, row.created_at, at)
            target = Target.of(destination) if destination is not None else None
            todo.append((claimed, target, row.headers["content_type"], row.dedup_key))
    done = []
    for claimed, target, content_type, key in todo:
        if target is None:
            result = SendResult(False, permanent=True, reply="destination removed")
        else:
            result = await sender.post(target, claimed.message, content_type, message_id=key)
        done.append((claimed, result))
    with db.transaction(sessions) as s:
        record_results(s, done, at, policy, random.Random(1))
    return len(done)
