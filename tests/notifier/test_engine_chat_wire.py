"""Issue 19 (CHAT-1, CHAT-2, MAIL-9, BOOK-2, MAIL-10): a decided call, over the wire.

The engine decides; the mail worker delivers to a real SMTP server (aiosmtpd)
and the chat worker posts to a real HTTP server on 127.0.0.1, on both
databases. What arrives agrees: the mail and every chat message name the
same caller, number, time and result; the webhook is signed with its
destination's secret under the webhook-id the engine keyed it with; a
withheld caller's digits and name reach no destination; a replay posts
nothing twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifier import mail
from notifier.chat_outbox import ChatDeliveryWorker
from notifier.engine import Notifier
from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from notifier.webhooks import HttpSender, WebhookSettings
from store import db, destinations, phonebook, service
from store.models import ChatKind, Presentation
from tests.builders import Clock, plain_text
from tests.notifier.chat_calls import CALLER, DECIDED, NAME, RECIPIENT, SENDER, SUBSCRIBER, record
from tests.notifier.http_server import HttpServer, Request
from tests.notifier.smtp_server import SmtpServer

LOCAL = ("127.0.0.1",)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


@pytest.fixture
def office(
    sessions: sessionmaker[Session], server: HttpServer
) -> tuple[sessionmaker[Session], str]:
    """SUBSCRIBER with a mail address, YAMADA in its book, and a webhook and Slack destination."""
    with db.transaction(sessions) as s:
        service.add_line(s, SUBSCRIBER, timezone="Asia/Tokyo")
        service.add_address(s, SUBSCRIBER, RECIPIENT)
        service.start_mail(s, SUBSCRIBER)
        phonebook.add_entry(s, SUBSCRIBER, CALLER, NAME)
        _, secret = destinations.add_destination(
            s, SUBSCRIBER, ChatKind.WEBHOOK, url=server.url("/hook"), allow_hosts=LOCAL, now=DECIDED
        )
        destinations.add_destination(
            s, SUBSCRIBER, ChatKind.SLACK, url=server.url("/slack"), allow_hosts=LOCAL, now=DECIDED
        )
    assert secret is not None
    return sessions, secret


async def deliver(sessions: sessionmaker[Session], smtp: SmtpServer, clock: Clock) -> int:
    """Run both workers until nothing is due; the notices posted."""
    mails = DeliveryWorker(sessions, [SmtpSender(SmtpSettings("127.0.0.1", smtp.port))], SENDER)
    while await mails.run_once():
        pass
    await mails.close()
    chats = ChatDeliveryWorker(
        sessions,
        HttpSender(WebhookSettings(timeout=5.0, allow_hosts=frozenset(LOCAL)), clock=clock),
        clock=clock,
        rng=random.Random(7),
    )
    posted = 0
    while done := await chats.run_once():
        posted += done
    await chats.close()
    return posted


def by_path(server: HttpServer, path: str) -> list[Request]:
    return [r for r in server.requests if r.path == path]


def signed(secret: str, request: Request) -> bool:
    """Standard Webhooks: base64 HMAC-SHA256 of "id.timestamp.body" with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    headers = request.headers
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split()


@pytest.mark.asyncio
async def test_CHAT_1_CHAT_2_MAIL_9_mail_and_chat_of_a_named_call_agree_on_the_wire(
    office: tuple[sessionmaker[Session], str], server: HttpServer, smtp: SmtpServer
) -> None:
    sessions, secret = office
    clock = Clock(DECIDED)
    engine = Notifier(sessions, templates=mail.Templates.load(), sender_address=SENDER, clock=clock)
    engine.decide([record()])
    assert await deliver(sessions, smtp, clock) == 2
    (received,) = smtp.inbox.messages
    assert received["Subject"] == "【着信お知らせメール】山田商事（0398765432）からの着信"
    mail_lines = plain_text(received).splitlines()
    assert "発信者：山田商事（0398765432）" in mail_lines

    (hook,) = by_path(server, "/hook")
    assert hook.headers["content-type"].startswith("application/json")
    assert hook.headers["webhook-id"] == service.chat_key("1763715845.42", _hook_id(sessions))
    assert signed(secret, hook)
    assert not signed("whsec_" + base64.b64encode(b"x" * 32).decode(), hook)
    assert hook.headers["webhook-timestamp"] == str(int(DECIDED.timestamp()))
    event: dict[str, Any] = json.loads(hook.body)
    data = event["data"]
    assert data["caller"] == {
        "number": CALLER,
        "presentation": "allowed",
        "label": CALLER,
        "name": NAME,
    }
    assert data["call_id"] == str(received["X-Chakushin-Call"])
    started = dt.datetime.fromisoformat(data["started_at"]).strftime(mail.TIME_FORMAT)
    assert f"着信日時：{started}" in mail_lines
    assert f"着信結果：{data['outcome_label']}" in mail_lines

    (slack,) = by_path(server, "/slack")
    text = json.loads(slack.body)["text"].splitlines()
    assert text == data["text"].splitlines()
    assert text[0] == received["Subject"]
    assert all(line in mail_lines for line in text[1:])


def _hook_id(sessions: sessionmaker[Session]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        (hook,) = [d for d in service.get_number(s, SUBSCRIBER).destinations if d.kind == "webhook"]
        return hook.id


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "presentation", [Presentation.WITHHELD, Presentation.PAYPHONE, Presentation.UNAVAILABLE]
)
async def test_MAIL_9_BOOK_2_a_withheld_caller_reaches_no_destination_with_digits_or_a_name(
    office: tuple[sessionmaker[Session], str],
    server: HttpServer,
    smtp: SmtpServer,
    presentation: Presentation,
) -> None:
    sessions, _ = office
    clock = Clock(DECIDED)
    engine = Notifier(sessions, templates=mail.Templates.load(), sender_address=SENDER, clock=clock)
    engine.decide([record(presentation=presentation, caller_number=CALLER)])
    assert await deliver(sessions, smtp, clock) == 2
    (received,) = smtp.inbox.messages
    assert CALLER.encode() not in received.as_bytes() and NAME not in plain_text(received)
    for request in server.requests:
        body = request.body.decode()
        for needle in (CALLER, NAME, urllib.parse.quote(NAME), json.dumps(NAME)[1:-1]):
            assert needle not in body, (request.path, needle)
    (hook,) = by_path(server, "/hook")
    caller = json.loads(hook.body)["data"]["caller"]
    assert caller["number"] is None and caller["name"] is None


@pytest.mark.asyncio
async def test_MAIL_10_a_replayed_call_posts_nothing_twice(
    office: tuple[sessionmaker[Session], str], server: HttpServer, smtp: SmtpServer
) -> None:
    sessions, _ = office
    clock = Clock(DECIDED)
    templates = mail.Templates.load()
    Notifier(sessions, templates=templates, sender_address=SENDER, clock=clock).decide([record()])
    assert await deliver(sessions, smtp, clock) == 2
    # A restart replays the call to a new notifier.
    clock.advance(minutes=5)
    Notifier(sessions, templates=templates, sender_address=SENDER, clock=clock).decide([record()])
    assert await deliver(sessions, smtp, clock) == 0
    assert sorted(server.paths()) == ["/hook", "/slack"]
    assert len(smtp.inbox.messages) == 1
