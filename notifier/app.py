"""The notifier as a service: AMI in, decisions and mail out (``chakushin notifier``).

One asyncio loop runs the AMI client (which feeds the tracker as events
arrive), a decider (which writes finished calls' decisions in batches, in a
worker thread so that the loop keeps reading AMI), and the delivery worker.
A batch that cannot be written (database down) is kept and tried again,
so no finished call is lost while the process lives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chakushin.config import Config
from notifier.amiclient import AmiClient, AmiState
from notifier.engine import Notifier
from notifier.mail import Templates, compose_test
from notifier.model import CallRecord, Event
from notifier.outbox import (
    ConsoleSender,
    DeliveryWorker,
    MaildirSender,
    RetryPolicy,
    Sender,
    SendResult,
    SmtpSender,
    SmtpSettings,
)
from store import aio, db, service, validation
from store.errors import DomainError

log = structlog.get_logger("notifier")

DECIDE_INTERVAL = 0.2  # seconds between batches at most; expiry runs at the same pace


def make_senders(config: Config) -> list[Sender]:
    """SMTP connections when a host is set, else the local sink (OPS-1)."""
    m = config.mail
    if m.smtp_host:
        settings = SmtpSettings(
            m.smtp_host,
            m.smtp_port,
            m.smtp_username,
            m.smtp_password,
            m.smtp_security,
            float(m.smtp_timeout_seconds),
        )
        return [SmtpSender(settings) for _ in range(m.concurrency)]
    if m.sink == "console":
        return [ConsoleSender()]
    return [MaildirSender(config.maildir)]


@dataclasses.dataclass
class NotifierService:
    """AMI client, decider and delivery worker on one loop.

    ``calls_seen``, ``notifier.counts`` (decisions by reason),
    ``notifier.mails_queued``, ``worker.counts`` and ``ami_state`` are what
    the metrics and the node's status report.
    """

    config: Config
    sessions: sessionmaker[Session]
    senders: list[Sender] | None = None
    ami_state: AmiState = AmiState.STOPPED
    calls_seen: int = 0
    # Told of every AMI state change (the node reports it at once).
    state_listener: Callable[[AmiState], None] | None = None
    # One wall clock for the decisions and the delivery worker (time is injected).
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def __post_init__(self) -> None:
        c = self.config
        self.notifier = Notifier(
            self.sessions,
            templates=Templates.load(c.mail.templates_dir or None),
            sender_address=c.mail.from_address,
            clock=self.clock,
        )
        self.worker = DeliveryWorker(
            self.sessions,
            self.senders if self.senders is not None else make_senders(c),
            c.mail.from_address,
            policy=RetryPolicy(
                deadline=dt.timedelta(seconds=c.mail.retry_deadline_seconds),
                lease=dt.timedelta(seconds=c.mail.lease_seconds),
            ),
            clock=self.clock,
        )
        self._finished: list[CallRecord] = []
        self._have_work = asyncio.Event()

    def on_event(self, event: Event) -> None:
        records = self.notifier.handle(event)
        if records:
            self._finish(records)

    def _finish(self, records: list[CallRecord]) -> None:
        if records:
            self.calls_seen += len(records)
            self._finished.extend(records)
            self._have_work.set()

    def on_state(self, state: AmiState) -> None:
        self.ami_state = state
        if self.state_listener is not None:
            self.state_listener(state)

    async def run(self, stop: asyncio.Event, *, grace: float | None = None) -> None:
        """Run until ``stop``; then finish within ``grace`` s (default: the config's).

        On stop: AMI is closed; calls whose outcome has come are decided at
        once; each SMTP connection finishes the mail it is sending, and the
        mails not sent within ``grace`` go back to the outbox, due now.
        """
        c = self.config
        grace = float(c.serve.shutdown_timeout_seconds) if grace is None else grace
        client = AmiClient(
            c.ami.host,
            c.ami.port,
            c.ami.username,
            c.ami.secret,
            on_event=self.on_event,
            on_state=self.on_state,
        )
        await client.start()
        log.info("notifier_started", ami=f"{c.ami.host}:{c.ami.port}")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._decider(stop))
                worker = group.create_task(self.worker.run(stop))
                group.create_task(self._bound_worker(stop, worker, grace))
        finally:
            await client.close()
            self._finish(self.notifier.flush())
            await self._decide_pending()  # what finished before the stop
            released = await self.worker.release()
            await self.worker.close()
            log.info(
                "notifier_stopped",
                decisions=dict(self.notifier.counts),
                mails=dict(self.worker.counts),
                released=released,
            )

    @staticmethod
    async def _bound_worker(stop: asyncio.Event, worker: asyncio.Task[None], grace: float) -> None:
        """After ``stop``, give the delivery worker ``grace`` s, then cancel it."""
        await stop.wait()
        done, _ = await asyncio.wait({worker}, timeout=grace)
        if not done:
            log.warning("delivery_cut", grace=grace)
            worker.cancel()

    async def _decider(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await aio.wait_for_work(self._have_work, stop, DECIDE_INTERVAL)
            self._have_work.clear()  # before the work: a call finishing meanwhile is not missed
            self._finish(self.notifier.expire())
            await self._decide_pending()

    async def _decide_pending(self) -> None:
        if not self._finished:
            return
        batch, self._finished = self._finished, []
        try:
            await asyncio.to_thread(self.notifier.decide, batch)
        except (SQLAlchemyError, DomainError) as exc:
            # The first line only: the rest is the SQL and its parameters (addresses, mails).
            log.error("decisions_not_written", calls=len(batch), error=db.first_line(exc))
            self._finished[:0] = batch  # try again with the next batch
            return
        self.worker.wake()


async def send_test_mail(
    config: Config,
    sessions: sessionmaker[Session],
    number: str,
    address: str,
    *,
    sender: Sender | None = None,
) -> SendResult:
    """MAIL-2 "send test": one test mail to ``address`` now, through the same mailer.

    The number must exist and the address pass MAIL-3 (it need not be saved
    yet: the site tests an address before the subscriber saves it).
    """
    validation.mail_address(address)
    with db.transaction(sessions, read_only=True) as session:
        timezone = service.get_number(session, number).timezone
    message = compose_test(
        address,
        number,
        sender=config.mail.from_address,
        templates=Templates.load(config.mail.templates_dir or None),
        now=dt.datetime.now(dt.UTC),
        timezone=timezone,
    )
    mailer = sender or make_senders(config)[0]
    try:
        result = await mailer.send(config.mail.from_address, address, message.as_string())
    finally:
        await mailer.close()
    log.info("test_mail", number=number, accepted=result.ok, reply=result.reply[:200])
    return result
