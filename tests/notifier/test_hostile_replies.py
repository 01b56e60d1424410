"""Issue 16 (MAIL-10): what a mail server answers is stored and shown safely, and
one result that cannot be written blocks no other mail.

A reply with bytes that are not UTF-8 (aiosmtplib keeps them as lone
surrogates) made the database write raise ``UnicodeEncodeError``, which
ended ``chakushin serve``; a NUL made PostgreSQL refuse the write, and the
worker kept the result and retried it forever, sending nothing else. The
peer is ``tests.notifier.raw_smtp``, which sends exactly the bytes given.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import unicodedata
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from notifier import outbox
from notifier.outbox import (
    Claimed,
    DeliveryWorker,
    RetryPolicy,
    SendResult,
    SmtpSender,
    SmtpSettings,
)
from store import db, delivery, service
from store.errors import StoreUnavailable
from store.models import CallOutcome, MailStatus, OutboxMail, Presentation
from store.shown_text import one_line
from tests.builders import Clock
from tests.notifier.raw_smtp import RawSmtpPeer

T0 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
FROM = "chakushin@example.jp"


def queue(sessions: sessionmaker[Session], linkedid: str, recipients: list[str]) -> None:
    """One call's decision with a mail to each of ``recipients``, queued at T0."""
    mails = [
        service.QueuedMail(
            r,
            f"call {linkedid}",
            f"Subject: call {linkedid}\r\n\r\nbody\r\n",
            f"<{linkedid}.{r}@x>",
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


# --- the text kept and shown (pure) -------------------------------------------------------


def test_issue16_MAIL_10_one_line_escapes_what_a_terminal_or_database_would_take() -> None:
    # Bytes that were not UTF-8, as aiosmtplib decodes them (surrogateescape).
    undecodable = b"554 5.7.1 bad \xff\xfe bytes".decode("utf-8", "surrogateescape")
    assert one_line(undecodable) == "554 5.7.1 bad \\xff\\xfe bytes"
    assert one_line("554 5.7.1 nul \x00 here") == "554 5.7.1 nul \\x00 here"
    assert one_line("554 first\n\x1b]0;pwned\x07\x1b[2J\nlast") == (
        "554 first | \\x1b]0;pwned\\x07\\x1b[2J | last"
    )
    assert one_line("550 a\r\nb\u2028c\x85d\te") == "550 a | b | c | d e"
    assert one_line("550 \u202eevil\u2066 \u200b") == "550 \\u202eevil\\u2066 \\u200b"
    assert one_line("550 \ud800 \x7f \x9b") == "550 \\ud800 \\x7f \\x9b"
    # Kept as they are: a server's Japanese text, and text already made safe.
    assert one_line("550 5.1.1 宛先がありません") == "550 5.1.1 宛先がありません"
    assert one_line(one_line(undecodable)) == one_line(undecodable)
    assert len(one_line("5" * 5000)) == 2000
    assert len(one_line("\x00" * 5000, 100)) == 100


def test_issue16_MAIL_10_every_result_reply_is_made_safe_where_it_is_built() -> None:
    hostile = "451 4.3.0 \udcff\udcfe\n\x1b[2J"
    assert SendResult(False, reply=hostile).reply == "451 4.3.0 \\xff\\xfe | \\x1b[2J"


def safe(text: str | None) -> bool:
    """Storable anywhere, one line, nothing a terminal would act on."""
    assert text is not None
    text.encode("utf-8")
    return "\n" not in text and not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


# --- the worker against a peer that says anything ----------------------------------------


def rows(sessions: sessionmaker[Session]) -> list[tuple[str, MailStatus, int, str | None]]:
    with db.transaction(sessions, read_only=True) as s:
        found = s.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        return [(r.recipient, r.status, r.attempts, r.last_error) for r in found]


def smtp_worker(sessions: sessionmaker[Session], port: int, clock: Clock) -> DeliveryWorker:
    # One connection: the hostile reply comes first, the next mail after it.
    sender = SmtpSender(SmtpSettings("127.0.0.1", port, timeout=5))
    return DeliveryWorker(
        sessions, [sender], FROM, clock=clock, rng=random.Random(7), idle_poll=0.01
    )


HOSTILE = {
    "data-554-not-utf8": (b"DATA", b"554 5.7.1 bad \xff\xfe bytes\r\n", MailStatus.FAILED),
    "data-451-not-utf8": (b"DATA", b"451 4.3.0 \xff\xfe\r\n", MailStatus.PENDING),
    "mail-from-553-not-utf8": (b"MAIL", b"553 5.1.8 \xff sender\r\n", MailStatus.FAILED),
    "rcpt-550-not-utf8": (b"RCPT", b"550 5.1.1 \xfe\xff nobody\r\n", MailStatus.FAILED),
    "data-554-nul": (b"DATA", b"554 5.7.1 nul \x00 here\r\n", MailStatus.FAILED),
    "data-554-escapes": (
        b"DATA",
        b"554-5.7.1 first\r\n554-\x1b]0;pwned\x07\x1b[2J\xe2\x80\xae\r\n554 5.7.1 last\r\n",
        MailStatus.FAILED,
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(HOSTILE))
async def test_issue16_MAIL_10_a_hostile_reply_is_recorded_clean_and_the_next_mail_goes(
    sessions: sessionmaker[Session], case: str
) -> None:
    command, reply, status = HOSTILE[case]
    queue(sessions, "16.1", ["victim@example.jp"])
    queue(sessions, "16.2", ["next@example.jp"])
    peer = await RawSmtpPeer({command: [reply]}).start()
    w = smtp_worker(sessions, peer.port, Clock(T0))
    try:
        assert await w.run_once() == 2
    finally:
        await w.close()
        await peer.stop()
    (victim, victim_status, attempts, error), (_, next_status, _, _) = rows(sessions)
    assert (victim, victim_status, attempts) == ("victim@example.jp", status, 1)
    assert safe(error)
    assert next_status is MailStatus.SENT and len(peer.accepted) == 1
    code = int(reply[:3])
    assert delivery.reply_code(error) == code
    if status is MailStatus.FAILED:
        assert delivery.failure_kind(error) is delivery.FailureKind(
            "address_refused" if command != b"DATA" else "refused"
        )
    assert w.counts == {
        "sent": 1,
        "failed": int(status is MailStatus.FAILED),
        "retrying": int(status is MailStatus.PENDING),
    }


@pytest.mark.asyncio
async def test_issue16_MAIL_10_the_running_worker_outlives_hostile_replies(
    sessions: sessionmaker[Session],
) -> None:
    """``run()``, as ``chakushin serve`` runs it: it goes on, and mails the next call."""
    queue(sessions, "16.1", ["a@example.jp"])
    queue(sessions, "16.2", ["b@example.jp"])
    peer = await RawSmtpPeer(
        {b"DATA": [b"554 5.7.1 bad \xff\xfe\r\n", b"554 5.7.1 nul \x00 here\r\n"]}
    ).start()
    w = smtp_worker(sessions, peer.port, Clock(T0))
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    try:
        await asyncio.wait_for(wait_for_status(sessions, 2, MailStatus.FAILED, running), 20)
        queue(sessions, "16.3", ["c@example.jp"])  # a later, ordinary call
        w.wake()
        await asyncio.wait_for(peer.arrived.wait(), 20)
        await asyncio.wait_for(wait_for_status(sessions, 1, MailStatus.SENT, running), 20)
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
        await w.close()
        await peer.stop()
    assert [s for _, s, _, _ in rows(sessions)] == [
        MailStatus.FAILED,
        MailStatus.FAILED,
        MailStatus.SENT,
    ]
    assert not w._unrecorded and w.in_hand == 0


async def wait_for_status(
    sessions: sessionmaker[Session], count: int, status: MailStatus, running: asyncio.Task[None]
) -> None:
    """Until ``count`` rows have ``status`` (the database is the condition), or run() ended."""
    while sum(s is status for _, s, _, _ in rows(sessions)) < count:
        assert not running.done(), running.exception()
        await asyncio.sleep(0.01)  # polling a condition, not a fixed wait


# --- a result the database refuses ------------------------------------------------------

POISON = "554 5.7.1 poison"


def refusing_poison(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``record_results`` as it is, except that the row of a POISON reply breaks a
    NOT NULL constraint: a refusal about that row's data, on both databases."""
    real = outbox.record_results
    sizes: list[int] = []

    def record(
        session: Session,
        results: Sequence[tuple[Claimed, SendResult]],
        now: dt.datetime,
        policy: RetryPolicy,
        rng: random.Random,
    ) -> list[MailStatus]:
        sizes.append(len(results))
        statuses = real(session, results, now, policy, rng)
        for mail, result in results:
            if result.reply == POISON:
                row = session.get(OutboxMail, mail.id)
                assert row is not None
                row.recipient = None  # type: ignore[assignment]
                session.flush()
        return statuses

    monkeypatch.setattr(outbox, "record_results", record)
    return sizes


class Together:
    """Senders that answer each recipient as told, all at the same moment.

    Each waits until every one has a mail in hand: the first result is then
    written alone and the others, arriving while it is, together (the group
    commit of ``_record_soon``), so that the POISON one fails a batch.
    """

    def __init__(self, replies: dict[str, SendResult], connections: int) -> None:
        self.replies = replies
        self.connections = connections
        self.waiting = 0
        self.all_in_hand = asyncio.Event()

    async def send(self, sender: str, recipient: str, message: str) -> SendResult:
        self.waiting += 1
        if self.waiting == self.connections:
            self.all_in_hand.set()
        await self.all_in_hand.wait()
        return self.replies[recipient]

    async def close(self) -> None:
        pass


@pytest.mark.asyncio
async def test_issue16_MAIL_10_a_result_the_database_refuses_blocks_no_other(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = refusing_poison(monkeypatch)
    queue(sessions, "16.1", ["a@example.jp", "poison@example.jp", "b@example.jp"])
    answers = {
        "a@example.jp": SendResult(True, reply="250 ok"),
        "poison@example.jp": SendResult(False, permanent=True, reply=POISON),
        "b@example.jp": SendResult(False, reply="451 4.3.0 later"),
    }
    senders = Together(answers, 3)
    w = DeliveryWorker(sessions, [senders] * 3, FROM, clock=Clock(T0), rng=random.Random(7))
    assert await w.run_once() == 3
    assert 2 in sizes  # a batch with the poison in it was tried, and failed
    got = {r: (s, a, e) for r, s, a, e in rows(sessions)}
    assert got["a@example.jp"] == (MailStatus.SENT, 1, None)
    assert got["b@example.jp"] == (MailStatus.PENDING, 1, "451 4.3.0 later")
    status, attempts, error = got["poison@example.jp"]
    assert (status, attempts) == (MailStatus.FAILED, 1)
    # Recorded with its reply code, and the reason the reply itself is not there.
    assert error is not None and error.startswith("554 5.7.1 ") and "IntegrityError" in error
    assert delivery.failure_kind(error) is delivery.FailureKind.REFUSED
    assert not w._unrecorded and w.in_hand == 0
    assert w.counts == {"sent": 1, "failed": 1, "retrying": 1}
    assert await w.run_once() == 0  # nothing left claimed: the worker goes on


@pytest.mark.asyncio
async def test_issue16_MAIL_10_a_database_down_while_writing_one_by_one_keeps_the_rest(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch with the poison is being written result by result when the database
    goes away: what is not written is kept (the issue 12 back-off), then written."""
    refusing_poison(monkeypatch)
    refusing = outbox.record_results
    down = [True]

    def record(
        session: Session,
        results: Sequence[tuple[Claimed, SendResult]],
        now: dt.datetime,
        policy: RetryPolicy,
        rng: random.Random,
    ) -> list[MailStatus]:
        if down[0] and any(r.reply.startswith("554 5.7.1 (the reply") for _, r in results):
            down[0] = False  # the stand-in of the poison meets the outage, once
            raise StoreUnavailable("database is locked")
        return refusing(session, results, now, policy, rng)

    monkeypatch.setattr(outbox, "record_results", record)
    queue(sessions, "16.1", ["a@example.jp", "poison@example.jp", "b@example.jp"])
    answers = {
        "a@example.jp": SendResult(True, reply="250 ok"),
        "poison@example.jp": SendResult(False, permanent=True, reply=POISON),
        "b@example.jp": SendResult(True, reply="250 ok"),
    }
    senders = Together(answers, 3)
    w = DeliveryWorker(
        sessions, [senders] * 3, FROM, clock=Clock(T0), rng=random.Random(7), idle_poll=0.01
    )
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(w.run(stop))
        try:
            await asyncio.wait_for(wait_for_status(sessions, 2, MailStatus.SENT, running), 20)
            await asyncio.wait_for(wait_for_status(sessions, 1, MailStatus.FAILED, running), 20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 20)
    assert not down[0]  # the outage happened
    events = [e["event"] for e in logs]
    assert events.count("outbox_unavailable") == 1 and "outbox_recovered" in events
    got = {r: (s, a, e) for r, s, a, e in rows(sessions)}
    assert got["a@example.jp"] == got["b@example.jp"] == (MailStatus.SENT, 1, None)
    status, attempts, error = got["poison@example.jp"]
    assert (status, attempts) == (MailStatus.FAILED, 1) and error is not None
    assert error.startswith("554 5.7.1 (the reply could not be stored: IntegrityError")
    assert senders.waiting == 3  # each mail sent once: the kept results were not sent again
    assert not w._unrecorded and w.in_hand == 0
    assert w.counts == {"sent": 2, "failed": 1, "retrying": 0}
