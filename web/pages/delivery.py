"""Issue 16 (MAIL-2, MAIL-10): what became of every mail, said on the site in words.

The call history says, for each mailed call and each address, 送信済み with
its time, 再送中 with the next try and the attempts, or 送信できませんでした
with the reason in words (``store.delivery.FailureKind``), so that a
subscriber can tell a wrong address from a slow server. The address page
flags an address whose latest mail failed, until a later one is sent
(``store.delivery.recently_failed``). Neither ever shows the mail server's
reply or an SMTP code: those are for the operator (``chakushin number show
--calls``). Times are the number's (``store.delivery`` gives them so).

Issue 19 (CHAT-3): each call's notices to its chat and webhook destinations
are listed the same way below its mails (``chat_rows``): the kind, the
destination's name, the state, the attempts and, when given up, why in
words (the webhook gone, the token refused, ...), never the receiver's
HTTP reply. ``destination_flags`` is ``address_flags`` for the destinations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from store import delivery
from store.delivery import Delivery, DeliveryStatus, FailureKind
from store.models import ChatKind
from web.texts import page

TIME = "%Y/%m/%d %H:%M:%S"
_MAIL_KINDS = frozenset(
    {
        FailureKind.ADDRESS_REFUSED,
        FailureKind.MAILBOX_FULL,
        FailureKind.REFUSED,
        FailureKind.DEFERRED,
        FailureKind.UNREACHABLE,
    }
)
NEXT_TIME = "%Y/%m/%d %H:%M"


def chat_failure_words(kind: FailureKind) -> str:
    """Issue 19: why a chat or webhook notice was given up, in words a subscriber
    understands (the mail's words speak of a mail server)."""
    sentences = {
        FailureKind.GONE: page("delivery.chat_gone"),
        FailureKind.NOT_AUTHORIZED: page("delivery.chat_not_authorized"),
        FailureKind.REFUSED: page("delivery.chat_refused"),
        FailureKind.REDIRECTED: page("delivery.chat_redirected"),
        FailureKind.DEFERRED: page("delivery.chat_deferred"),
        FailureKind.UNREACHABLE: page("delivery.chat_unreachable"),
        FailureKind.BLOCKED: page("delivery.chat_blocked"),
        FailureKind.DESTINATION_REMOVED: page("delivery.chat_destination_removed"),
    }
    return sentences.get(kind, sentences[FailureKind.REFUSED])


def chat_kind_words(channel: str) -> str:
    """The destination's kind as the site names it (Slack, Microsoft Teams, ...)."""
    names = {
        ChatKind.SLACK.value: page("delivery.chat_kind.slack"),
        ChatKind.TEAMS.value: page("delivery.chat_kind.teams"),
        ChatKind.DISCORD.value: page("delivery.chat_kind.discord"),
        ChatKind.CHATWORK.value: page("delivery.chat_kind.chatwork"),
        ChatKind.WEBHOOK.value: page("delivery.chat_kind.webhook"),
    }
    return names.get(channel) or page("delivery.chat_kind.chat")


def failure_words(kind: FailureKind) -> str:
    """Why a mail was given up, in words a subscriber understands."""
    if kind not in _MAIL_KINDS:  # a chat notice's kind (issue 19)
        return chat_failure_words(kind)
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
    """The history page's lines for one call: each address, its state, the reason if failed
    (its mails only: ``chat_rows`` lists the chat notices)."""
    return [
        {
            "address": d.address,
            "status": d.status.value,
            "failed": d.status is DeliveryStatus.FAILED,
            "state": _state(d),
            "reason": failure_words(d.failure) if d.failure is not None else "",
        }
        for d in deliveries
        if not d.is_chat
    ]


def chat_rows(deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Issue 19 (CHAT-3): the call's chat and webhook notices, by destination: the kind,
    the name it was queued with, its state with the attempts, the reason if failed."""
    rows = []
    for d in deliveries:
        if not d.is_chat:
            continue
        state = _state(d)
        if d.attempts and d.status is not DeliveryStatus.RETRYING:  # retrying says them
            state += f"({page('delivery.attempts', attempts=d.attempts)})"
        rows.append(
            {
                "kind": chat_kind_words(d.channel),
                "name": d.address,
                "removed": page("delivery.chat_removed") if d.destination_id is None else "",
                "status": d.status.value,
                "failed": d.status is DeliveryStatus.FAILED,
                "state": state,
                "reason": chat_failure_words(d.failure) if d.failure is not None else "",
            }
        )
    return rows


def destination_flags(session: Session, number: str, now: dt.datetime) -> dict[int, str]:
    """Issue 19: a destinations page's flag, by slot: 「最近この送信先に送信できませんでした」
    and why (``store.delivery.recently_failed_destinations``, the last ``RECENT`` days)."""
    return {
        position: page(
            "delivery.destination_recently_failed", reason=chat_failure_words(failed.failure)
        )
        for position, failed in delivery.recently_failed_destinations(
            session, number, since=now - delivery.RECENT
        ).items()
    }


def address_flags(session: Session, number: str, now: dt.datetime) -> dict[int, str]:
    """The address page's flag, by slot: 「最近このアドレスに送信できませんでした」 and why."""
    return {
        failed.position: page("addresses.recently_failed", reason=failure_words(failed.failure))
        for failed in delivery.recently_failed(
            session, number, since=now - delivery.RECENT
        ).values()
    }
