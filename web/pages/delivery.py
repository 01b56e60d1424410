"""Issue 16 (MAIL-2, MAIL-10): what became of every mail, said on the site in words.

The call history says, for each mailed call and each address, 送信済み with
its time, 再送中 with the next try and the attempts, or 送信できませんでした
with the reason in words (``store.delivery.FailureKind``), so that a
subscriber can tell a wrong address from a slow server. The address page
flags an address whose latest mail failed, until a later one is sent
(``store.delivery.recently_failed``). Neither ever shows the mail server's
reply or an SMTP code: those are for the operator (``chakushin number show
--calls``). Times are the number's (``store.delivery`` gives them so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from store import delivery
from store.delivery import Delivery, DeliveryStatus, FailureKind
from web.texts import page

TIME = "%Y/%m/%d %H:%M:%S"
NEXT_TIME = "%Y/%m/%d %H:%M"


def failure_words(kind: FailureKind) -> str:
    """Why a mail was given up, in words a subscriber understands."""
    sentences = {
        FailureKind.ADDRESS_REFUSED: page("delivery.address_refused"),
        FailureKind.MAILBOX_FULL: page("delivery.mailbox_full"),
        FailureKind.REFUSED: page("delivery.refused"),
        FailureKind.DEFERRED: page("delivery.deferred"),
        FailureKind.UNREACHABLE: page("delivery.unreachable"),
    }
    return sentences[kind]


def _state(d: Delivery) -> str:
    if d.status is DeliveryStatus.SENT and d.sent_at is not None:
        return page("delivery.sent", time=f"{d.sent_at:{TIME}}")
    if d.status is DeliveryStatus.RETRYING and d.next_attempt_at is not None:
        return page(
            "delivery.retrying", next=f"{d.next_attempt_at:{NEXT_TIME}}", attempts=d.attempts
        )
    if d.status is DeliveryStatus.FAILED:
        return page("delivery.failed")
    return page("delivery.queued")


def delivery_rows(deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """The history page's lines for one call: each address, its state, the reason if failed."""
    return [
        {
            "address": d.address,
            "status": d.status.value,
            "failed": d.status is DeliveryStatus.FAILED,
            "state": _state(d),
            "reason": failure_words(d.failure) if d.failure is not None else "",
        }
        for d in deliveries
    ]


def address_flags(session: Session, number: str, now: dt.datetime) -> dict[int, str]:
    """The address page's flag, by slot: 「最近このアドレスに送信できませんでした」 and why."""
    return {
        failed.position: page("addresses.recently_failed", reason=failure_words(failed.failure))
        for failed in delivery.recently_failed(
            session, number, since=now - delivery.RECENT
        ).values()
    }
