"""Issue 19 (CHAT-1, CHAT-2): a number's chat and webhook destinations.

Besides its five addresses (MAIL-2) a number has up to ``MAX_DESTINATIONS``
destinations: a Slack, Microsoft Teams or Discord webhook, a Chatwork room
(posted with the room's API token) or the operator's own system (a generic
webhook, signed per Standard Webhooks with a secret made here). Each has a
send flag and a 送信テスト like an address, and belongs to the mail service:
writing them needs it subscribed (``service.subscribed``), as addresses do.

Every value is checked (``store.chat_urls``) before anything changes; the
caller's transaction holds the number locked. The URL, the token and the
signing secret are credentials: they are stored, never logged, and read
back only as ``Shown`` (masked), except the signing secret, which the
functions that make it return once.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Collection
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from store import chat_urls
from store.errors import AlreadyExists, InvalidInput, LimitExceeded, NotFound, RuleViolation
from store.models import ChatDestination, ChatKind, Number, Service
from store.service.lines import free_slot, get_number, subscribed
from store.validation import MAX_DESTINATIONS

log = structlog.get_logger("store")

# What a destination is called when it has no label of its own.
KIND_NAMES: dict[ChatKind, str] = {
    ChatKind.SLACK: "Slack",
    ChatKind.TEAMS: "Microsoft Teams",
    ChatKind.DISCORD: "Discord",
    ChatKind.CHATWORK: "Chatwork",
    ChatKind.WEBHOOK: "Webhook",
}
# Standard Webhooks: "whsec_" and the base64 of the key; 32 random bytes
# (HMAC-SHA256's block of strength) make 50 characters.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


@dataclass(frozen=True)
class Shown:
    """A destination as it may be shown: no token, no secret, the URL masked."""

    position: int
    kind: ChatKind
    label: str
    shown_url: str  # chat_urls.masked_url, or "chatwork room 123"
    send: bool
    test_sent_at: dt.datetime | None
    name: str  # shown_name: the label, else the kind's name
    room_id: str | None = None  # Chatwork's room id (not a secret)
    signed: bool = False  # a generic webhook with its signing secret


def shown_name(d: ChatDestination) -> str:
    """A destination's name in the history and the mail of its failures: label or kind."""
    return d.label or KIND_NAMES[ChatKind(d.kind)]


def shown(d: ChatDestination) -> Shown:
    kind = ChatKind(d.kind)
    if kind is ChatKind.CHATWORK:
        where = f"chatwork room {d.room_id}"
    else:
        where = chat_urls.masked_url(kind, d.url or "")
    return Shown(
        position=d.position,
        kind=kind,
        label=d.label,
        shown_url=where,
        send=d.send,
        test_sent_at=d.test_sent_at,
        name=shown_name(d),
        room_id=d.room_id if kind is ChatKind.CHATWORK else None,
        signed=kind is ChatKind.WEBHOOK and bool(d.secret),
    )


def new_secret() -> str:
    """CHAT-2: a generic webhook's signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def chat_kind(value: ChatKind | str, *, field: str = "kind") -> ChatKind:
    """A kind as typed (slack, teams, discord, chatwork, webhook), any case."""
    try:
        return ChatKind(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        raise InvalidInput(
            f"destination kind: one of {', '.join(k.value for k in ChatKind)}",
            code="destination_kind",
            field=field,
        ) from None


def destinations(session: Session, number: str) -> list[Shown]:
    """CHAT-1: the number's destinations in position order (NotFound for an unknown number)."""
    return [shown(d) for d in get_number(session, number).destinations]


def destination_row(session: Session, number: str, position: int) -> ChatDestination:
    """The stored destination at ``position`` (for its sender: URL and secret included)."""
    return _find(get_number(session, number), position)


def add_destination(
    session: Session,
    number: str,
    kind: ChatKind | str,
    *,
    url: str | None = None,
    room_id: str | None = None,
    token: str | None = None,
    label: str = "",
    send: bool = True,
    allow_hosts: Collection[str] = (),
    now: dt.datetime,
) -> tuple[Shown, str | None]:
    """CHAT-1: a destination in the first free of three slots.

    Returns it shown, and for a generic webhook its new signing secret
    (CHAT-2), which nothing shows again; None for the other kinds.
    """
    kind = chat_kind(kind)
    stored_url: str | None = None
    stored_room: str | None = None
    secret: str | None = None
    if kind is ChatKind.CHATWORK:
        if url:
            chat_urls.destination_url(kind, url)  # raises chat_url_not_wanted
        stored_room = chat_urls.chatwork_room(room_id or "")
        secret = chat_urls.chatwork_token(token or "")
    else:
        if room_id is not None or token is not None:
            raise InvalidInput(
                f"a {KIND_NAMES[kind]} destination takes a URL only, no room id or API token",
                code="destination_chatwork_only",
                field="room_id" if room_id is not None else "token",
            )
        stored_url = chat_urls.destination_url(kind, url or "", allow_hosts=allow_hosts)
    stored_label = chat_urls.destination_label(label)
    found = subscribed(session, number, Service.MAIL)
    for d in found.destinations:
        same_room = stored_room is not None and d.kind == kind and d.room_id == stored_room
        same_url = (
            stored_url is not None
            and d.url is not None
            and chat_urls.endpoint_key(d.url) == chat_urls.endpoint_key(stored_url)
        )
        if same_url or same_room:
            raise AlreadyExists(
                f"{number}: destination {d.position} already posts there",
                code="destination_duplicate",
                field="room_id" if same_room else "url",
                params={"position": d.position},
            )
    try:
        position = free_slot(
            [d.position for d in found.destinations],
            MAX_DESTINATIONS,
            f"{number}: already {MAX_DESTINATIONS} destinations (CHAT-1 allows at most "
            f"{MAX_DESTINATIONS}); remove one first",
        )
    except LimitExceeded as full:
        raise LimitExceeded(
            full.message, code="destinations_full", field="kind", params={"limit": MAX_DESTINATIONS}
        ) from None
    made = new_secret() if kind is ChatKind.WEBHOOK else None
    entry = ChatDestination(
        position=position,
        kind=kind,
        label=stored_label,
        url=stored_url,
        room_id=stored_room,
        secret=made or secret,
        send=send,
        created_at=now,
    )
    found.destinations.append(entry)
    session.flush()
    log.info("destination_added", number=number, position=position, kind=kind.value, send=send)
    return shown(entry), made


def remove_destination(session: Session, number: str, position: int) -> None:
    """CHAT-1: remove one; its queued messages fail as "destination removed" (C's worker)."""
    found = subscribed(session, number, Service.MAIL)
    entry = _find(found, position)
    found.destinations.remove(entry)
    session.flush()
    log.info("destination_removed", number=number, position=position, kind=entry.kind.value)


def set_destination_send(session: Session, number: str, position: int, send: bool) -> Shown:
    """MAIL-2 for a destination: its send flag."""
    found = subscribed(session, number, Service.MAIL)
    entry = _find(found, position)
    entry.send = send
    session.flush()
    log.info("destination_send_set", number=number, position=position, send=send)
    return shown(entry)


def set_destination_label(session: Session, number: str, position: int, label: str) -> Shown:
    stored = chat_urls.destination_label(label)
    found = subscribed(session, number, Service.MAIL)
    entry = _find(found, position)
    entry.label = stored
    session.flush()
    log.info("destination_label_set", number=number, position=position)
    return shown(entry)


def rotate_secret(session: Session, number: str, position: int) -> str:
    """CHAT-2: a generic webhook's new signing secret (the old one stops verifying), shown once."""
    found = subscribed(session, number, Service.MAIL)
    entry = _find(found, position)
    if entry.kind != ChatKind.WEBHOOK:
        raise RuleViolation(
            f"{number}: destination {position} is {KIND_NAMES[ChatKind(entry.kind)]}; "
            "only a generic webhook has a signing secret",
            code="destination_not_webhook",
            field="position",
        )
    entry.secret = new_secret()
    session.flush()
    log.info("destination_secret_rotated", number=number, position=position)
    return entry.secret


def subscribed_destination(session: Session, number: str, position: int) -> Shown:
    """The destination at ``position`` of a number with the mail service (MAIL-2: a
    送信テスト is of a destination that can get notices), shown."""
    return shown(_find(subscribed(session, number, Service.MAIL), position))


def note_test_sent(session: Session, number: str, position: int, *, now: dt.datetime) -> None:
    """MAIL-2: the receiver accepted a 送信テスト of this destination at ``now``."""
    found = subscribed(session, number, Service.MAIL)
    entry = _find(found, position)
    entry.test_sent_at = now
    session.flush()
    log.info("destination_test_noted", number=number, position=position)


def _find(found: Number, position: int) -> ChatDestination:
    for entry in found.destinations:
        if entry.position == position:
            return entry
    raise NotFound(
        f"{found.number}: no destination {position}",
        code="destination_not_found",
        field="position",
        params={"position": position},
    )
