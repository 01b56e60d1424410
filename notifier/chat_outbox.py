"""Chat and webhook notices out of the outbox (issue 19, CHAT-3, MAIL-10).

``ChatDeliveryWorker`` is the mail's delivery loop (``notifier.outbox.
OutboxWorker``: the same claims and leases, group commit, hand-back at a
stop or a half-gone lease, and the same handling of a database that
fails) over the outbox's ``call_chat`` rows, each posted with
``HttpSender``. The mail worker never claims those rows, this one claims
nothing else.

A row's URL and secret are read from its destination when it is claimed,
never copied into the outbox: a destination removed since the call was
decided is not posted to, its row fails as "destination removed".

Guarantee (as the mail's): every notice is posted at least once while the
deadline lasts, and exactly once unless a worker dies after the receiver's
2xx and before the row was marked (a window of one HTTP answer per lane).
Then the lease runs out and the notice is posted again with the same
``webhook-id`` (the row's dedup key), by which a receiver that follows
Standard Webhooks drops the repeat; Slack, Teams, Discord and Chatwork
would show it twice.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import Claimed, OutboxWorker, RetryPolicy, SendResult, claim_rows
from notifier.webhooks import HttpSender, Target
from store.models import ChatDestination, ChatKind, MailStatus

REMOVED = "destination removed"
STATUS_KEYS = {MailStatus.SENT: "sent", MailStatus.FAILED: "failed"}


@dataclass(frozen=True)
class ChatClaimed(Claimed):
    """A claimed notice: ``message`` is the payload as posted."""

    kind: ChatKind | None
    target: Target | None  # None: the destination was removed
    message_id: str  # the row's dedup key: the webhook-id, the same on every retry
    content_type: str


def claim_chats(
    session: Session, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[ChatClaimed]:
    """Claim due chat notices with their destinations (one query for those, whatever the rows)."""
    rows = claim_rows(session, now, limit, lease, chat=True)
    wanted = {row.destination_id for row in rows if row.destination_id is not None}
    found = (
        {
            d.id: d
            for d in session.scalars(select(ChatDestination).where(ChatDestination.id.in_(wanted)))
        }
        if wanted
        else {}
    )
    claimed = []
    for row in rows:
        destination = found.get(row.destination_id) if row.destination_id is not None else None
        headers = row.headers if isinstance(row.headers, dict) else {}
        kind = destination.kind if destination is not None else _kind(headers.get("chat_kind"))
        claimed.append(
            ChatClaimed(
                row.id,
                row.recipient,
                row.body,
                row.attempts,
                row.created_at,
                now + lease,
                kind=kind,
                target=Target.of(destination) if destination is not None else None,
                message_id=row.dedup_key,
                content_type=str(headers.get("content_type") or "application/json"),
            )
        )
    return claimed


def _kind(value: object) -> ChatKind | None:
    try:
        return ChatKind(str(value))
    except ValueError:
        return None


class ChatDeliveryWorker(OutboxWorker):
    """CHAT-3: posts the outbox's chat notices, ``concurrency`` at once, over one ``HttpSender``.

    ``counts`` as the mail worker's; ``counts_by_kind[kind][status]`` the
    same per ``ChatKind`` (the metrics' deliveries by kind).
    """

    channel = "chat"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sender: HttpSender,
        *,
        concurrency: int = 4,
        policy: RetryPolicy | None = None,
        batch: int = 50,
        idle_poll: float = 1.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            sessions,
            concurrency,
            policy=policy or RetryPolicy(),
            batch=batch,
            idle_poll=idle_poll,
            clock=clock,
            rng=rng,
        )
        self.sender = sender
        self.counts_by_kind = {kind: {"sent": 0, "failed": 0, "retrying": 0} for kind in ChatKind}

    def _claim_in(self, session: Session, now: dt.datetime) -> list[Claimed]:
        return list(claim_chats(session, now, self.batch, self.policy.lease))

    async def _send(self, slot: int, mail: Claimed) -> SendResult:
        assert isinstance(mail, ChatClaimed)
        if mail.target is None:
            return SendResult(False, permanent=True, reply=REMOVED, answered=False)
        return await self.sender.post(
            mail.target, mail.message, mail.content_type, message_id=mail.message_id
        )

    def _count(self, mail: Claimed, result: SendResult, status: MailStatus) -> None:
        super()._count(mail, result, status)
        if isinstance(mail, ChatClaimed) and mail.kind is not None:
            self.counts_by_kind[mail.kind][STATUS_KEYS.get(status, "retrying")] += 1

    async def close(self) -> None:
        await self.sender.close()
