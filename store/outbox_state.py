"""The outbox's state (MAIL-10, OPS-4): what ``chakushin status``, the metrics and the API read.

- ``read_outbox``: the view of ``chakushin status`` (``chakushin.node``) and of
  the metrics: mails waiting, how many were tried before, the oldest, the
  failures of the last day and the last delivery error;
- ``outbox_counts`` (issue 18): what the API adds: every mail by status,
  those due now and those not (in flight under a worker's lease, or waiting
  for the next try), and the failures of the last hour.

Issue 19 (CHAT-3): the outbox holds chat and webhook notices too. Each view
is also given by kind (``OutboxView.by_kind``: ``"mail"`` for every mail, or
the notice's ``ChatKind`` value): waiting, retrying, due, the oldest and the
failures of the last day, from the same rows (pending, or failed in the last
day: the status index, never the sent rows). The total counts stay what they
were, every row of the outbox.

Counts and times only: no mail, subject or address (a stored reply may name
one, so only ``read_outbox`` returns it, for the operator's status).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from store.models import ChatKind, MailKind, MailStatus, OutboxMail

RECENT_HOUR = dt.timedelta(hours=1)
RECENT_DAY = dt.timedelta(days=1)


# Issue 19: the kind of an outbox row as the history, the status and the metrics say it.
MAIL_CHANNEL = "mail"
# A chat notice whose kind is neither in its headers nor in its (removed) destination.
UNKNOWN_CHAT_CHANNEL = "chat"
_CHAT_KINDS = frozenset(k.value for k in ChatKind)
# Every kind a row can have, in the order the status and the metrics list them.
CHANNELS = (MAIL_CHANNEL, *(k.value for k in ChatKind))


def chat_channel(queued_kind: str | None, destination_kind: ChatKind | None = None) -> str:
    """A chat notice's kind: the one it was queued with (``headers["chat_kind"]``), else
    its destination's, else ``"chat"``."""
    if queued_kind in _CHAT_KINDS:
        return str(queued_kind)
    if destination_kind is not None:
        return destination_kind.value
    return UNKNOWN_CHAT_CHANNEL


def channel_of(kind: MailKind, queued_kind: str | None) -> str:
    """An outbox row's kind: ``"mail"`` for every mail, a chat notice's ``chat_channel``."""
    return chat_channel(queued_kind) if kind is MailKind.CALL_CHAT else MAIL_CHANNEL


def queued_chat_kind() -> ColumnElement[str]:
    """A chat notice's kind as queued (``headers["chat_kind"]``; NULL for a mail)."""
    queued: ColumnElement[str] = OutboxMail.headers["chat_kind"].as_string()
    return queued


@dataclass(frozen=True)
class KindView:
    """Issue 19: the waiting and recently failed rows of one kind (mail, slack, ...)."""

    pending: int = 0
    retrying: int = 0  # pending after at least one attempt
    due: int = 0  # pending and due now
    oldest_pending_at: dt.datetime | None = None
    failed_last_day: int = 0


@dataclass(frozen=True)
class OutboxView:
    pending: int
    retrying: int  # pending after at least one attempt
    oldest_pending_at: dt.datetime | None
    failed_last_day: int
    last_failure: str | None
    last_failure_at: dt.datetime | None
    # Issue 19: the same by kind ("mail", "slack", ...; only kinds with a row counted),
    # and the kind of the row whose reply ``last_failure`` is.
    by_kind: Mapping[str, KindView] = field(default_factory=dict)
    last_failure_channel: str | None = None


def read_by_kind(session: Session, now: dt.datetime) -> dict[str, KindView]:
    """Issue 19: ``KindView`` of every kind that has a pending row or one failed in the
    last day, in ``CHANNELS`` order. One statement, over those rows only."""
    pending = OutboxMail.status == MailStatus.PENDING
    rows = (
        select(
            OutboxMail.kind,
            queued_chat_kind().label("chat_kind"),
            OutboxMail.status,
            OutboxMail.attempts,
            OutboxMail.next_attempt_at,
            OutboxMail.created_at,
        )
        .where(
            or_(
                pending,
                and_(
                    OutboxMail.status == MailStatus.FAILED,
                    OutboxMail.created_at >= now - RECENT_DAY,
                ),
            )
        )
        .subquery()
    )
    waiting = rows.c.status == MailStatus.PENDING
    counts: dict[str, list[int]] = {}  # pending, retrying, due, failed in the last day
    oldest: dict[str, dt.datetime] = {}
    for kind, chat_kind, *numbers, first in session.execute(
        select(
            rows.c.kind,
            rows.c.chat_kind,
            func.count().filter(waiting),
            func.count().filter(waiting, rows.c.attempts > 0),
            func.count().filter(waiting, rows.c.next_attempt_at <= now),
            func.count().filter(rows.c.status == MailStatus.FAILED),
            func.min(rows.c.created_at).filter(waiting),
        ).group_by(rows.c.kind, rows.c.chat_kind)
    ):
        channel = channel_of(kind, chat_kind)
        total = counts.setdefault(channel, [0, 0, 0, 0])
        for i, n in enumerate(numbers):
            total[i] += int(n or 0)
        at = _utc(first)
        if at is not None and (channel not in oldest or at < oldest[channel]):
            oldest[channel] = at
    order = {channel: i for i, channel in enumerate(CHANNELS)}
    return {
        channel: KindView(
            pending=pending,
            retrying=retrying,
            due=due,
            oldest_pending_at=oldest.get(channel),
            failed_last_day=failed,
        )
        for channel, (pending, retrying, due, failed) in sorted(
            counts.items(), key=lambda item: order.get(item[0], len(order))
        )
    }


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
        select(
            OutboxMail.last_error,
            OutboxMail.next_attempt_at,
            OutboxMail.kind,
            queued_chat_kind(),
        )
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
        by_kind=read_by_kind(session, now),
        last_failure_channel=channel_of(last[2], last[3]) if last else None,
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
