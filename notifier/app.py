"""The notifier as a service: AMI in, decisions and mail out (``chakushin notifier``).

One asyncio loop runs the AMI client (which feeds the tracker as events
arrive), a decider (which writes finished calls' decisions in batches, in a
worker thread so that the loop keeps reading AMI), and the delivery worker.
A batch that cannot be written (database down) is kept and tried again,
so no finished call is lost while the process lives.

Issue 19: a second worker, the chat worker (``notifier.chat_outbox``),
posts the outbox's chat and webhook notices beside the mail worker, with
the same retry policy and lease, and stops the same way.

Issue 13: this module receives its collaborators (the templates, the
senders, the retry policy) and its own ``[ami]`` section; the composition
root ``chakushin.bootstrap`` builds them from the configuration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from notifier.amiclient import AmiClient, AmiState
from notifier.chat_outbox import ChatDeliveryWorker
from notifier.config import AmiConfig
from notifier.engine import Notifier
from notifier.mail import Templates, compose_test
from notifier.model import CallRecord, Event
from notifier.outbox import DeliveryWorker, OutboxWorker, RetryPolicy, Sender, SendResult
from notifier.webhooks import HttpSender, WebhookSettings
from store import aio, db, service, validation
from store.errors import DomainError, StoreUnavailable
from store.mail_message import envelope_sender

log = structlog.get_logger("notifier")

DECIDE_INTERVAL = 0.2  # seconds between batches at most; expiry runs at the same pace


@dataclasses.dataclass
class NotifierService:
    """AMI client, decider and delivery worker on one loop.

    ``calls_seen``, ``notifier.counts`` (decisions by reason),
    ``notifier.mails_queued``, ``worker.counts`` and ``ami_state`` are what
    the metrics and the node's status report.
    """

    sessions: sessionmaker[Session]
    ami: AmiConfig
    templates: Templates
    # One sender per concurrent SMTP connection (MAIL-10), or the local sink.
    senders: Sequence[Sender]
    sender_address: str
    # Seconds the delivery worker gets after a stop. No default here: the
    # root passes ``serve.shutdown_timeout_seconds``, the only one (OPS-1).
    grace: float
    policy: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    ami_state: AmiState = AmiState.STOPPED
    calls_seen: int = 0
    # Told of every AMI state change (the node reports it at once).
    state_listener: Callable[[AmiState], None] | None = None
    # One wall clock for the decisions and the delivery worker (time is injected).
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # call.e164_without_plus: a caller 81... is read as +81... (store.caller_number).
    e164_without_plus: bool = False
    # Issue 19 (CHAT-3): how chat notices are posted ([chat]), and how many at once.
    chat: WebhookSettings = dataclasses.field(default_factory=WebhookSettings)
    chat_concurrency: int = 4

    def __post_init__(self) -> None:
        self.notifier = Notifier(
            self.sessions,
            templates=self.templates,
            sender_address=self.sender_address,
            clock=self.clock,
            e164_without_plus=self.e164_without_plus,
        )
        self.worker = DeliveryWorker(
            self.sessions,
            self.senders,
            self.sender_address,
            policy=self.policy,
            clock=self.clock,
        )
        self.chat_worker = ChatDeliveryWorker(
            self.sessions,
            HttpSender(self.chat, clock=self.clock),
            concurrency=self.chat_concurrency,
            policy=self.policy,
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

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop``; then finish within ``self.grace`` s.

        On stop: AMI is closed; calls whose outcome has come are decided at
        once; each SMTP connection finishes the mail it is sending, and the
        mails not sent within the grace time go back to the outbox, due now;
        the chat worker likewise with its notices.
        """
        ami = self.ami
        client = AmiClient.from_config(ami, on_event=self.on_event, on_state=self.on_state)
        await client.start()
        log.info("notifier_started", ami=f"{ami.host}:{ami.port}")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._decider(stop))
                for each in self.workers:
                    worker = group.create_task(each.run(stop))
                    group.create_task(self._bound_worker(stop, worker, self.grace))
        finally:
            await client.close()
            self._finish(self.notifier.flush())
            await self._decide_pending()  # what finished before the stop
            released = [await each.release() for each in self.workers]
            await asyncio.gather(*(each.close() for each in self.workers))
            log.info(
                "notifier_stopped",
                decisions=dict(self.notifier.counts),
                mails=dict(self.worker.counts),
                chats=dict(self.chat_worker.counts),
                released=released[0],
                chats_released=released[1],
            )

    @property
    def workers(self) -> tuple[OutboxWorker, ...]:
        """The mail worker and the chat worker (issue 19), in that order."""
        return (self.worker, self.chat_worker)

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
        except (SQLAlchemyError, DomainError, StoreUnavailable) as exc:
            # The first line only: the rest is the SQL and its parameters (addresses, mails).
            log.error("decisions_not_written", calls=len(batch), error=db.first_line(exc))
            self._finished[:0] = batch  # try again with the next batch
            return
        for each in self.workers:  # a decision queues mails and, with them, chat notices
            each.wake()


async def send_test_mail(
    sessions: sessionmaker[Session],
    number: str,
    address: str,
    *,
    sender_address: str,
    templates: Templates,
    mailer: Callable[[], Sender],
) -> SendResult:
    """MAIL-2 "send test": one test mail to ``address`` now, through the same mailer.

    The number must exist and the address pass MAIL-3 (it need not be saved
    yet: the site tests an address before the subscriber saves it). The
    sender is made by ``mailer`` only then, and closed after the one mail.
    """
    validation.mail_address(address)
    with db.transaction(sessions, read_only=True) as session:
        timezone = service.get_number(session, number).timezone
    message = compose_test(
        address,
        number,
        sender=sender_address,
        templates=templates,
        now=dt.datetime.now(dt.UTC),
        timezone=timezone,
    )
    sender = mailer()
    try:
        result = await sender.send(envelope_sender(sender_address), address, message.as_string())
    finally:
        await sender.close()
    log.info("test_mail", number=number, accepted=result.ok, reply=result.reply[:200])
    return result
