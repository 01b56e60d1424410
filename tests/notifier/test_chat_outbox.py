"""Issue 19 (CHAT-3, MAIL-10): chat notices in the mail's outbox, on both databases."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import (
    MAX_RETRY_AFTER,
    Claimed,
    DeliveryWorker,
    RetryPolicy,
    SendResult,
    SmtpSender,
    SmtpSettings,
    claim_rows,
    record_results,
)
from store import db
from store.models import MailKind, MailStatus, OutboxMail
from tests.builders import Clock
from tests.notifier.smtp_server import SmtpServer

T0 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def add_row(sessions: sessionmaker[Session], key: str, kind: MailKind) -> int:
    with db.transaction(sessions) as s:
        row = OutboxMail(
            dedup_key=key,
            kind=kind,
            recipient="a@example.jp" if kind is not MailKind.CALL_CHAT else "Slack",
            subject=key,
            body=f"Message-ID: <{key}@example.jp>\r\n\r\nbody\r\n",
            headers={},
            next_attempt_at=T0,
            created_at=T0,
        )
        s.add(row)
        s.flush()
        return row.id


def row(sessions: sessionmaker[Session], row_id: int) -> OutboxMail:
    with db.transaction(sessions, read_only=True) as s:
        found = s.get(OutboxMail, row_id)
        assert found is not None
        s.expunge(found)
        return found


@pytest.mark.asyncio
async def test_CHAT_3_MAIL_10_the_mail_worker_leaves_chat_notices_alone(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    mail = add_row(sessions, "m1", MailKind.CALL_NOTIFICATION)
    chat = add_row(sessions, "c1", MailKind.CALL_CHAT)
    w = DeliveryWorker(
        sessions,
        [SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=5))],
        "chakushin@example.jp",
        clock=Clock(T0),
    )
    assert await w.run_once() == 1
    assert await w.run_once() == 0
    await w.close()
    assert row(sessions, mail).status is MailStatus.SENT
    untouched = row(sessions, chat)
    assert (untouched.status, untouched.attempts) == (MailStatus.PENDING, 0)
    assert len(smtp.inbox.messages) == 1
    with db.transaction(sessions) as s:  # and the chat claim takes only it
        assert [r.id for r in claim_rows(s, T0, 10, RetryPolicy().lease, chat=True)] == [chat]


@pytest.mark.parametrize(("asked", "waited"), [(600.0, 600.0), (10.0**7, MAX_RETRY_AFTER)])
def test_CHAT_3_a_retry_comes_no_sooner_than_retry_after_says(
    sessions: sessionmaker[Session], asked: float, waited: float
) -> None:
    """The backoff of a first retry is 2.5-5 s; Retry-After wins when longer (capped at 1 h)."""
    chat = add_row(sessions, "c2", MailKind.CALL_CHAT)
    policy = RetryPolicy()
    with db.transaction(sessions) as s:
        (claimed,) = claim_rows(s, T0, 10, policy.lease, chat=True)
    claim = Claimed(chat, "Slack", "", 1, T0, T0 + policy.lease)
    result = SendResult(False, reply="HTTP 429 Too Many Requests", retry_after=asked)
    with db.transaction(sessions) as s:
        assert record_results(s, [(claim, result)], T0, policy, random.Random(1)) == [
            MailStatus.PENDING
        ]
    assert row(sessions, chat).next_attempt_at == T0 + dt.timedelta(seconds=waited)
    assert claimed.id == chat
