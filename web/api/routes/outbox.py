"""API endpoint of the outbox's state (MAIL-10, OPS-4, issue 18): ``GET /outbox``.

What ``chakushin status`` says of the outbox (``store.outbox_state.read_outbox``,
the same function), and what a dashboard watching the delivery also wants
(``outbox_counts``): every mail by status, the due ones, those in flight or
waiting for their next try, the failures of the last hour and day.

Counts and times only: no mail, subject, address or reply (a reply may name an
address; the last one's kind of failure is given instead). Read only.

Issue 19 (CHAT-3): the outbox holds the chat and webhook notices too; the
totals count every row, and ``by_kind`` gives the waiting and recently failed
rows per kind ("mail", or the notice's destination kind: slack, teams,
discord, chatwork, webhook); a chat notice's failure kind is read from its
HTTP reply.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from store import outbox_state
from store.delivery import FailureKind, chat_failure_kind, failure_kind
from store.outbox_state import MAIL_CHANNEL, KindView
from web.api.deps import Reader

router = APIRouter(tags=["outbox"])


class OutboxKindOut(BaseModel):
    """The waiting and recently failed rows of one kind (issue 19)."""

    pending: int
    retrying: int
    due: int
    oldest_pending_at: dt.datetime | None
    failed_last_day: int

    @classmethod
    def of(cls, k: KindView) -> OutboxKindOut:
        return cls(
            pending=k.pending,
            retrying=k.retrying,
            due=k.due,
            oldest_pending_at=k.oldest_pending_at,
            failed_last_day=k.failed_last_day,
        )


class OutboxOut(BaseModel):
    checked_at: dt.datetime
    pending: int  # waiting for delivery
    retrying: int  # pending after at least one attempt (as chakushin status counts them)
    due: int  # pending and due now
    scheduled: int  # pending, not due: in flight under a worker's lease, or waiting to retry
    sent: int
    failed: int
    oldest_pending_at: dt.datetime | None
    oldest_pending_age_seconds: float | None
    failed_last_hour: int  # queued in the last hour and given up since
    failed_last_day: int  # queued in the last 24 hours and given up since
    last_failure_at: dt.datetime | None  # the latest failed attempt's
    last_failure_kind: FailureKind | None  # and why, from the server's reply
    # Issue 19: "mail" or a chat kind -> its rows (only kinds with a pending or recent failed row)
    by_kind: dict[str, OutboxKindOut]


@router.get(
    "/outbox",
    summary="The outbox's state: mails and chat notices by status, due, oldest, failures, by kind.",
)
def read_outbox(api: Reader) -> OutboxOut:
    now = api.now()
    with api.read() as session:
        view = outbox_state.read_outbox(session, now)
        counts = outbox_state.outbox_counts(session, now)
    oldest = view.oldest_pending_at
    return OutboxOut(
        checked_at=now,
        pending=counts.pending,
        retrying=view.retrying,
        due=counts.due,
        scheduled=counts.scheduled,
        sent=counts.sent,
        failed=counts.failed,
        oldest_pending_at=oldest,
        oldest_pending_age_seconds=(now - oldest).total_seconds() if oldest else None,
        failed_last_hour=counts.failed_last_hour,
        failed_last_day=view.failed_last_day,
        last_failure_at=view.last_failure_at,
        last_failure_kind=_kind_of(view.last_failure, view.last_failure_channel),
        by_kind={kind: OutboxKindOut.of(k) for kind, k in view.by_kind.items()},
    )


def _kind_of(reply: str | None, channel: str | None) -> FailureKind | None:
    if not reply:
        return None
    if channel in (None, MAIL_CHANNEL):
        return failure_kind(reply)
    return chat_failure_kind(reply)
