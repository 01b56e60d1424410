"""API endpoint of the outbox's state (MAIL-10, OPS-4, issue 18): ``GET /outbox``.

What ``chakushin status`` says of the outbox (``store.outbox_state.read_outbox``,
the same function), and what a dashboard watching the delivery also wants
(``outbox_counts``): every mail by status, the due ones, those in flight or
waiting for their next try, the failures of the last hour and day.

Counts and times only: no mail, subject, address or reply (a reply may name an
address; the last one's kind of failure is given instead). Read only.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from store import outbox_state
from store.delivery import FailureKind, failure_kind
from web.api.deps import Reader

router = APIRouter(tags=["outbox"])


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


@router.get("/outbox", summary="The outbox's state: mails by status, due, oldest, failures.")
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
        last_failure_kind=failure_kind(view.last_failure) if view.last_failure else None,
    )
