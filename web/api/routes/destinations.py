"""API endpoints: the chat and webhook destinations of a number (issue 19, CHAT-1, CHAT-2).

``GET /numbers/{number}/destinations`` lists them (at most three, by
position), masked: a webhook URL keeps its host and no more of its path or
query, a Chatwork destination shows its room, and no token or signing
secret is ever returned. ``POST`` adds one in the first free position (201);
for a generic webhook the answer carries its signing secret, the only time
it is shown. ``PATCH /numbers/{number}/destinations/{position}`` sets the
send flag or the label, ``DELETE`` removes one (204), and
``POST .../{position}/rotate-secret`` makes a webhook's secret anew (shown
once); ``POST .../{position}/test`` posts the 送信テスト now (MAIL-2) and
says the receiver's answer. Every value goes through ``store.destinations`` (the URL rules of
``store.chat_urls``, with the node's ``[chat] allow_hosts``); writes need a
write token.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from store import destinations
from store.destinations import Shown
from store.models import ChatKind
from store.validation import (
    MAX_CHATWORK_ROOM,
    MAX_DESTINATION_LABEL,
    MAX_DESTINATION_SECRET,
    MAX_DESTINATION_URL,
    MAX_DESTINATIONS,
)
from web.api.deps import Reader, Writer
from web.api.problems import ApiProblem
from web.api.send_test import MAX_REPLY, Outcome, outcome
from web.deps import SendTestResult

router = APIRouter(tags=["destinations"])

NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]
PositionPath = Annotated[
    int, Path(ge=1, le=MAX_DESTINATIONS, description="The destination's position (1-3).")
]
Flag = Annotated[bool, Field(strict=True)]
# Bounded before the rules see them, loosely, so that the rules' own refusal
# (with its code: chat_url_too_long ...) answers a value just over the limit.
Url = Annotated[
    str,
    Field(
        max_length=MAX_DESTINATION_URL * 2,
        description=(
            f"https://, at most {MAX_DESTINATION_URL} characters of visible ASCII (an "
            "international name in its xn-- form), no user:password@, no #fragment, a public "
            "host; Slack: https://hooks.slack.com/services/...; Discord: "
            "https://discord.com/api/webhooks/<id>/<token>; Teams: a Workflows URL "
            "(*.logic.azure.com or *.powerplatform.com; the retired Office 365 connectors are "
            "refused); webhook: any such URL. Not for Chatwork."
        ),
    ),
]
Label = Annotated[
    str,
    Field(
        max_length=MAX_DESTINATION_LABEL * 4,
        description=f"The destination's own name: 0-{MAX_DESTINATION_LABEL} printable "
        "characters after trimming spaces.",
    ),
]


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChatKind
    url: Url | None = None
    room_id: str | None = Field(
        default=None,
        max_length=MAX_CHATWORK_ROOM * 2,
        description=f"Chatwork only: the room id, 1-{MAX_CHATWORK_ROOM} digits.",
    )
    token: str | None = Field(
        default=None,
        max_length=MAX_DESTINATION_SECRET * 2,
        description=f"Chatwork only: the room's API token, 16-{MAX_DESTINATION_SECRET} letters "
        "and digits. Stored, never returned.",
    )
    label: Label = ""
    send: Flag = True


class DestinationPatch(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    send: Flag | None = None
    label: Label | None = None


class DestinationOut(BaseModel):
    position: int
    kind: ChatKind
    # The label, else the kind's name (Slack, Microsoft Teams, Discord, Chatwork, Webhook).
    name: str
    label: str
    # Masked: the host and no credential ("https://hooks.slack.com/services/T0…/••••";
    # a Chatwork destination: "chatwork room 123").
    shown_url: str
    room_id: str | None
    send: bool
    # A generic webhook signed with its secret (Standard Webhooks).
    signed: bool
    # The last 送信テスト the receiver accepted.
    test_sent_at: dt.datetime | None

    @classmethod
    def of(cls, d: Shown) -> DestinationOut:
        return cls(
            position=d.position,
            kind=d.kind,
            name=d.name,
            label=d.label,
            shown_url=d.shown_url,
            room_id=d.room_id,
            send=d.send,
            signed=d.signed,
            test_sent_at=d.test_sent_at,
        )


class DestinationAdded(DestinationOut):
    # CHAT-2: a generic webhook's signing secret (whsec_...), returned this once; null
    # for the other kinds.
    secret: str | None


class DestinationsOut(BaseModel):
    number: str
    count: int
    max: int
    destinations: list[DestinationOut]


class ChatTestOut(BaseModel):
    position: int
    # sent; refused (for good: a 3xx or a 4xx but 408, 425, 429); deferred (those or a 5xx: the
    # outbox would try again); unreachable (no receiver answered: DNS, connect, timeout).
    outcome: Outcome
    accepted: bool
    permanent: bool
    # The receiver's answer ("HTTP 200 OK: ok"), or our side's error when none answered;
    # never the URL.
    reply: str


class ChatTestUnavailable(ApiProblem):
    """404, not 503: the operation is not offered by this node, and waiting will not change it."""

    status, code, title = 404, "send_test_unavailable", "this node has no sender for test notices"


class SecretOut(BaseModel):
    position: int
    # The new signing secret, returned this once; the previous one no longer verifies.
    secret: str


@router.get(
    "/numbers/{number}/destinations",
    summary="The number's chat and webhook destinations, masked (CHAT-1)",
)
def get_destinations(number: NumberPath, api: Reader) -> DestinationsOut:
    with api.read() as session:
        shown = destinations.destinations(session, number)
    return DestinationsOut(
        number=number,
        count=len(shown),
        max=MAX_DESTINATIONS,
        destinations=[DestinationOut.of(d) for d in shown],
    )


@router.post(
    "/numbers/{number}/destinations",
    status_code=201,
    summary="Add a chat or webhook destination (CHAT-1, CHAT-2)",
    description=(
        "In the first free position. A generic webhook's answer has its signing secret "
        "(``secret``), returned this once. 409 ``destination_duplicate`` for a URL or "
        "Chatwork room the number has; 422 ``destinations_full`` at "
        f"{MAX_DESTINATIONS}; 422 ``chat_url_*`` for a URL the rules refuse; 422 "
        "``not_subscribed`` without the mail service."
    ),
)
def add_destination(number: NumberPath, body: DestinationIn, api: Writer) -> DestinationAdded:
    with api.transaction() as session:
        added, secret = destinations.add_destination(
            session,
            number,
            body.kind,
            url=body.url,
            room_id=body.room_id,
            token=body.token,
            label=body.label,
            send=body.send,
            allow_hosts=api.deps.chat_allow_hosts,
            now=api.now(),
        )
    return DestinationAdded(**DestinationOut.of(added).model_dump(), secret=secret)


@router.patch(
    "/numbers/{number}/destinations/{position}",
    summary="Set a destination's send flag or label (CHAT-1, MAIL-2)",
)
def patch_destination(
    number: NumberPath, position: PositionPath, body: DestinationPatch, api: Writer
) -> DestinationOut:
    with api.transaction() as session:
        shown = destinations.destination_row(session, number, position)
        out = destinations.shown(shown)
        if body.label is not None:
            out = destinations.set_destination_label(session, number, position, body.label)
        if body.send is not None:
            out = destinations.set_destination_send(session, number, position, body.send)
    return DestinationOut.of(out)


@router.delete(
    "/numbers/{number}/destinations/{position}",
    status_code=204,
    summary="Remove a destination (CHAT-1)",
)
def delete_destination(number: NumberPath, position: PositionPath, api: Writer) -> Response:
    with api.transaction() as session:
        destinations.remove_destination(session, number, position)
    return Response(status_code=204)


@router.post(
    "/numbers/{number}/destinations/{position}/rotate-secret",
    summary="Make a generic webhook's signing secret anew (CHAT-2)",
    description="The new secret is returned this once. 422 ``destination_not_webhook`` for "
    "another kind.",
)
def rotate_secret(number: NumberPath, position: PositionPath, api: Writer) -> SecretOut:
    with api.transaction() as session:
        secret = destinations.rotate_secret(session, number, position)
    return SecretOut(position=position, secret=secret)


@router.post(
    "/numbers/{number}/destinations/{position}/test",
    summary="Send test: post a test notice to one destination now (MAIL-2)",
    description=(
        "Whatever its send flag (a new destination is tested before it is turned on). 200 "
        "whatever the receiver answered (``outcome``); accepted, its ``test_sent_at`` is "
        "stamped. 404 ``send_test_unavailable`` when this node has no sender for test notices; "
        "422 ``not_subscribed`` without the mail service."
    ),
)
def send_test_destination(number: NumberPath, position: PositionPath, api: Writer) -> ChatTestOut:
    send_test = api.deps.chat_send_test
    if send_test is None:
        raise ChatTestUnavailable()
    with api.read() as session:
        destinations.subscribed_destination(session, number, position)

    async def send() -> SendTestResult:
        return await send_test(number, position)

    # The sender runs on the server's event loop; this endpoint runs in a worker thread.
    result = anyio.from_thread.run(send)
    if result.ok:
        with api.transaction() as session:
            destinations.note_test_sent(session, number, position, now=api.now())
    return ChatTestOut(
        position=position,
        outcome=outcome(result),
        accepted=result.ok,
        permanent=result.permanent,
        reply=result.reply[:MAX_REPLY],
    )
