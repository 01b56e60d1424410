"""Issue 16 (MAIL-2, MAIL-10): what became of every mail, per address, on both databases.

The outbox rows are written as the delivery worker writes them
(``notifier.outbox.claim_due`` and ``record_results`` with an injected clock),
then read back by ``store.delivery``.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import RetryPolicy, SendResult, claim_due, record_results
from store import db, delivery, service
from store.delivery import DeliveryStatus, FailureKind
from store.errors import NotFound
from store.models import CallOutcome, Presentation
from tests.builders import E1, TZ, C, Clock

T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo
NOW = T0 + dt.timedelta(days=2)  # when the flags are read: every mail of a test is done
POLICY = RetryPolicy(deadline=dt.timedelta(hours=1))
A, B, X, Y = "a@example.jp", "b@example.jp", "x@example.jp", "y@example.jp"

REFUSED = SendResult(False, permanent=True, reply="550 5.1.1 <b@example.jp>: no such user")
LATER = SendResult(False, reply="451 4.3.0 try again later")
OK = SendResult(True, reply="250 OK queued")


@pytest.fixture
def small(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C and E1 with the mail service; C has the addresses A and B."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_address(s, C, A)
        service.add_address(s, C, B)
    return sessions


def call(
    sessions: sessionmaker[Session],
    linkedid: str,
    recipients: Sequence[str],
    *,
    at: dt.datetime = T0,
    number: str = C,
) -> None:
    """A mailed call to ``number`` at ``at``, its mails queued then (one per recipient)."""
    with db.transaction(sessions) as s:
        assert service.record_call_decision(
            s,
            now=at,
            linkedid=linkedid,
            subscriber_number=number,
            caller_number="0311112222",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=at,
            ended_at=at,
            mailed=True,
            reason="notify",
            mails=[
                service.QueuedMail(r, "s", f"{linkedid}:{r}", f"<{linkedid}.{r}@x>")
                for r in recipients
            ],
        )


def attempt(
    sessions: sessionmaker[Session],
    results: dict[str, SendResult],
    *,
    at: dt.datetime = T0,
    limit: int = 50,
) -> None:
    """One round of the delivery worker at ``at``: claim the due mails, record ``results``
    by recipient, or by ``linkedid:recipient`` for one call's mail (the mails without a
    result stay claimed, as if in flight)."""
    with db.transaction(sessions) as s:
        claimed = claim_due(s, at, limit, POLICY.lease)
        done = [
            (m, results.get(m.message) or results[m.recipient])
            for m in claimed
            if m.message in results or m.recipient in results
        ]
        record_results(s, done, at, POLICY, random.Random(1))


def read(sessions: sessionmaker[Session], number: str = C) -> list[delivery.CallDeliveries]:
    with db.transaction(sessions, read_only=True) as s:
        return delivery.call_deliveries(s, number)


def flagged(
    sessions: sessionmaker[Session], number: str = C, *, now: dt.datetime = NOW
) -> dict[str, FailureKind]:
    with db.transaction(sessions, read_only=True) as s:
        found = delivery.recently_failed(s, number, since=now - delivery.RECENT)
        return {k: f.failure for k, f in found.items()}


# --- the failure kinds, from the stored replies -----------------------------------------------


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        # As SmtpSender stores them: "code message" for a refused DATA or command ...
        ("550 5.1.1 mailbox unavailable", FailureKind.ADDRESS_REFUSED),
        ("553 5.1.3 bad recipient address syntax", FailureKind.ADDRESS_REFUSED),
        ("551 user not local", FailureKind.ADDRESS_REFUSED),
        ("550 mailbox unavailable", FailureKind.ADDRESS_REFUSED),
        ("554 5.1.2 no such domain", FailureKind.ADDRESS_REFUSED),
        # ... and a refused recipient as aiosmtplib prints it.
        ("(550, '5.1.1 <gone@example.jp>: Recipient rejected', 'gone@example.jp')", "address"),
        ("552 5.2.2 mailbox full", FailureKind.MAILBOX_FULL),
        ("552 over quota", FailureKind.MAILBOX_FULL),
        ("452 4.2.2 mailbox full", FailureKind.MAILBOX_FULL),
        ("(452, '4.2.2 quota exceeded', 'a@example.jp')", FailureKind.MAILBOX_FULL),
        ("550 5.7.1 message rejected as spam", FailureKind.REFUSED),
        ("552 5.3.4 message too big", FailureKind.REFUSED),
        ("554 transaction failed", FailureKind.REFUSED),
        ("451 4.3.0 try again later", FailureKind.DEFERRED),
        ("421 4.7.0 too many connections", FailureKind.DEFERRED),
        ("450 4.1.1 mailbox temporarily unavailable", FailureKind.DEFERRED),
        # No server answered: our side's error text.
        ("SMTPConnectError: Error connecting to 127.0.0.1 on port 2525", FailureKind.UNREACHABLE),
        ("TimeoutError: timed out after 550 seconds", FailureKind.UNREACHABLE),
        ("maildir: [Errno 28] No space left on device", FailureKind.UNREACHABLE),
        ("", FailureKind.UNREACHABLE),
        (None, FailureKind.UNREACHABLE),
    ],
)
def test_issue16_MAIL_10_the_failure_kind_comes_from_the_stored_reply(
    reply: str | None, kind: FailureKind | str
) -> None:
    expected = FailureKind.ADDRESS_REFUSED if kind == "address" else kind
    assert delivery.failure_kind(reply) is expected


# --- each status, per address ------------------------------------------------------------------


def test_issue16_MAIL_10_each_address_of_a_call_has_its_own_status(
    small: sessionmaker[Session],
) -> None:
    call(small, "1.1", [A, B, X, Y])
    clock = Clock(T0)
    clock.advance(5)
    # A is accepted, B refused for good, X deferred; Y's mail is still in flight.
    attempt(small, {A: OK, B: REFUSED, X: LATER}, at=clock())
    (row,) = read(small)
    assert row.call.mailed and row.call.recipients == (A, B, X, Y)
    by = {d.address: d for d in row.deliveries}
    assert [d.address for d in row.deliveries] == [A, B, X, Y]
    tokyo = zoneinfo.ZoneInfo(TZ)
    sent = by[A]
    assert (sent.status, sent.attempts, sent.failure, sent.reply) == (
        DeliveryStatus.SENT,
        1,
        None,
        "",
    )
    assert sent.sent_at == clock() and sent.sent_at.tzinfo == tokyo
    assert sent.sent_at.hour == 10 and sent.next_attempt_at is None
    failed = by[B]
    assert (failed.status, failed.failure) == (DeliveryStatus.FAILED, FailureKind.ADDRESS_REFUSED)
    assert failed.reply == REFUSED.reply and failed.sent_at is None
    assert failed.next_attempt_at is None
    retrying = by[X]
    assert (retrying.status, retrying.attempts) == (DeliveryStatus.RETRYING, 1)
    assert retrying.reply.startswith("451") and retrying.failure is None
    assert retrying.next_attempt_at is not None and retrying.next_attempt_at > clock()
    assert retrying.next_attempt_at.tzinfo == tokyo
    in_flight = by[Y]
    assert (in_flight.status, in_flight.attempts, in_flight.reply) == (
        DeliveryStatus.QUEUED,
        1,
        "",
    )
    assert all(d.queued_at == T0 for d in row.deliveries)


def test_issue16_MAIL_10_a_mail_not_tried_yet_is_queued_and_an_unmailed_call_has_none(
    small: sessionmaker[Session],
) -> None:
    call(small, "2.1", [A])
    with db.transaction(small) as s:
        service.record_call_decision(
            s,
            now=T0 + dt.timedelta(minutes=1),
            linkedid="2.2",
            subscriber_number=C,
            caller_number="",
            presentation=Presentation.WITHHELD,
            outcome=CallOutcome.ANSWERED,
            dial_status="ANSWER",
            forward_dial_status="",
            started_at=T0 + dt.timedelta(minutes=1),
            ended_at=T0 + dt.timedelta(minutes=1),
            mailed=False,
            reason="answered",
            mails=[],
        )
    unmailed, queued = read(small)
    assert unmailed.call.reason == "answered" and unmailed.deliveries == ()
    (only,) = queued.deliveries
    assert (only.status, only.attempts) == (DeliveryStatus.QUEUED, 0)
    assert only.next_attempt_at == T0


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        (REFUSED, FailureKind.ADDRESS_REFUSED),
        (SendResult(False, permanent=True, reply="552 5.2.2 over quota"), FailureKind.MAILBOX_FULL),
        (SendResult(False, permanent=True, reply="554 5.7.1 spam"), FailureKind.REFUSED),
        (LATER, FailureKind.DEFERRED),
        (SendResult(False, reply="452 4.2.2 mailbox full"), FailureKind.MAILBOX_FULL),
        (
            SendResult(False, reply="ConnectionRefusedError: [Errno 111]", answered=False),
            FailureKind.UNREACHABLE,
        ),
    ],
)
def test_issue16_MAIL_10_every_failure_kind_as_the_worker_records_it(
    small: sessionmaker[Session], result: SendResult, kind: FailureKind
) -> None:
    """A 5xx fails at once; a temporary failure fails once the retry deadline has passed."""
    call(small, "3.1", [A])
    at = T0 if result.permanent else T0 + POLICY.deadline
    if not result.permanent:
        attempt(small, {A: result})  # first try: retried
        assert read(small)[0].deliveries[0].status is DeliveryStatus.RETRYING
    attempt(small, {A: result}, at=at)
    (only,) = read(small)[0].deliveries
    assert (only.status, only.failure, only.reply) == (DeliveryStatus.FAILED, kind, result.reply)
    assert flagged(small) == {A: kind}


def test_issue16_MAIL_10_the_history_reads_its_deliveries_in_one_query_per_page(
    small: sessionmaker[Session],
) -> None:
    """Two calls or twelve: the same number of statements (not one per call)."""

    @contextmanager
    def counted() -> Iterator[list[str]]:
        statements: list[str] = []

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        engine = small.kw["bind"]
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)

    for i in range(2):
        call(small, f"4.{i}", [A, B], at=T0 + dt.timedelta(minutes=i))
    with counted() as few:
        assert len(read(small)) == 2
    for i in range(2, 12):
        call(small, f"4.{i}", [A, B], at=T0 + dt.timedelta(minutes=i))
    with counted() as many:
        rows = read(small)
    assert len(rows) == 12 and all(len(r.deliveries) == 2 for r in rows)
    assert len(many) == len(few)
    assert sum("outbox_mail" in s for s in many) == 1


def test_issue16_MAIL_10_the_history_of_an_unknown_number_is_refused(
    small: sessionmaker[Session],
) -> None:
    with db.transaction(small, read_only=True) as s:
        with pytest.raises(NotFound):
            delivery.call_deliveries(s, "0399999999")
        with pytest.raises(ValueError):
            delivery.call_deliveries(s, C, limit=0)


# --- recently failed: the flag of the address page ----------------------------------------------


def test_issue16_MAIL_2_a_failed_address_stays_flagged_until_a_later_mail_is_sent(
    small: sessionmaker[Session],
) -> None:
    call(small, "5.1", [A, B])
    attempt(small, {A: OK, B: REFUSED})
    assert flagged(small) == {B: FailureKind.ADDRESS_REFUSED}
    with db.transaction(small, read_only=True) as s:
        (found,) = delivery.recently_failed(s, C).values()
    assert (found.address, found.position, found.reply) == (B, 2, REFUSED.reply)
    assert found.queued_at == T0
    # A later mail still pending (then retrying) clears nothing.
    later = T0 + dt.timedelta(hours=2)
    call(small, "5.2", [B], at=later)
    assert flagged(small) == {B: FailureKind.ADDRESS_REFUSED}
    attempt(small, {B: LATER}, at=later)
    assert flagged(small) == {B: FailureKind.ADDRESS_REFUSED}
    # Once it is sent, B is no longer flagged.
    attempt(small, {B: OK}, at=later + POLICY.lease)
    assert flagged(small) == {}
    # A failure after that flags it again; so does one for A after A's success.
    call(small, "5.3", [A, B], at=later + dt.timedelta(hours=1))
    attempt(small, {A: REFUSED, B: REFUSED}, at=later + dt.timedelta(hours=1))
    assert flagged(small) == {A: FailureKind.ADDRESS_REFUSED, B: FailureKind.ADDRESS_REFUSED}


def test_issue16_MAIL_2_the_latest_queued_mail_decides_not_the_latest_finished(
    small: sessionmaker[Session],
) -> None:
    """An older mail that kept being deferred fails after a newer one was sent: the newer
    mail reached the address, so the address is not flagged."""
    call(small, "6.1", [A])
    attempt(small, {A: LATER})
    call(small, "6.2", [A], at=T0 + dt.timedelta(minutes=10))
    attempt(small, {f"6.2:{A}": OK}, at=T0 + dt.timedelta(minutes=10))  # 6.1 in flight
    attempt(small, {f"6.1:{A}": LATER}, at=T0 + POLICY.deadline)  # the older one gives up
    kinds = [d.status for r in read(small) for d in r.deliveries]
    assert kinds == [DeliveryStatus.SENT, DeliveryStatus.FAILED]
    assert flagged(small) == {}


def test_issue16_MAIL_2_only_current_addresses_of_this_number_are_flagged(
    small: sessionmaker[Session],
) -> None:
    with db.transaction(small) as s:
        service.add_address(s, E1, "e1@example.jp")
    call(small, "7.1", ["A@Example.JP", X])  # X: no longer (or never) in C's list
    call(small, "7.2", ["e1@example.jp"], number=E1)
    attempt(small, {"A@Example.JP": REFUSED, X: REFUSED, "e1@example.jp": REFUSED})
    with db.transaction(small, read_only=True) as s:
        found = delivery.recently_failed(s, C)
    assert list(found) == [A] and found[A].address == A  # as the list has it, matched by key
    assert flagged(small, E1) == {"e1@example.jp": FailureKind.ADDRESS_REFUSED}
    with db.transaction(small) as s:
        service.remove_address(s, C, A)
    assert flagged(small) == {}
    with db.transaction(small, read_only=True) as s, pytest.raises(NotFound):
        delivery.recently_failed(s, "0399999999")


def test_issue16_MAIL_2_a_failure_older_than_30_days_is_no_longer_recent(
    small: sessionmaker[Session],
) -> None:
    """「最近」: an address no mail has gone to since (送信 unticked) is not flagged for ever."""
    call(small, "8.1", [B])
    attempt(small, {B: REFUSED})
    assert flagged(small, now=T0 + delivery.RECENT - dt.timedelta(seconds=1)) == {
        B: FailureKind.ADDRESS_REFUSED
    }
    assert flagged(small, now=T0 + delivery.RECENT) == {}


def test_issue16_MAIL_2_an_accepted_send_test_after_the_failure_clears_the_flag(
    small: sessionmaker[Session],
) -> None:
    call(small, "9.1", [B])
    attempt(small, {B: REFUSED})
    with db.transaction(small) as s:  # a test before the failed mail was queued clears nothing
        assert delivery.note_test_sent(s, C, "B@Example.JP", now=T0 - dt.timedelta(minutes=1))
    assert flagged(small) == {B: FailureKind.ADDRESS_REFUSED}
    with db.transaction(small) as s:
        assert not delivery.note_test_sent(s, C, "typed@example.jp", now=T0)  # not saved
        assert delivery.note_test_sent(s, C, " b@example.jp ", now=T0 + dt.timedelta(minutes=5))
    assert flagged(small) == {}
    with db.transaction(small, read_only=True) as s:  # the operator's view (no window) too
        assert delivery.recently_failed(s, C) == {}
    call(small, "9.2", [B], at=T0 + dt.timedelta(minutes=10))  # a later failure flags again
    attempt(small, {B: REFUSED}, at=T0 + dt.timedelta(minutes=10))
    assert flagged(small) == {B: FailureKind.ADDRESS_REFUSED}


@pytest.mark.parametrize(
    ("reply", "codes"),
    [
        ("554 5.7.1 bad \\xff bytes", "554 5.7.1"),
        ("(550, '5.1.1 <b@example.jp>: no such user', 'b@example.jp')", "550 5.1.1"),
        ("451 4.3.0 try again later", "451 4.3.0"),
        ("550 4.1.1 a class that is not the reply's", "550"),
        ("421 closing", "421"),
        ("SMTPConnectError: Error connecting to 127.0.0.1 on port 25", ""),
        ("", ""),
    ],
)
def test_issue16_MAIL_10_the_codes_a_stand_in_keeps_of_an_unstorable_reply(
    reply: str, codes: str
) -> None:
    assert delivery.reply_codes(reply) == codes
