"""Issue 19 (CHAT-3, MAIL-10): chat notices in the mail's outbox, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from notifier.chat_outbox import ChatDeliveryWorker
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
from notifier.webhooks import HttpSender, WebhookSettings
from store import db, destinations, service
from store.models import CallOutcome, ChatKind, MailKind, MailStatus, OutboxMail, Presentation
from tests.builders import Clock, until, verified_webhook
from tests.notifier.http_server import HttpServer, Reply
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


# --- ChatDeliveryWorker against a real HTTP server ------------------------------------------

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
NUMBER = "0312345678"
LOCAL = ("127.0.0.1",)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def add_destinations(
    sessions: sessionmaker[Session], server: HttpServer, kinds: Sequence[ChatKind]
) -> dict[ChatKind, tuple[int, str | None]]:
    """The number with mail on and one destination of each kind: kind -> (id, secret)."""
    made: dict[ChatKind, tuple[int, str | None]] = {}
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, "a@example.jp")
        service.start_mail(s, NUMBER)
        for kind in kinds:
            if kind is ChatKind.CHATWORK:
                shown, secret = destinations.add_destination(
                    s, NUMBER, kind, room_id="123", token="0123456789abcdef", now=NOW
                )
            else:
                shown, secret = destinations.add_destination(
                    s, NUMBER, kind, url=server.url(f"/{kind.value}"), allow_hosts=LOCAL, now=NOW
                )
            made[kind] = (destinations.destination_row(s, NUMBER, shown.position).id, secret)
    return made


def queue_call(
    sessions: sessionmaker[Session], linkedid: str, targets: Sequence[tuple[int, ChatKind]]
) -> None:
    """A decided call with one mail and a notice to each of ``targets`` (the engine's way)."""
    chats = [
        service.QueuedChat(d, kind, kind.value, "call", json.dumps({"call": linkedid, "to": d}), ct)
        for d, kind in targets
        for ct in ["application/json"]
    ]
    mail = service.QueuedMail("a@example.jp", "call", "body", f"<{linkedid}@example.jp>")
    with db.transaction(sessions) as s:
        assert service.record_call_decision(
            s,
            now=NOW,
            linkedid=linkedid,
            subscriber_number=NUMBER,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=NOW,
            ended_at=NOW,
            mailed=True,
            reason="notify",
            mails=[mail],
            chats=chats,
        )


def chat_rows(sessions: sessionmaker[Session]) -> list[OutboxMail]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.kind == MailKind.CALL_CHAT)
            .order_by(OutboxMail.id)
        ).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def chat_worker(
    sessions: sessionmaker[Session],
    clock: Clock,
    *,
    timeout: float = 5.0,
    policy: RetryPolicy | None = None,
    **kw: Any,
) -> ChatDeliveryWorker:
    sender = HttpSender(
        WebhookSettings(
            timeout=timeout, allow_hosts=frozenset(LOCAL), chatwork_api=kw.pop("api", "")
        ),
        clock=clock,
    )
    return ChatDeliveryWorker(
        sessions, sender, policy=policy, clock=clock, rng=random.Random(7), **kw
    )


@pytest.mark.asyncio
async def test_CHAT_3_MAIL_10_a_2xx_delivers_each_notice_once(
    sessions: sessionmaker[Session], server: HttpServer
) -> None:
    kinds = [ChatKind.SLACK, ChatKind.WEBHOOK, ChatKind.CHATWORK]
    made = add_destinations(sessions, server, kinds)
    queue_call(sessions, "1.1", [(made[k][0], k) for k in kinds])
    clock = Clock(NOW)
    w = chat_worker(sessions, clock, api=server.url("/v2"))
    assert await w.run_once() == 3
    assert await w.run_once() == 0
    await w.close()
    assert sorted(server.paths()) == ["/slack", "/v2/rooms/123/messages", "/webhook"]
    assert {(r.status, r.attempts, r.last_error) for r in chat_rows(sessions)} == {
        (MailStatus.SENT, 1, None)
    }
    assert w.counts == {"sent": 3, "failed": 0, "retrying": 0}
    assert {k: c["sent"] for k, c in w.counts_by_kind.items() if c["sent"]} == {k: 1 for k in kinds}


def _refused(server: HttpServer) -> None:
    server.stop()  # nothing listens on its port any more


@pytest.mark.asyncio
@pytest.mark.parametrize("trouble", ["503", "500", "timeout", "refused"])
async def test_CHAT_3_MAIL_10_temporary_failures_back_off_until_the_deadline_then_fail(
    sessions: sessionmaker[Session], server: HttpServer, trouble: str
) -> None:
    made = add_destinations(sessions, server, [ChatKind.SLACK])
    queue_call(sessions, "2.1", [(made[ChatKind.SLACK][0], ChatKind.SLACK)])
    if trouble == "timeout":
        server.default = Reply(200, hold=True)
    elif trouble == "refused":
        _refused(server)
    else:
        server.default = Reply(int(trouble), b"try later")
    clock = Clock(NOW)
    policy = RetryPolicy(deadline=dt.timedelta(minutes=30))
    w = chat_worker(sessions, clock, timeout=0.5, policy=policy)
    assert await w.run_once() == 1
    (row,) = chat_rows(sessions)
    assert (row.status, row.attempts) == (MailStatus.PENDING, 1)
    wait = (row.next_attempt_at - NOW).total_seconds()
    assert policy.base_delay / 2 <= wait <= policy.base_delay  # the backoff, not at once
    assert await w.run_once() == 0  # not due yet
    attempts = 1
    while chat_rows(sessions)[0].status is MailStatus.PENDING:
        clock.advance(policy.max_delay)
        attempts += await w.run_once()
        assert attempts < 20
    await w.close()
    (row,) = chat_rows(sessions)
    assert row.status is MailStatus.FAILED and attempts >= 3
    expected = {"503": "HTTP 503 ", "500": "HTTP 500 ", "timeout": "", "refused": "ConnectError"}
    assert row.last_error is not None and row.last_error.startswith(expected[trouble])
    if trouble == "timeout":
        assert "Timeout" in row.last_error.split(":")[0]
    assert w.counts["failed"] == 1 and w.counts["retrying"] == attempts - 1


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["seconds", "date"])
async def test_CHAT_3_429_is_retried_no_sooner_than_retry_after(
    sessions: sessionmaker[Session], server: HttpServer, form: str
) -> None:
    made = add_destinations(sessions, server, [ChatKind.DISCORD])
    queue_call(sessions, "3.1", [(made[ChatKind.DISCORD][0], ChatKind.DISCORD)])
    value = (
        "120"
        if form == "seconds"
        else email.utils.format_datetime(NOW + dt.timedelta(seconds=120), usegmt=True)
    )
    server.script = [Reply(429, b"rate limited", (("Retry-After", value),))]
    clock = Clock(NOW)
    w = chat_worker(sessions, clock)
    assert await w.run_once() == 1
    (row,) = chat_rows(sessions)
    assert row.status is MailStatus.PENDING
    assert row.next_attempt_at == NOW + dt.timedelta(seconds=120)
    assert row.last_error == "HTTP 429 Too Many Requests: rate limited"
    clock.advance(119)
    assert await w.run_once() == 0
    clock.advance(1)
    assert await w.run_once() == 1
    await w.close()
    assert chat_rows(sessions)[0].status is MailStatus.SENT
    assert len(server.requests) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 302])
async def test_CHAT_3_a_refusal_gives_up_at_once_with_the_answer(
    sessions: sessionmaker[Session], server: HttpServer, status: int
) -> None:
    made = add_destinations(sessions, server, [ChatKind.SLACK])
    queue_call(sessions, "4.1", [(made[ChatKind.SLACK][0], ChatKind.SLACK)])
    server.default = Reply(status, b"no_service", (("Location", server.url("/moved")),))
    w = chat_worker(sessions, Clock(NOW))
    assert await w.run_once() == 1
    await w.close()
    (row,) = chat_rows(sessions)
    assert (row.status, row.attempts) == (MailStatus.FAILED, 1)
    assert row.last_error is not None and row.last_error.startswith(f"HTTP {status} ")
    assert row.last_error.endswith(": no_service")
    assert server.paths() == ["/slack"]  # a redirect's Location is never asked
    assert w.counts_by_kind[ChatKind.SLACK]["failed"] == 1


@pytest.mark.asyncio
async def test_CHAT_2_webhook_id_is_the_dedup_key_and_the_same_on_a_retry(
    sessions: sessionmaker[Session], server: HttpServer
) -> None:
    made = add_destinations(sessions, server, [ChatKind.WEBHOOK])
    destination_id, secret = made[ChatKind.WEBHOOK]
    assert secret is not None
    queue_call(sessions, "5.1", [(destination_id, ChatKind.WEBHOOK)])
    server.script = [Reply(503, b"down")]
    clock = Clock(NOW)
    w = chat_worker(sessions, clock)
    assert await w.run_once() == 1
    clock.advance(RetryPolicy().base_delay)
    assert await w.run_once() == 1
    await w.close()
    (row,) = chat_rows(sessions)
    assert row.status is MailStatus.SENT and row.attempts == 2
    assert row.dedup_key == service.chat_key("5.1", destination_id)
    first, second = server.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.dedup_key
    for request in (first, second):
        event = verified_webhook(secret, request.body, request.headers, at=NOW)
        assert event == json.loads(row.body)
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 5


@pytest.mark.asyncio
async def test_CHAT_3_a_removed_destination_s_notice_fails_destination_removed(
    sessions: sessionmaker[Session], server: HttpServer
) -> None:
    made = add_destinations(sessions, server, [ChatKind.SLACK, ChatKind.TEAMS])
    queue_call(sessions, "6.1", [(made[k][0], k) for k in (ChatKind.SLACK, ChatKind.TEAMS)])
    with db.transaction(sessions) as s:
        destinations.remove_destination(s, NUMBER, 1)  # the Slack one
    w = chat_worker(sessions, Clock(NOW))
    assert await w.run_once() == 2
    await w.close()
    rows = {r.recipient: r for r in chat_rows(sessions)}
    assert (rows["slack"].status, rows["slack"].last_error) == (
        MailStatus.FAILED,
        "destination removed",
    )
    assert rows["teams"].status is MailStatus.SENT
    assert server.paths() == ["/teams"]
    assert w.counts_by_kind[ChatKind.SLACK]["failed"] == 1


@pytest.mark.asyncio
async def test_CHAT_3_MAIL_10_two_workers_share_the_outbox_without_posting_twice(
    db_url: str, server: HttpServer
) -> None:
    engines = [db.make_engine(db_url) for _ in range(2)]
    try:
        factories = [db.session_factory(e) for e in engines]
        made = add_destinations(factories[0], server, [ChatKind.WEBHOOK, ChatKind.SLACK])
        targets = [(made[k][0], k) for k in (ChatKind.WEBHOOK, ChatKind.SLACK)]
        for i in range(30):
            queue_call(factories[0], f"7.{i}", targets)
        clock = Clock(NOW)
        workers = [chat_worker(f, clock, batch=7, concurrency=2, idle_poll=0.05) for f in factories]
        stop = asyncio.Event()
        running = [asyncio.create_task(w.run(stop)) for w in workers]
        try:
            await until(lambda: sum(w.counts["sent"] for w in workers) == 60, "60 notices")
        finally:
            stop.set()
            await asyncio.gather(*running)
            await asyncio.gather(*(w.close() for w in workers))
    finally:
        for e in engines:
            e.dispose()
    assert [w.counts["failed"] + w.counts["retrying"] for w in workers] == [0, 0]
    bodies = Counter(r.body for r in server.requests)
    assert len(bodies) == 60 and set(bodies.values()) == {1}
    assert {r.status for r in chat_rows(factories[0])} == {MailStatus.SENT}


class Outage:
    """The real session factory, failing as a database that went away while ``down`` is set."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions, self.kw = sessions, sessions.kw
        self.down = threading.Event()
        self.failed = 0

    def __call__(self) -> Session:
        if not self.down.is_set():
            return self.sessions()
        self.failed += 1
        raise sa.exc.OperationalError("BEGIN", {}, Exception("server closed the connection"))


@pytest.mark.asyncio
async def test_CHAT_3_MAIL_10_the_worker_survives_a_database_outage(
    sessions: sessionmaker[Session], server: HttpServer
) -> None:
    """The first answer cannot be recorded (the database goes as it arrives): the worker keeps
    it, backs off, posts nothing more, and records everything once the database is back."""
    made = add_destinations(sessions, server, [ChatKind.SLACK])
    for i in range(3):
        queue_call(sessions, f"8.{i}", [(made[ChatKind.SLACK][0], ChatKind.SLACK)])
    store = Outage(sessions)
    server.on_request = lambda _request: store.down.set()
    w = ChatDeliveryWorker(
        store,  # type: ignore[arg-type]
        HttpSender(WebhookSettings(timeout=5.0, allow_hosts=frozenset(LOCAL)), clock=Clock(NOW)),
        concurrency=1,
        clock=Clock(NOW),
        idle_poll=0.02,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    try:
        await until(lambda: store.failed >= 3 or running.done(), "the worker backing off")
        assert not running.done(), running.exception()
        assert len(server.requests) == 1
        server.on_request = None
        store.down.clear()
        await until(lambda: w.counts["sent"] == 3, "every notice recorded")
    finally:
        stop.set()
        await running
        await w.close()
    assert {r.status for r in chat_rows(sessions)} == {MailStatus.SENT}
    assert len(server.requests) == 3  # each posted once
