"""API endpoint of a number's call history (MAIL-9, MAIL-10, issue 18): ``GET /numbers/{n}/calls``.

What ``chakushin number show N --calls --json`` shows, a page at a time,
newest first: each call with its decision (mailed or not, the reason, the
rule), the caller as the mail shows it (the number only when presented,
else 非通知 / 公衆電話 / 表示圏外), who answered (the operator's device name,
else Asterisk's member name) and each address's mail (``store.delivery``):
its status, attempts, when it was queued and sent or is tried next, and for
a failed one the kind of failure and the mail server's raw reply, which is
the operator's (the site never shows it).

Issue 19 (CHAT-3, BOOK-2): each call also has ``caller_name``, the presented
caller's name in the number's phonebook now (null for a withheld, payphone or
unavailable caller, whatever the phonebook holds), and ``chats``: its notice
to each chat or webhook destination (kind, slot, the name it was queued with,
the same statuses, and for a failed one its kind and the receiver's raw HTTP
reply). ``deliveries`` stays the mails.

A page costs the same for the first calls and the ten-thousandth: the
cursor is the last call's (started_at, id), never an offset, and the
deliveries of a whole page are one query. Times are aware UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from store import delivery, service, validation
from store.bulk import CallKey
from store.delivery import CallDeliveries, Delivery, DeliveryStatus, FailureKind
from store.errors import InvalidInput
from store.models import CallOutcome
from web.api.deps import Reader
from web.api.paging import DEFAULT_LIMIT, Cursor, Limit, Page

router = APIRouter(tags=["history"])

# Digits only before any query (a NUL is a database error on PostgreSQL, not an unknown
# number); the domain checks the rest of the form (``validation.subscriber_number``).
NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
# "<started_at in microseconds since 1970 UTC>.<call id>"; 17 digits reach past the year 5000.
_CURSOR = re.compile(r"([0-9]{1,17})\.([0-9]{1,10})")
# A call's id is a 32-bit integer column: a larger one was PostgreSQL's "out of range".
_MAX_CALL_ID = 2**31 - 1


def cursor_of(key: CallKey) -> str:
    started_at, call_id = key
    return f"{(started_at - _EPOCH) // _MICROSECOND}.{call_id}"


def key_of(cursor: str) -> CallKey:
    found = _CURSOR.fullmatch(cursor)
    if found is None or int(found.group(2)) > _MAX_CALL_ID:
        raise InvalidInput("not a cursor of this list: use next_cursor as given", field="cursor")
    return (_EPOCH + int(found.group(1)) * _MICROSECOND, int(found.group(2)))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(dt.UTC) if value is not None else None


def _attempts(d: Delivery) -> dict[str, Any]:
    """What a mail and a notice of the call both say of their delivery."""
    return {
        "status": d.status,
        "attempts": d.attempts,
        "queued_at": d.queued_at.astimezone(dt.UTC),
        "sent_at": _utc(d.sent_at),
        "next_attempt_at": _utc(d.next_attempt_at),
        "failure": d.failure,
        "reply": d.reply or None,
    }


class DeliveryOut(BaseModel):
    """One address's mail of the call."""

    address: str
    status: DeliveryStatus
    attempts: int
    queued_at: dt.datetime
    sent_at: dt.datetime | None  # when the mail server accepted it (sent)
    next_attempt_at: dt.datetime | None  # the next try (queued, retrying)
    failure: FailureKind | None  # why it was given up (failed)
    reply: str | None  # the last failed attempt's reply, as stored: the operator's only

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            address=d.address,
            **_attempts(d),
        )


class ChatDeliveryOut(BaseModel):
    """One destination's chat or webhook notice of the call (issue 19)."""

    kind: str  # the destination's kind: slack, teams, discord, chatwork, webhook
    position: int | None  # its slot now (GET /numbers/{n}/destinations); null once removed
    name: str  # its shown name when the notice was queued
    status: DeliveryStatus
    attempts: int
    queued_at: dt.datetime
    sent_at: dt.datetime | None  # when the receiver accepted it with a 2xx (sent)
    next_attempt_at: dt.datetime | None  # the next try (queued, retrying)
    failure: FailureKind | None  # why it was given up (failed)
    reply: str | None  # the last failed attempt's HTTP reply, as stored: the operator's only

    @classmethod
    def of(cls, d: Delivery) -> ChatDeliveryOut:
        return cls(
            kind=d.channel,
            position=d.destination_position,
            name=d.address,
            **_attempts(d),
        )


class CallOut(BaseModel):
    """One call to the number and its decision (MAIL-10)."""

    id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    caller: str  # as the mail shows it (MAIL-9)
    caller_name: str | None  # the phonebook's name of a presented caller (BOOK-2), else null
    outcome: CallOutcome
    answered_by: str | None  # the interface that answered
    answered_name: str | None  # the operator's device name, else Asterisk's member name
    mailed: bool
    reason: str  # the decision's reason; "undecided" for a call without one
    rule: str  # the SPEC rule that decided, "" when none
    deliveries: list[DeliveryOut]  # the mails, by address
    chats: list[ChatDeliveryOut]  # issue 19: the chat and webhook notices, by destination

    @classmethod
    def of(cls, c: CallDeliveries, names: dict[str, str]) -> CallOut:
        row = c.call
        return cls(
            id=c.call_id,
            started_at=row.started_at.astimezone(dt.UTC),
            ended_at=_utc(row.ended_at),
            caller=row.caller,
            caller_name=row.caller_name or None,
            outcome=row.outcome,
            answered_by=row.answered_by or None,
            answered_name=names.get(row.answered_by) or row.answered_name or None,
            mailed=row.mailed,
            reason=row.reason,
            rule=row.rule,
            deliveries=[DeliveryOut.of(d) for d in c.deliveries if not d.is_chat],
            chats=[ChatDeliveryOut.of(d) for d in c.deliveries if d.is_chat],
        )


@router.get(
    "/numbers/{number}/calls",
    summary=(
        "The number's calls, newest first, with each decision, each address's mail "
        "and each destination's chat notice."
    ),
)
def list_calls(
    api: Reader,
    number: NumberPath,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CallOut]:
    validation.subscriber_number(number)
    before = key_of(cursor) if cursor is not None else None
    with api.read() as session:
        # One more than asked: whether a next page exists, without an empty last page.
        found = delivery.call_deliveries(session, number, limit + 1, before=before)
        page, more = found[:limit], len(found) > limit
        # Who answered, by the operator's device name: one query for the page.
        answered = {c.call.answered_by for c in page if c.call.answered_by}
        names = service.device_labels(session, answered) if answered else {}
    return Page[CallOut](
        items=[CallOut.of(c, names) for c in page],
        next_cursor=cursor_of(page[-1].key) if more else None,
    )
