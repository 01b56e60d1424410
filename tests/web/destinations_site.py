"""The destinations page's test site and steps (issue 19, CHAT-1), for its test modules.

``chat_site`` is the settings site of tests/web/conftest.py with
``chat.allow_hosts = ["127.0.0.1"]``, so a destination may point at the
test's own HTTP receiver (tests/web/chat_receiver.py), and 送信テスト of
destinations through the sender it is given (the send tests give the real
one, ``bootstrap.chat_send_test``). The steps post the
page's forms as a browser does (CSRF token and the destination's handle
read from the page).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chakushin.config import ChatConfig, Config, MailConfig, SiteConfig
from store import db
from store.models import AuthUnit, ChatDestination, Number
from tests.builders import Clock
from tests.notifier.smtp_server import SmtpServer
from tests.web.chat_receiver import Receiver
from tests.web.conftest import EXTRA, START, Site
from tests.web.steps import GOOD
from web.app import SiteDeps, create_app
from web.deps import ChatSendTest
from web.ratelimit import LoginThrottle

PAGE = f"/numbers/{EXTRA}/destinations"
CHANGE = f"{PAGE}/change"
# A Slack-like path: its secret part must never be on a page.
SECRET_PATH = "/services/T0001/B0002/abcdefSECRETpart"


def chat_config(smtp: SmtpServer, *, chatwork_api: str = "") -> Config:
    """The node's config the site's senders are made from: the receiver's host allowed
    (and ``chatwork_api``, Chatwork's API root, pointed at it when given)."""
    chat = ChatConfig(allow_hosts=("127.0.0.1",), timeout_seconds=5.0)
    return Config(
        mail=MailConfig(
            smtp_host="127.0.0.1", smtp_port=smtp.port, from_address="chakushin@example.jp"
        ),
        chat=dataclasses.replace(chat, chatwork_api=chatwork_api) if chatwork_api else chat,
    )


@asynccontextmanager
async def chat_site(
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
    site_config: SiteConfig,
    *,
    chat_send_test: ChatSendTest | None = None,
) -> AsyncIterator[Site]:
    """The site over ``sessions``; ``chat_send_test``: the destinations' 送信テスト, if any."""
    clock = Clock(START)
    throttle = LoginThrottle(limit=50, window=600, clock=lambda: clock().timestamp())
    app = create_app(
        SiteDeps(
            sessions,
            sender_address="chakushin@example.jp",
            clock=clock,
            throttle=throttle,
            config=site_config,
            chat_send_test=chat_send_test,
            chat_allow_hosts=chat_config(smtp).chat.allow_hosts,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Site(client, clock, sessions, throttle, smtp)


def stored(site: Site, number: str = EXTRA) -> list[ChatDestination]:
    """The number's destination rows as stored, by position."""
    with db.transaction(site.sessions, read_only=True) as s:
        rows = s.scalars(
            select(ChatDestination)
            .join(Number)
            .where(Number.number == number)
            .order_by(ChatDestination.position)
        ).all()
        for row in rows:
            s.expunge(row)
        return list(rows)


def card(html: str, position: int) -> str:
    """The HTML of one destination's card."""
    start = html.index(f'id="destination_{position}"')
    return html[start : html.index("</section>", start)]


def handle_of(html: str, position: int) -> str:
    found = re.search(r'name="handle" value="([0-9a-f]+)"', card(html, position))
    assert found, card(html, position)
    return found.group(1)


def csrf_of(html: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html[:300]
    return token.group(1)


async def add(site: Site, **fields: str) -> httpx.Response:
    """The add form, sent with ``fields``."""
    return await site.post(PAGE, fields)


async def change(site: Site, position: int, action: str, **fields: str) -> httpx.Response:
    """A button of the destination's card (設定, 送信テスト, 削除, rotate), as the page names it."""
    shown = await site.client.get(PAGE)
    return await site.client.post(
        CHANGE,
        data={
            "csrf_token": csrf_of(shown.text),
            "position": str(position),
            "handle": handle_of(shown.text, position),
            "action": action,
            **fields,
        },
    )


async def logged_in(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)


async def a_slack(site: Site, receiver: Receiver, *, send: bool = False) -> None:
    """Slot 1: a Slack destination named 営業部 posting to the receiver."""
    fields = {"kind": "slack", "url": receiver.url(SECRET_PATH), "label": "営業部"}
    done = await add(site, **fields, **({"send": "1"} if send else {}))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{PAGE}?added=1"
