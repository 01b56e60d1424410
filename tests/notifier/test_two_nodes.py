"""Issue 18 (MAIL-10): two notifier nodes, one per Asterisk box, sharing one PostgreSQL database.

Each node is a whole ``chakushin notifier`` as ``chakushin.bootstrap`` builds it (AMI client ->
call tracking -> decisions -> outbox -> delivery worker), with its own loopback AMI server (its
Asterisk box) and its own database engine (its own connections, as a second process on a second
host has); both mail to one aiosmtpd server that records every mail it accepts.

PostgreSQL only: two hosts share a PostgreSQL database (a SQLite file belongs to one host), and
the claims of the shared outbox are ``FOR UPDATE SKIP LOCKED`` there. The tests take the
PostgreSQL parameter of ``db_url``, so an unreachable server fails them in CI
(``CHAKUSHIN_REQUIRE_POSTGRES=1``, tests/conftest.py) instead of skipping them.

The same Linkedid at both boxes: Asterisk makes a Linkedid from the box's clock and a counter, so
two boxes without a ``systemname`` in asterisk.conf can give two calls the same one, and two
notifiers pointed at one box see every call twice. A Linkedid is one call in the database: it is
decided once, by whichever node writes first, and mailed once; the other node skips it. Two boxes
therefore need distinct ``systemname`` values (their Linkedids then start with it: ``pbx1-...``),
as the boxes here have.

No test sleeps to synchronise: the SMTP server holds its DATA replies at a gate that opens on a
condition (both nodes have a mail in flight) or when the test opens it; the test waits on
conditions (the gate's waiters, rows in the database, lock waits) with a deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from chakushin import bootstrap
from chakushin import config as config_mod
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer, encode_frame
from notifier.app import NotifierService
from notifier.outbox import SmtpSender, SmtpSettings
from store import db, service
from store.models import (
    CallOutcome,
    MailStatus,
    OutboxMail,
    Presentation,
    StoredCall,
    StoredDecision,
)
from tests.builders import Clock, until
from tests.notifier.smtp_server import Inbox, SmtpServer
from tests.notifier.steps import call_frames

PG_ONLY = [pytest.param("postgresql", marks=pytest.mark.postgresql)]
FROM = "chakushin@example.jp"
CALLER = "0398765432"
# Four subscriber numbers with mail on; the first has two addresses.
ADDRESSES = {
    "0312345601": ["boss@example.jp", "desk@example.jp"],
    "0312345602": ["two@example.jp"],
    "0312345603": ["three@example.jp"],
    "0312345604": ["four@example.jp"],
}
NUMBERS = list(ADDRESSES)
WITHIN = 60.0  # seconds any one condition may take on a loaded 2-core machine


# --- the SMTP server's gate ------------------------------------------------------------------


@dataclass
class GatedInbox(Inbox):
    """An inbox whose DATA replies wait at ``gate`` until it opens (then it accepts as usual).

    ``open_at``: the gate opens by itself once that many connections wait in DATA at the same
    time (each node has one connection: 2 means both nodes have a mail in flight); 0: only the
    test opens it. ``waiting`` holds the connections waiting now.
    """

    gate: threading.Event = field(default_factory=threading.Event)
    open_at: int = 0
    waiting: set[tuple[str, int]] = field(default_factory=set)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        peer = (str(session.peer[0]), int(session.peer[1]))
        with self.lock:
            self.waiting.add(peer)
            if self.open_at and len(self.waiting) >= self.open_at:
                self.gate.set()
        try:
            opened = await asyncio.to_thread(self.gate.wait, WITHIN)
        finally:
            with self.lock:
                self.waiting.discard(peer)
        if not opened:
            return "421 4.3.0 the test's gate never opened"
        return await super().handle_DATA(server, session, envelope)

    def held(self) -> int:
        with self.lock:
            return len(self.waiting)


@contextmanager
def gated_smtp(open_at: int = 0) -> Iterator[tuple[SmtpServer, GatedInbox]]:
    inbox = GatedInbox(open_at=open_at)
    server = SmtpServer(inbox=inbox).start()
    try:
        yield server, inbox
    finally:
        inbox.gate.set()  # nothing is left waiting in the server's thread
        server.stop()


# --- a node -------------------------------------------------------------------------------------


@dataclass
class Node:
    """One node: its Asterisk box (the AMI server) and its running notifier service."""

    name: str
    ami: AmiServer
    service: NotifierService
    stop: asyncio.Event

    async def play(self, calls: Sequence[list[dict[str, str]]]) -> None:
        await self.ami.send(b"".join(encode_frame(frame) for call in calls for frame in call))

    @property
    def sent(self) -> int:
        return self.service.worker.counts["sent"]


@asynccontextmanager
async def node(
    name: str,
    db_url: str,
    smtp: SmtpServer,
    *,
    batch: int = 50,
    clock: Callable[[], dt.datetime] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Node]:
    """``chakushin notifier`` of one node until the block ends (then stopped as on SIGTERM)."""
    engine = db.make_engine(db_url)  # its own pool: another process, another host
    try:
        async with AmiServer() as box:
            config = config_mod.load(
                env={
                    "CHAKUSHIN_DATABASE_URL": db_url,
                    "CHAKUSHIN_SERVE_NODE_NAME": name,
                    "CHAKUSHIN_AMI_PORT": str(box.port),
                    "CHAKUSHIN_AMI_USERNAME": USERNAME,
                    "CHAKUSHIN_AMI_SECRET": SECRET,
                    "CHAKUSHIN_MAIL_FROM_ADDRESS": FROM,
                }
                | (env or {})
            )
            svc = bootstrap.notifier_service(
                config,
                db.session_factory(engine),
                senders=[SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=WITHIN))],
            )
            if clock is not None:
                svc = dataclasses.replace(svc, clock=clock)
            svc.worker.batch = batch
            stop = asyncio.Event()
            task = asyncio.create_task(svc.run(stop))
            try:
                await box.wait_until(lambda: box.logins == 1, within=WITHIN)
                yield Node(name, box, svc, stop)
            finally:
                stop.set()
                await asyncio.wait_for(task, WITHIN)
    finally:
        engine.dispose()


# --- the shared database ------------------------------------------------------------------


@pytest.fixture
def shared(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The four numbers, their addresses, mail on."""
    with db.transaction(sessions) as s:
        for number, addresses in ADDRESSES.items():
            service.add_line(s, number, timezone="Asia/Tokyo")
            for address in addresses:
                service.add_address(s, number, address)
            service.start_mail(s, number)
    return sessions


def queue_backlog(sessions: sessionmaker[Session], count: int, now: dt.datetime) -> None:
    """``count`` decided calls, one mail each, pending in the outbox (a node was down)."""
    with db.transaction(sessions) as s:
        for i in range(count):
            linkedid = f"pbx0-1763700000.{i}"
            recipient = f"backlog{i}@example.jp"
            message_id = f"<backlog.{i}@example.jp>"
            text = (
                f"From: {FROM}\r\nTo: {recipient}\r\nSubject: backlog {i}\r\n"
                f"Message-ID: {message_id}\r\nX-Chakushin-Call: {linkedid}\r\n\r\nbody\r\n"
            )
            assert service.record_call_decision(
                s,
                now=now,
                linkedid=linkedid,
                subscriber_number=NUMBERS[i % len(NUMBERS)],
                caller_number=CALLER,
                presentation=Presentation.ALLOWED,
                outcome=CallOutcome.UNANSWERED,
                dial_status="NOANSWER",
                forward_dial_status="",
                started_at=now,
                ended_at=now,
                mailed=True,
                reason="notify",
                mails=[service.QueuedMail(recipient, f"backlog {i}", text, message_id)],
            )


@dataclass(frozen=True)
class Row:
    id: int
    status: MailStatus
    attempts: int
    message_id: str


def outbox(sessions: sessionmaker[Session]) -> list[Row]:
    with db.transaction(sessions, read_only=True) as s:
        return [
            Row(r.id, r.status, r.attempts, str(r.headers["message_id"]))
            for r in s.scalars(sa.select(OutboxMail).order_by(OutboxMail.id))
        ]


def all_sent(sessions: sessionmaker[Session], count: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = outbox(sessions)
        return len(rows) == count and all(r.status is MailStatus.SENT for r in rows)

    return check


def decisions_per_call(sessions: sessionmaker[Session]) -> Counter[str]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(sa.select(StoredCall.linkedid).join(StoredDecision)).scalars()
        return Counter(rows)


def arrived(inbox: Inbox) -> Counter[str]:
    return inbox.message_ids()


def box_calls(box: str, count: int) -> list[list[dict[str, str]]]:
    """``count`` unanswered calls of one box (its own Linkedids), over all four numbers."""
    return [
        call_frames(f"{box}-1763800000.{i}", Subscriber=NUMBERS[i % len(NUMBERS)], Caller=CALLER)
        for i in range(count)
    ]


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", PG_ONLY, indirect=True)
@pytest.mark.asyncio
async def test_issue18_MAIL_10_two_nodes_deliver_the_shared_outbox_each_mail_once(
    shared: sessionmaker[Session], db_url: str
) -> None:
    """Two boxes, 25 calls each to the same four numbers, 3 calls seen by both, and a backlog of
    30 mails queued before either node starts: every mail arrives exactly once, every row is
    sent at its first attempt, every call has one decision, and both nodes delivered.

    Claims of 5 rows make the nodes contend for the backlog; the SMTP server holds every DATA
    until both nodes have one in flight at once, so neither can send everything alone.
    """
    queue_backlog(shared, 30, dt.datetime.now(dt.UTC))
    both = [call_frames(f"1763800900.{k}", Subscriber=NUMBERS[k], Caller=CALLER) for k in range(3)]
    pbx1, pbx2 = box_calls("pbx1", 25) + both, box_calls("pbx2", 25) + both
    calls = {c[0]["Linkedid"]: c[0]["Exten"] for c in pbx1 + pbx2}  # 53: the 3 once
    mails = 30 + sum(len(ADDRESSES[number]) for number in calls.values())
    linkedids = set(calls) | {f"pbx0-1763700000.{i}" for i in range(30)}
    with gated_smtp(open_at=2) as (smtp, inbox):
        async with (
            node("pbx1/notifier", db_url, smtp, batch=5) as one,
            node("pbx2/notifier", db_url, smtp, batch=5) as two,
        ):
            await asyncio.gather(one.play(pbx1), two.play(pbx2))
            await until(
                all_sent(shared, mails),
                "every mail sent",
                within=WITHIN,
                explain=lambda: f"{Counter(r.status for r in outbox(shared))}",
            )
        # Both nodes have stopped: nothing is in flight, the inbox is final.
        assert inbox.gate.is_set()
        rows = outbox(shared)
        assert len(rows) == mails
        assert arrived(inbox) == Counter(r.message_id for r in rows)  # each once, none lost
        assert {(r.status, r.attempts) for r in rows} == {(MailStatus.SENT, 1)}
        assert decisions_per_call(shared) == Counter(linkedids)  # one decision per call
        assert one.sent > 0 and two.sent > 0, (one.sent, two.sent)
        assert one.sent + two.sent == mails
        for n in (one, two):
            assert n.service.worker.counts["failed"] == n.service.worker.counts["retrying"] == 0
            assert n.service.calls_seen == 28
        # Each call is counted (chakushin_decisions_total, mails queued) by the node that
        # decided it, not by both: 53 calls, not 56.
        decided = [n.service.notifier for n in (one, two)]
        assert sum(sum(d.counts.values()) for d in decided) == len(calls)
        assert sum(d.mails_queued for d in decided) == mails - 30


@pytest.mark.parametrize("db_url", PG_ONLY, indirect=True)
@pytest.mark.asyncio
async def test_issue18_MAIL_10_a_node_stopping_mid_delivery_hands_its_mails_to_the_other(
    shared: sessionmaker[Session], db_url: str
) -> None:
    """Node 1 claims the whole backlog of 20 and is stopped while its first mail is in DATA; it
    finishes that one and hands the other 19 back (lease released, due now); node 2, which found
    nothing to claim, sends them: 20 mails, each once, each row sent at attempt 1.
    """
    queue_backlog(shared, 20, dt.datetime.now(dt.UTC))
    with gated_smtp() as (smtp, inbox):
        async with AsyncExitStack() as nodes:
            one = await nodes.enter_async_context(node("pbx1/notifier", db_url, smtp))
            await until(lambda: inbox.held() == 1, "node 1's first mail in DATA", within=WITHIN)
            assert {(r.status, r.attempts) for r in outbox(shared)} == {(MailStatus.PENDING, 1)}
            two = await nodes.enter_async_context(node("pbx2/notifier", db_url, smtp))
            one.stop.set()
            inbox.gate.set()  # node 1's mail in flight is accepted; it takes no other
            await until(all_sent(shared, 20), "every mail sent", within=WITHIN)
        rows = outbox(shared)
        assert arrived(inbox) == Counter(r.message_id for r in rows)
        assert {(r.status, r.attempts) for r in rows} == {(MailStatus.SENT, 1)}
        assert (one.sent, two.sent) == (1, 19)


def lock_waits(sessions: sessionmaker[Session]) -> int:
    """Backends of this database waiting for a row lock now (PostgreSQL)."""
    with db.transaction(sessions, read_only=True) as s:
        return int(
            s.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


@pytest.mark.parametrize("db_url", PG_ONLY, indirect=True)
@pytest.mark.asyncio
async def test_issue18_MAIL_10_a_node_whose_leases_ran_out_sends_none_of_them(
    shared: sessionmaker[Session], db_url: str
) -> None:
    """A node whose claim outlived its lease must not send what another node took since.

    Node 1 claims all 20 mails (lease 60 s) and sends the first; writing its result waits (a
    lock the test holds on that row: a slow database, a long pause). Meanwhile 61 s pass: the
    other 19 leases run out and node 2 claims them and starts sending. When node 1 goes on, its
    19 claims are stale: it used to send every one of them again (19 mails twice); it must leave
    them, and its hand-back must not undo node 2's claims.
    """
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    queue_backlog(shared, 20, clock())
    lease = {"CHAKUSHIN_MAIL_LEASE_SECONDS": "60"}
    with capture_logs() as logs, gated_smtp() as (smtp, inbox):
        async with AsyncExitStack() as nodes:
            one = await nodes.enter_async_context(
                node("pbx1/notifier", db_url, smtp, clock=clock, env=lease)
            )
            await until(lambda: inbox.held() == 1, "node 1's first mail in DATA", within=WITHIN)
            first = outbox(shared)[0].id
            with shared() as locker, locker.begin():
                locker.execute(
                    sa.select(OutboxMail.id).where(OutboxMail.id == first).with_for_update()
                )
                inbox.gate.set()
                await until(lambda: len(inbox.messages) == 1, "the first mail", within=WITHIN)
                await until(
                    lambda: lock_waits(shared) == 1, "node 1 writing its result", within=WITHIN
                )
                inbox.gate.clear()
                clock.advance(61)
                two = await nodes.enter_async_context(
                    node("pbx2/notifier", db_url, smtp, clock=clock, env=lease)
                )
                await until(
                    lambda: [r.attempts for r in outbox(shared)] == [1] + [2] * 19,
                    "node 2's claim of the 19",
                    within=WITHIN,
                )
                await until(lambda: inbox.held() == 1, "node 2's mail in DATA", within=WITHIN)
            # Node 1 writes its result now, then either sends a stale claim (it reaches the
            # gate) or leaves them all (nothing is left in its hands).
            await until(
                lambda: inbox.held() == 2 or one.service.worker.in_hand == 0,
                "node 1 after its result",
                within=WITHIN,
            )
            inbox.gate.set()
            await until(all_sent(shared, 20), "every mail sent", within=WITHIN)
        rows = outbox(shared)
        assert arrived(inbox) == Counter(r.message_id for r in rows)
        assert [(r.status, r.attempts) for r in rows] == [(MailStatus.SENT, 1)] + [
            (MailStatus.SENT, 2)
        ] * 19
        assert (one.sent, two.sent) == (1, 19)
    handed_back = [e for e in logs if e["event"] == "outbox_lease_handed_back"]
    assert [e["mails"] for e in handed_back] == [19]  # what the operator sees
