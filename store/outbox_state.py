"""The outbox's state (MAIL-10, OPS-4): what ``chakushin status``, the metrics and the API read.

- ``read_outbox``: the view of ``chakushin status`` (``chakushin.node``) and of
  the metrics: mails waiting, how many were tried before, the oldest, the
  failures of the last day and the last delivery error;
- ``outbox_counts`` (issue 18): what the API adds: every mail by status,
  those due now and those not (in flight under a worker's lease, or waiting
  for the next try), and the failures of the last hour.

Counts and times only: no mail, subject or address (a stored reply may name
one, so only ``read_outbox`` returns it, for the operator's status).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import MailStatus, OutboxMail

RECENT_HOUR = dt.timedelta(hours=1)
RECENT_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class OutboxView:
    pending: int
    retrying: int  # pending after at least one attempt
    oldest_pending_at: dt.datetime | None
    failed_last_day: int
    last_failure: str | None
    last_failure_at: dt.datetime | None


def read_outbox(session: Session, now: dt.datetime) -> OutboxView:
    pending = OutboxMail.status == MailStatus.PENDING
    count, retrying, oldest = session.execute(
        select(
            func.count(OutboxMail.id),
            func.count(OutboxMail.id).filter(OutboxMail.attempts > 0),
            func.min(OutboxMail.created_at),
        ).where(pending)
    ).one()
    failed = OutboxMail.status == MailStatus.FAILED
    failed_last_day = session.scalar(
        select(func.count(OutboxMail.id)).where(failed, OutboxMail.created_at >= now - RECENT_DAY)
    )
    last = session.execute(
        select(OutboxMail.last_error, OutboxMail.next_attempt_at)
        .where(OutboxMail.last_error.is_not(None))
        .order_by(OutboxMail.next_attempt_at.desc())
        .limit(1)
    ).first()
    return OutboxView(
        pending=int(count),
        retrying=int(retrying),
        oldest_pending_at=_utc(oldest),
        failed_last_day=int(failed_last_day or 0),
        last_failure=last[0] if last else None,
        last_failure_at=_utc(last[1]) if last else None,
    )


@dataclass(frozen=True)
class OutboxCounts:
    """Every mail of the outbox by status, and what is due (issue 18)."""

    pending: int
    sent: int
    failed: int
    due: int  # pending and due now: a worker takes them at its next round
    scheduled: int  # pending, not due: in flight under a lease, or waiting for the next try
    failed_last_hour: int  # queued in the last hour and given up since


def outbox_counts(session: Session, now: dt.datetime) -> OutboxCounts:
    """Two statements: the counts by status (the status index), then the due and the
    recently failed among the pending and failed rows."""
    by_status = {
        status: int(n)
        for status, n in session.execute(
            select(OutboxMail.status, func.count(OutboxMail.id)).group_by(OutboxMail.status)
        )
    }
    due, failed_last_hour = session.execute(
        select(
            func.count(OutboxMail.id).filter(
                OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now
            ),
            func.count(OutboxMail.id).filter(
                OutboxMail.status == MailStatus.FAILED,
                OutboxMail.created_at >= now - RECENT_HOUR,
            ),
        ).where(OutboxMail.status.in_([MailStatus.PENDING, MailStatus.FAILED]))
    ).one()
    pending = by_status.get(MailStatus.PENDING, 0)
    return OutboxCounts(
        pending=pending,
        sent=by_status.get(MailStatus.SENT, 0),
        failed=by_status.get(MailStatus.FAILED, 0),
        due=int(due or 0),
        scheduled=pending - int(due or 0),
        failed_last_hour=int(failed_last_hour or 0),
    )


def _utc(value: dt.datetime | str | None) -> dt.datetime | None:
    # Aggregates (min) bypass the column type: SQLite hands back its text.
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
