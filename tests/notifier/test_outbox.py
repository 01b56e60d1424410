"""MAIL-10 delivery: the outbox and its worker against a real SMTP server, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import (
    DeliveryWorker,
    RetryPolicy,
    SendResult,
    SmtpSender,
    SmtpSettings,
)
from store import db, service
from store.models import CallOutcome, MailKind, MailStatus, OutboxMail, Presentation
from tests.builders import Clock
from tests.notifier.smtp_server import SmtpServer

T0 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
FROM = "chakushin@example.jp"


def message(linkedid: str, recipient: str) -> str:
    return (
        f"From: {FROM}\r\nTo: {recipient}\r\nSubject: call {linkedid}\r\n"
        f"Message-ID: <{linkedid}.{recipient}@example.jp>\r\n\r\nbody\r\n"
    )


def queue(sessions: sessionmaker[Session], linkedid: str, recipients: list[str]) -> None:
    mails = [
        service.QueuedMail(
            r, f"call {linkedid}", message(linkedid, r), f"<{linkedid}.{r}@example.jp>"
        )
        for r in recipients
    ]
    with db.transaction(sessions) as s:
        assert service.record_call_decision(
            s,
            now=T0,
            linkedid=linkedid,
            subscriber_number="0312345678",
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=T0,
            ended_at=T0,
            mailed=True,
            reason="notify",
            mails=mails,
        )


def statuses(sessions: sessionmaker[Session]) -> list[tuple[str, MailStatus, int]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        return [(r.recipient, r.status, r.attempts) for r in rows]


def worker(
    sessions: sessionmaker[Session],
    port: int,
    clock: Clock,
    *,
    connections: int = 2,
    policy: RetryPolicy | None = None,
) -> DeliveryWorker:
    senders = [SmtpSender(SmtpSettings("127.0.0.1", port, timeout=5)) for _ in range(connections)]
    return DeliveryWorker(
        sessions, senders, FROM, policy=policy or RetryPolicy(), clock=clock, rng=random.Random(7)
    )


@pytest.mark.asyncio
async def test_MAIL_10_each_queued_mail_is_delivered_once(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    clock = Clock(T0)
    queue(sessions, "1.1", ["a@example.jp", "b@example.jp"])
    queue(sessions, "1.2", ["a@example.jp"])
    w = worker(sessions, smtp.port, clock)
    assert await w.run_once() == 3
    assert await w.run_once() == 0
    await w.close()
    assert sorted(smtp.inbox.message_ids().values()) == [1, 1, 1]
    assert [s for _, s, _ in statuses(sessions)] == [MailStatus.SENT] * 3


def test_MAIL_10_a_call_is_decided_once(sessions: sessionmaker[Session]) -> None:
    queue(sessions, "2.1", ["a@example.jp"])
    with db.transaction(sessions) as s:
        again = service.record_call_decision(
            s,
            now=T0,
            linkedid="2.1",
            subscriber_number="0312345678",
            caller_number="",
            presentation=Presentation.WITHHELD,
            outcome=CallOutcome.ANSWERED,
            dial_status="",
            forward_dial_status="",
            started_at=T0,
            ended_at=T0,
            mailed=False,
            reason="x",
            mails=[],
        )
    assert again is False
    assert len(statuses(sessions)) == 1


@pytest.mark.asyncio
async def test_MAIL_10_smtp_down_then_up_delivers_everything_once(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock(T0)
    down = SmtpServer()  # a port with nothing listening yet
    for i in range(5):
        queue(sessions, f"3.{i}", ["a@example.jp"])
    w = worker(sessions, down.port, clock)
    assert await w.run_once() == 5
    assert {(s, a) for _, s, a in statuses(sessions)} == {(MailStatus.PENDING, 1)}
    assert await w.run_once() == 0  # not due yet: backoff
    down.start()
    try:
        clock.advance(RetryPolicy().max_delay)
        assert await w.run_once() == 5
        await w.close()
    finally:
        down.stop()
    assert sorted(down.inbox.message_ids().values()) == [1] * 5
    assert {(s, a) for _, s, a in statuses(sessions)} == {(MailStatus.SENT, 2)}


@pytest.mark.asyncio
async def test_MAIL_10_4xx_is_retried_then_delivered(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    clock = Clock(T0)
    smtp.inbox.refusals = ["451 4.3.0 try again later"]
    queue(sessions, "4.1", ["a@example.jp"])
    w = worker(sessions, smtp.port, clock, connections=1)
    await w.run_once()
    ((_, status, attempts),) = statuses(sessions)
    assert (status, attempts) == (MailStatus.PENDING, 1)
    with db.transaction(sessions, read_only=True) as s:
        row = s.scalars(sa.select(OutboxMail)).one()
        assert row.last_error is not None and row.last_error.startswith("451")
        backoff = (row.next_attempt_at - T0).total_seconds()
    assert RetryPolicy().base_delay / 2 <= backoff <= RetryPolicy().base_delay
    clock.advance(backoff)
    assert await w.run_once() == 1
    await w.close()
    assert statuses(sessions) == [("a@example.jp", MailStatus.SENT, 2)]
    assert len(smtp.inbox.messages) == 1


@pytest.mark.asyncio
async def test_MAIL_10_5xx_fails_with_the_reply_and_others_still_go(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    clock = Clock(T0)
    smtp.inbox.refusals = ["550 5.1.1 mailbox unavailable"]
    queue(sessions, "5.1", ["gone@example.jp"])
    queue(sessions, "5.2", ["ok@example.jp"])
    w = worker(sessions, smtp.port, clock, connections=1)
    assert await w.run_once() == 2
    await w.close()
    assert statuses(sessions) == [
        ("gone@example.jp", MailStatus.FAILED, 1),
        ("ok@example.jp", MailStatus.SENT, 1),
    ]
    with db.transaction(sessions, read_only=True) as s:
        failed = s.scalars(
            sa.select(OutboxMail).where(OutboxMail.status == MailStatus.FAILED)
        ).one()
        assert failed.last_error is not None and "550" in failed.last_error
    assert w.counts == {"sent": 1, "failed": 1, "retrying": 0}


@pytest.mark.asyncio
async def test_MAIL_10_temporary_failures_stop_at_the_deadline(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock(T0)
    nowhere = SmtpServer()
    queue(sessions, "6.1", ["a@example.jp"])
    w = worker(
        sessions,
        nowhere.port,
        clock,
        connections=1,
        policy=RetryPolicy(deadline=dt.timedelta(minutes=10)),
    )
    attempts = 0
    while statuses(sessions)[0][1] is MailStatus.PENDING:
        clock.advance(RetryPolicy().max_delay)
        attempts += await w.run_once()
        assert attempts < 20
    assert statuses(sessions)[0][1] is MailStatus.FAILED


@pytest.mark.asyncio
async def test_MAIL_10_a_claimed_mail_is_not_taken_again_until_its_lease_ends(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    """A worker that died after claiming: the mail waits for the lease, then goes once."""
    clock = Clock(T0)
    queue(sessions, "7.1", ["a@example.jp"])
    w = worker(sessions, smtp.port, clock)
    assert len(w._claim()) == 1  # claimed, then the worker "dies"
    assert await w.run_once() == 0
    clock.advance(RetryPolicy().lease.total_seconds())
    assert await w.run_once() == 1
    await w.close()
    assert smtp.inbox.message_ids() == {"<7.1.a@example.jp>": 1}


@pytest.mark.asyncio
async def test_MAIL_10_two_workers_share_the_outbox_without_double_sending(
    db_url: str, smtp: SmtpServer
) -> None:
    engines = [db.make_engine(db_url) for _ in range(2)]
    try:
        factories = [db.session_factory(e) for e in engines]
        for i in range(40):
            queue(factories[0], f"8.{i}", ["a@example.jp", "b@example.jp"])
        clock = Clock(T0)
        workers = [
            DeliveryWorker(
                f,
                [SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=5))],
                FROM,
                batch=7,
                clock=clock,
            )
            for f in factories
        ]

        async def drain(w: DeliveryWorker) -> int:
            total = 0
            while n := await w.run_once():
                total += n
            await w.close()
            return total

        done = await asyncio.gather(*(drain(w) for w in workers))
    finally:
        for e in engines:
            e.dispose()
    assert sum(done) == 80
    ids = smtp.inbox.message_ids()
    assert len(ids) == 80 and set(ids.values()) == {1}


def test_retry_delay_grows_and_is_capped() -> None:
    policy, rng = RetryPolicy(base_delay=5, max_delay=60), random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 10)]
    assert 2.5 <= delays[0] <= 5 and all(d <= 60 for d in delays)
    assert delays[5] >= 30


@pytest.mark.asyncio
async def test_connection_is_reused_across_mails(smtp: SmtpServer) -> None:
    sender = SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=5))
    first = await sender.send(FROM, "a@example.jp", message("9.1", "a@example.jp"))
    connection = sender._smtp
    second = await sender.send(FROM, "b@example.jp", message("9.2", "b@example.jp"))
    assert first.ok and second.ok and sender._smtp is connection
    await sender.close()
    assert SendResult(True).ok


@pytest.mark.asyncio
async def test_MAIL_10_worker_survives_a_database_outage(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    w = DeliveryWorker(sessions, [], FROM, idle_poll=0.01)
    stop = asyncio.Event()
    calls = 0

    async def flaky(_stop: asyncio.Event | None = None) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        stop.set()
        return 0

    monkeypatch.setattr(w, "run_once", flaky)
    await asyncio.wait_for(w.run(stop), 10)
    assert calls == 2


@pytest.mark.asyncio
async def test_SITE_5_a_mail_carrying_a_secret_keeps_no_copy_once_delivered(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    from notifier.outbox import SECRET_REMOVED

    clock = Clock(T0)
    queue(sessions, "2.1", ["a@example.jp"])  # a call notification: kept as sent
    code_mail = message("otp", "me@example.jp").replace("body", "code 123456")
    with db.transaction(sessions) as s:
        s.add(
            OutboxMail(
                dedup_key="otp:1",
                kind=MailKind.ONE_TIME_PASSWORD,
                recipient="me@example.jp",
                subject="otp",
                body=code_mail,
                headers={},
                next_attempt_at=T0,
                created_at=T0,
            )
        )
    w = worker(sessions, smtp.port, clock)
    assert await w.run_once() == 2
    await w.close()
    assert smtp.inbox.wait_for(2, 10)
    with db.transaction(sessions, read_only=True) as s:
        rows = {r.kind: r for r in s.scalars(sa.select(OutboxMail))}
        assert rows[MailKind.ONE_TIME_PASSWORD].status is MailStatus.SENT
        assert rows[MailKind.ONE_TIME_PASSWORD].body == SECRET_REMOVED
        assert rows[MailKind.CALL_NOTIFICATION].body != SECRET_REMOVED


class BreakableSessions:
    """The real session factory, which fails as a full disk or a held lock does while ``broken``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.kw = sessions.kw
        self.broken = False
        self.refused = 0

    def __call__(self) -> Session:
        if self.broken:
            self.refused += 1
            raise sa.exc.OperationalError("BEGIN", {}, Exception("database or disk is full"))
        return self.sessions()


class BreakingSender:
    """Sends for real; the first send breaks the database, so its result cannot be recorded."""

    def __init__(self, sender: SmtpSender, store: BreakableSessions) -> None:
        self.sender = sender
        self.store = store
        self.sent = 0

    async def send(self, sender: str, recipient: str, message: str) -> SendResult:
        result = await self.sender.send(sender, recipient, message)
        self.sent += 1
        if self.sent == 1:
            self.store.broken = True
        return result

    async def close(self) -> None:
        await self.sender.close()


@pytest.mark.asyncio
async def test_item2_MAIL_10_a_database_error_while_recording_a_result_stops_nothing(
    sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    """The worker keeps the result, backs off, and records it once the database is back.

    It used to escape ``run`` as an ExceptionGroup and end all of ``chakushin serve``.
    """
    clock = Clock(T0)
    queue(sessions, "7.1", ["a@example.jp", "b@example.jp", "c@example.jp"])
    store = BreakableSessions(sessions)
    real = SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=5))
    w = DeliveryWorker(
        store,  # type: ignore[arg-type]
        [BreakingSender(real, store)],
        FROM,
        clock=clock,
        idle_poll=0.02,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    try:
        assert await asyncio.to_thread(smtp.inbox.wait_for, 1, 30)
        # The database refuses again and again (the worker retries, backing off) ...
        for _ in range(2000):
            if store.refused >= 3 or running.done():
                break
            await asyncio.sleep(0.01)
        assert not running.done(), running.exception()
        assert store.refused >= 3
        # ... and once it is back, every result is recorded, each mail sent once.
        store.broken = False
        done = False
        for _ in range(3000):
            # Counted once the worker has the commit back: both, or wait on.
            if [s for _, s, _ in statuses(sessions)] == [MailStatus.SENT] * 3 and (
                w.counts["sent"] == 3
            ):
                done = True
                break
            await asyncio.sleep(0.01)
        assert done, statuses(sessions)
        assert sorted(smtp.inbox.message_ids().values()) == [1, 1, 1]
        assert w.counts["sent"] == 3
    finally:
        stop.set()
        await running
        await w.close()
