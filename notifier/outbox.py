"""Durable mail delivery (MAIL-10): the outbox table, the senders, the worker.

Decisions and their mails are committed together before anything is sent
(``store.service.record_call_decision``). The worker claims due rows (on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several notifier processes
share one outbox; on SQLite claims are serialised by ``BEGIN IMMEDIATE``),
pushes their next attempt out by a lease so that no other worker takes them
while they are in flight, sends them, and records the result:

- accepted by the server: ``sent``;
- temporary failure (4xx, connection refused or lost, timeout): retried
  with exponential backoff and jitter until ``retry_deadline`` has passed
  since the mail was queued, then ``failed``;
- permanent failure (5xx): ``failed`` at once, with the server's reply.

Guarantee: every mail is delivered at least once while the deadline lasts,
and exactly once unless a worker dies after the server accepted a mail and
before the row was marked (a window of one SMTP reply). Then the lease runs
out and the mail is sent again with the same Message-ID, which receiving
systems and mail clients treat as the same message.

Issue 18 (several nodes on one outbox): a worker starts sending a claimed
mail only in the first half of its lease; a batch that takes longer (a slow
server, a slow database) hands the rest back rather than send mails whose
lease may have run out and which another node may have claimed since. A
hand-back touches only rows still under this worker's claim (the attempt
number it claimed), never another node's newer claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import mailbox
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import aiosmtplib
import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import aio, db
from store.delivery import reply_codes
from store.errors import StoreUnavailable
from store.mail_message import envelope_sender
from store.models import MailKind, MailStatus, OutboxMail
from store.shown_text import one_line

log = structlog.get_logger("notifier.outbox")


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False
    reply: str = ""
    # False: no server answered (connection refused, timeout, TLS failure); ``reply``
    # is then our side's error text, with internal hosts: for logs, not for a page.
    answered: bool = True
    # Issue 19 (CHAT-3): seconds the receiver asked us to wait (HTTP Retry-After);
    # the next attempt is no sooner (capped at MAX_RETRY_AFTER).
    retry_after: float | None = None

    def __post_init__(self) -> None:
        # Issue 16: a server's reply is any bytes it chose (aiosmtplib keeps those that
        # are not UTF-8 as lone surrogates, which no database encodes; PostgreSQL
        # refuses a NUL) and is printed for the operator: made safe here, for every
        # sender, before it is stored or logged.
        object.__setattr__(self, "reply", one_line(self.reply))


class Sender(Protocol):
    async def send(self, sender: str, recipient: str, message: str) -> SendResult: ...

    async def close(self) -> None: ...


# --- SMTP ------------------------------------------------------------------------------


@dataclass
class SmtpSettings:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    security: str = "none"  # none | starttls | tls
    timeout: float = 30.0


# How long a closing connection waits for the server's answer to QUIT.
QUIT_TIMEOUT = 2.0


class SmtpSender:
    """One reused aiosmtplib connection; reconnects when it was lost."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            username=s.username or None,
            password=s.password or None,
        )
        await smtp.connect()
        self._smtp = smtp
        return smtp

    async def send(self, sender: str, recipient: str, message: str) -> SendResult:
        try:
            smtp = await self._connection()
            errors, reply = await smtp.sendmail(sender, [recipient], message.encode("utf-8"))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else 550
            return SendResult(False, permanent=code >= 500, reply=str(refused or exc))
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            return SendResult(False, permanent=exc.code >= 500, reply=f"{exc.code} {exc.message}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            return SendResult(
                False, permanent=False, reply=f"{type(exc).__name__}: {exc}", answered=False
            )
        if errors:
            response = next(iter(errors.values()))
            return SendResult(False, permanent=response.code >= 500, reply=str(response))
        return SendResult(True, reply=reply)

    async def _drop(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            with contextlib.suppress(OSError):  # the connection is already gone
                smtp.close()

    async def close(self) -> None:
        """QUIT, waiting ``QUIT_TIMEOUT`` s at most (a stop is not held by a hung server)."""
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit(timeout=min(QUIT_TIMEOUT, self.settings.timeout))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                await self._drop()
        self._smtp = None


# --- local sinks (no SMTP server configured) ----------------------------------------------


class MaildirSender:
    """Delivers into a Maildir (readable with mutt -f, or any mail client)."""

    def __init__(self, path: str) -> None:
        # mailbox.Maildir(create=True) makes tmp/new/cur only when the
        # directory itself is new: an existing empty directory stayed unusable.
        for sub in ("tmp", "new", "cur"):
            (Path(path) / sub).mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(path, create=False)

    async def send(self, sender: str, recipient: str, message: str) -> SendResult:
        try:
            key = await asyncio.to_thread(self.box.add, message)
        except OSError as exc:  # disk full, directory removed: retried like a 4xx
            return SendResult(False, reply=f"maildir: {exc}", answered=False)
        return SendResult(True, reply=f"250 maildir {key}")

    async def close(self) -> None:
        pass


class ConsoleSender:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def send(self, sender: str, recipient: str, message: str) -> SendResult:
        self.stream.write(f"--- mail to {recipient}\n{message}\n")
        self.stream.flush()
        return SendResult(True, reply="250 console")

    async def close(self) -> None:
        pass


# Mails that carry a secret; their text is dropped once delivered or given up.
SECRET_KINDS = frozenset({MailKind.ONE_TIME_PASSWORD, MailKind.ADDRESS_VERIFICATION})
SECRET_REMOVED = "(removed after delivery: the mail carried a one-time secret)"


# --- the outbox table --------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    recipient: str
    message: str
    attempts: int
    created_at: dt.datetime
    # The end of this claim's lease: after it another worker may claim the mail.
    leased_until: dt.datetime


@dataclass(frozen=True)
class RetryPolicy:
    deadline: dt.timedelta = dt.timedelta(days=1)
    base_delay: float = 5.0
    max_delay: float = 900.0
    lease: dt.timedelta = dt.timedelta(minutes=5)

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter (attempts >= 1)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        return rng.uniform(cap / 2, cap)


# A receiver's Retry-After is honoured up to this many seconds (issue 19, CHAT-3).
MAX_RETRY_AFTER = 3600.0


def claim_rows(
    session: Session, now: dt.datetime, limit: int, lease: dt.timedelta, *, chat: bool = False
) -> list[OutboxMail]:
    """Claim due rows: mails (``chat`` False) or chat notices (issue 19: ``CALL_CHAT``).

    Each worker takes its own kind only: a mail worker never posts a chat
    notice as a mail, a chat worker never mails.
    """
    kind = OutboxMail.kind == MailKind.CALL_CHAT if chat else OutboxMail.kind != MailKind.CALL_CHAT
    rows = session.scalars(
        select(OutboxMail)
        .where(OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now, kind)
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease  # in flight: nobody else takes it until then
    session.flush()
    return list(rows)


def claim_due(session: Session, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Claimed]:
    """Claim due mails (every kind but ``CALL_CHAT``)."""
    return [
        Claimed(row.id, row.recipient, row.body, row.attempts, row.created_at, now + lease)
        for row in claim_rows(session, now, limit, lease)
    ]


def record_results(
    session: Session,
    results: Sequence[tuple[Claimed, SendResult]],
    now: dt.datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> list[MailStatus]:
    """Write the outcome of each attempt; one query for the rows, whatever their number."""
    rows = {
        row.id: row
        for row in session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id.in_([mail.id for mail, _ in results]))
            .with_for_update()
        )
    }
    statuses = []
    for mail, result in results:
        row = rows.get(mail.id)
        if row is None or row.status is not MailStatus.PENDING:
            statuses.append(row.status if row is not None else MailStatus.FAILED)
            continue
        row.last_error = None if result.ok else result.reply
        if result.ok:
            row.status = MailStatus.SENT
            row.sent_at = now
        elif result.permanent or now - row.created_at >= policy.deadline:
            row.status = MailStatus.FAILED
        if row.status is not MailStatus.PENDING and row.kind in SECRET_KINDS:
            # A one-time password or a verification link must not outlive its
            # delivery in the database (SITE-5 stores only their hashes).
            row.body = SECRET_REMOVED
        else:
            delay = policy.delay(row.attempts, rng)
            if result.retry_after is not None:  # CHAT-3: no sooner than the receiver asked
                delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER))
            row.next_attempt_at = now + dt.timedelta(seconds=delay)
        statuses.append(row.status)
    session.flush()
    return statuses


def release_claims(session: Session, claims: Sequence[Claimed], now: dt.datetime) -> int:
    """Make claimed, still pending mails due now, as if the claim had not happened.

    Issue 18: only the rows still under these claims (their attempt number
    unchanged): a mail another worker claimed since its lease ran out is
    that worker's, and handing it back would let a third claim send it again.
    """
    attempts = {claim.id: claim.attempts for claim in claims}
    rows = session.scalars(
        select(OutboxMail)
        .where(OutboxMail.id.in_(attempts), OutboxMail.status == MailStatus.PENDING)
        .with_for_update()
    ).all()
    mine = [row for row in rows if row.attempts == attempts[row.id]]
    for row in mine:
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = now
    session.flush()
    return len(mine)


# --- the worker -----------------------------------------------------------------------------

MAX_BACKOFF = 30.0  # seconds between tries while the database fails

Result = tuple[Claimed, SendResult]
# What writing a result may raise: the database's errors, and an encoding
# error of a value (not a database error: sqlite3 and psycopg raise it as is).
RECORD_ERRORS = (StoreUnavailable, SQLAlchemyError, ValueError)


def unstorable_reply(reply: str, exc: BaseException) -> str:
    """What is stored instead of a reply the database refused: its codes, and why."""
    codes = reply_codes(reply)
    return f"{codes + ' ' if codes else ''}(the reply could not be stored: {type(exc).__name__})"


@dataclass
class Written:
    """The outcome of writing a batch of results (``DeliveryWorker._write``).

    ``done``: each result written, with its mail's status (None: not even a
    stand-in could be written; the mail's lease brings it back). ``kept``:
    the results not written because the database is unavailable (``refused``).
    """

    done: list[tuple[Result, MailStatus | None]]
    kept: list[Result] = dataclasses.field(default_factory=list)
    refused: BaseException | None = None


class OutboxWorker:
    """The outbox's delivery loop, whatever a row is delivered by (issue 19).

    Claims, leases, group commit, hand-back and database failures are the
    same for mails (``DeliveryWorker``) and chat notices
    (``notifier.chat_outbox.ChatDeliveryWorker``); a subclass says which
    rows it claims (``_claim_in``), how one is sent (``_send``, on one of
    ``slots`` concurrent lanes) and how a result is counted (``_count``).
    """

    channel = "mail"  # the first word of the result's log event (mail_sent, chat_sent)

    def __init__(
        self,
        sessions: sessionmaker[Session],
        slots: int,
        *,
        policy: RetryPolicy = RetryPolicy(),
        batch: int = 50,
        idle_poll: float = 1.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.slots = slots
        self.policy = policy
        self.batch = batch
        self.idle_poll = idle_poll
        self.clock = clock
        self.rng = rng or random.Random()
        self.counts = {"sent": 0, "failed": 0, "retrying": 0}
        self._wake = asyncio.Event()
        self._results: list[tuple[Claimed, SendResult]] = []
        self._recording = asyncio.Lock()
        # Claimed and not yet recorded: what release() hands back at shutdown.
        self._in_hand: dict[int, Claimed] = {}
        # Results the database refused to take (down, locked, full): kept,
        # with their mails still claimed, and written before anything is sent.
        self._unrecorded: list[tuple[Claimed, SendResult]] = []
        self._failures = 0  # database failures in a row: the back-off
        self._refused: BaseException | None = None  # this round's database failure
        # Claimed, not sent: the database refused results, or the lease was half gone.
        self._unsent: list[Claimed] = []

    def wake(self) -> None:
        """New mail is queued: look now instead of at the next poll."""
        self._wake.set()

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Claim due mails, send them over the connections, record each result.

        Once ``stop`` is set each connection finishes the mail it is sending
        and takes no other; the rest stay claimed until ``release()``.
        """
        claimed = await asyncio.to_thread(self._claim)
        if not claimed:
            return 0
        self._in_hand.update((mail.id, mail) for mail in claimed)
        queue: asyncio.Queue[Claimed] = asyncio.Queue()
        for mail in claimed:
            queue.put_nowait(mail)
        stale: list[Claimed] = []

        async def drain(slot: int) -> None:
            while not queue.empty() and not (stop is not None and stop.is_set()):
                if self._unrecorded:
                    return  # the database refuses results: send no more for now
                mail = queue.get_nowait()
                if not self._fresh(mail):
                    stale.append(mail)  # handed back: another node may hold it before we end
                    continue
                result = await self._send(slot, mail)
                await self._record_soon(mail, result)

        async with asyncio.TaskGroup() as group:
            for slot in range(self.slots):
                group.create_task(drain(slot))
        while self._unrecorded and not queue.empty():
            self._unsent.append(queue.get_nowait())  # handed back once the database is
        if stale:
            # A batch slower than half its lease (a slow server): the rest is claimed again.
            log.info("outbox_lease_handed_back", mails=len(stale))
            self._unsent += stale
        return len(claimed)

    def _fresh(self, mail: Claimed) -> bool:
        """Issue 18: whether a send may start now, with half the claim's lease still ahead.

        Past that, another worker may claim the mail before this send ends
        (the lease runs out during a slow batch): it is handed back instead.
        """
        return self.clock() < mail.leased_until - self.policy.lease / 2

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop``; no database failure ends it (issue 12).

        While the database fails (down, a lock held past the busy timeout, a
        full disk), results already in hand are kept and their mails stay
        claimed; the worker tries again after a back-off that doubles up to
        ``MAX_BACKOFF`` seconds, and logs the failure once, then its end.
        """
        while not stop.is_set():
            self._wake.clear()  # a wake-up during this round brings the next one at once
            try:
                await self._record_unrecorded()
                done = await self.run_once(stop)
            except (StoreUnavailable, SQLAlchemyError) as exc:
                self._refused = exc
            if self._refused is not None:
                self._failed(self._refused)
                self._refused = None
                await aio.wait_for_work(asyncio.Event(), stop, self._backoff())
                continue
            if self._failures:
                log.info("outbox_recovered", failures=self._failures)
                self._failures = 0
            if done:
                continue
            await aio.wait_for_work(self._wake, stop, self.idle_poll)

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        if self._failures == 1:
            # Once per outage: a database down for an hour is one line, not thousands.
            log.error(
                "outbox_unavailable", error=db.first_line(exc), unrecorded=len(self._unrecorded)
            )

    def _backoff(self) -> float:
        return min(MAX_BACKOFF, self.idle_poll * 2.0 ** min(self._failures, 16))

    async def _record_unrecorded(self) -> None:
        """Write the results the database refused, then hand back the mails not sent."""
        if self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            written = await asyncio.to_thread(self._write, batch)
            self._unrecorded = written.kept + self._unrecorded
            self._done(written.done)
            if written.refused is not None:
                raise written.refused
        if self._unsent:
            await asyncio.to_thread(self._release, self._unsent)
            for mail in self._unsent:
                self._in_hand.pop(mail.id, None)
            self._unsent = []

    async def _send(self, slot: int, mail: Claimed) -> SendResult:
        raise NotImplementedError

    def _claim_in(self, session: Session, now: dt.datetime) -> list[Claimed]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)

    async def release(self) -> int:
        """Shutdown: hand the claimed, unrecorded mails back to the outbox, due now.

        Without this they would wait out their lease before anyone sent
        them. A mail whose send was cut may have reached the server: it
        goes again with the same Message-ID (the MAIL-10 guarantee).
        Returns how many went back; none if the database is unreachable
        (then the lease brings them back).
        """
        with contextlib.suppress(StoreUnavailable, SQLAlchemyError):
            await self._record_unrecorded()  # a sent mail is not sent again if it can be helped
        if not self._in_hand:
            return 0
        claims = list(self._in_hand.values())
        try:
            released = await asyncio.to_thread(self._release, claims)
        except (StoreUnavailable, SQLAlchemyError) as exc:
            log.error("outbox_release_failed", mails=len(claims), error=db.first_line(exc))
            return 0
        self._in_hand.clear()
        log.info("outbox_released", mails=released)
        return released

    def _release(self, claims: Sequence[Claimed]) -> int:
        with db.transaction(self.sessions) as session:
            return release_claims(session, claims, self.clock())

    def _claim(self) -> list[Claimed]:
        with db.transaction(self.sessions) as session:
            return self._claim_in(session, self.clock())

    async def _record_soon(self, mail: Claimed, result: SendResult) -> None:
        """Record a result; returns once it is committed.

        Group commit: while one transaction writes, the results that arrive
        on the other connections wait and go into the next one together. So
        a result is committed right after its SMTP reply (the crash window
        stays one reply per connection), without a transaction per mail
        queueing for SQLite's write lock.
        """
        self._results.append((mail, result))
        async with self._recording:
            if not self._results:
                return  # an earlier holder of the lock wrote ours
            batch, self._results = self._results, []
            written = await asyncio.to_thread(self._write, batch)
            if written.refused is not None:
                # Handled here, not in the TaskGroup (it would end the process):
                # the results wait in memory, their mails stay claimed.
                self._unrecorded += written.kept
                self._refused = written.refused
        self._done(written.done)

    def _done(self, done: Sequence[tuple[Result, MailStatus | None]]) -> None:
        for (m, r), status in done:
            self._in_hand.pop(m.id, None)
            if status is not None:
                self._count(m, r, status)

    def _write(self, batch: Sequence[Result]) -> Written:
        """Write ``batch`` in one transaction; if its data fails it, result by result.

        Issue 16 (MAIL-10): one result the database refuses (a value it
        cannot take) never blocks the others nor ends the worker: it is
        written with a stand-in reply that says why (``unstorable_reply``).
        A database that is unavailable (``db.unavailable``) stops the
        writing; what is not written yet is kept for later.
        """
        try:
            return Written(list(zip(batch, self._record(batch), strict=True)))
        except RECORD_ERRORS as exc:
            if db.unavailable(exc):
                return Written([], list(batch), exc)
            failure: BaseException | None = exc if len(batch) == 1 else None
        done: list[tuple[Result, MailStatus | None]] = []
        for index, item in enumerate(batch):
            try:
                done.append((item, self._write_alone(item, failure)))
            except RECORD_ERRORS as exc:  # only an unavailable database comes out
                return Written(done, list(batch[index:]), exc)
        return Written(done)

    def _write_alone(self, item: Result, failure: BaseException | None) -> MailStatus | None:
        """One result; ``failure``: why it already failed as it is."""
        mail, result = item
        if failure is None:
            try:
                return self._record([item])[0]
            except RECORD_ERRORS as exc:
                if db.unavailable(exc):
                    raise
                failure = exc
        log.error("outbox_result_refused", outbox_id=mail.id, error=db.first_line(failure))
        stand_in = dataclasses.replace(result, reply=unstorable_reply(result.reply, failure))
        try:
            return self._record([(mail, stand_in)])[0]
        except RECORD_ERRORS as exc:
            if db.unavailable(exc):
                raise
            # Not its reply then, but the row: left as it is, the lease brings it back.
            log.error("outbox_result_unwritable", outbox_id=mail.id, error=db.first_line(exc))
            return None

    def _record(self, batch: Sequence[tuple[Claimed, SendResult]]) -> list[MailStatus]:
        with db.transaction(self.sessions) as session:
            return record_results(session, batch, self.clock(), self.policy, self.rng)

    def _count(self, mail: Claimed, result: SendResult, status: MailStatus) -> None:
        bound = log.bind(outbox_id=mail.id, attempts=mail.attempts)
        event = self.channel
        if status is MailStatus.SENT:
            self.counts["sent"] += 1
            bound.info(f"{event}_sent", reply=result.reply[:200])
        elif status is MailStatus.FAILED:
            self.counts["failed"] += 1
            bound.error(f"{event}_failed", reply=result.reply[:200], permanent=result.permanent)
        else:
            self.counts["retrying"] += 1
            bound.warning(f"{event}_retry", reply=result.reply[:200])


class DeliveryWorker(OutboxWorker):
    """MAIL-10: delivers the outbox's mails over ``senders`` (one per SMTP connection)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Sequence[Sender],
        sender_address: str,
        *,
        policy: RetryPolicy = RetryPolicy(),
        batch: int = 50,
        idle_poll: float = 1.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            sessions,
            len(senders),
            policy=policy,
            batch=batch,
            idle_poll=idle_poll,
            clock=clock,
            rng=rng,
        )
        self.senders = list(senders)  # one per concurrent connection
        # The From header may carry a display name; the envelope has the address alone.
        self.sender_address = envelope_sender(sender_address)

    def _claim_in(self, session: Session, now: dt.datetime) -> list[Claimed]:
        return claim_due(session, now, self.batch, self.policy.lease)

    async def _send(self, slot: int, mail: Claimed) -> SendResult:
        return await self.senders[slot].send(self.sender_address, mail.recipient, mail.message)

    async def close(self) -> None:
        """Every connection at once: a stop waits for the slowest QUIT, not their sum."""
        await asyncio.gather(*(sender.close() for sender in self.senders))
