"""MAIL-10: the one way a mail enters the outbox, for the notifier and the site alike.

A mail is queued in the same transaction as what caused it (a call's
decision, a verification link, a one-time password), so it is sent exactly
when that is stored. It is due at ``now``: the delivery worker compares the
stamp with the same injected clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from store.models import MailKind, OutboxMail


@dataclass(frozen=True)
class QueuedMessage:
    """One whole RFC 5322 message for one recipient, and the key that queues it once.

    Issue 19: a call's chat notice (``MailKind.CALL_CHAT``) is queued the same
    way: ``message`` is the payload's body, ``destination_id`` its
    destination, ``headers`` its Content-Type and kind (``message_id`` then
    is the dedup key, the ``webhook-id``).
    """

    dedup_key: str
    kind: MailKind
    recipient: str
    subject: str
    message: str
    message_id: str
    decision_id: int | None = None
    destination_id: int | None = None
    headers: Mapping[str, str] | None = None


def enqueue(session: Session, mails: Iterable[QueuedMessage], *, now: dt.datetime) -> None:
    """Add the mails to the outbox, due at ``now``, in the caller's transaction."""
    session.add_all(
        OutboxMail(
            dedup_key=mail.dedup_key,
            kind=mail.kind,
            decision_id=mail.decision_id,
            recipient=mail.recipient,
            destination_id=mail.destination_id,
            subject=mail.subject,
            body=mail.message,
            headers=(
                {"message_id": mail.message_id}
                if mail.headers is None
                else {**mail.headers, "message_id": mail.message_id}
            ),
            next_attempt_at=now,
            created_at=now,
        )
        for mail in mails
    )
