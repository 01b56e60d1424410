"""MAIL-2 送信テスト of a chat/webhook destination, over HTTP at a real receiver (issue 19).

The site's 送信テスト posts one test message now through the node's own
sender (``bootstrap.chat_send_test``: notifier.chat's test message, the
kind's payload, notifier.webhooks' HTTP POST) to an HTTP server on
127.0.0.1 (allowed through ``chat.allow_hosts``). The page says the outcome
in words (accepted; refused or busy with the HTTP status; unreachable),
never the receiver's text or our side's error; it stamps the destination's
test time only when the receiver accepted. The tests are counted with the
mail's (``store.send_limits``). The generic webhook's signing secret
(CHAT-2) is shown once, after adding or making a new one, and signs the
test message as Standard Webhooks says.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from chakushin import bootstrap
from chakushin.config import SiteConfig
from notifier.outbox import SendResult
from store.models import ChatKind
from tests.delivery_chat import a_call_with_chats, chat_attempt
from tests.notifier.smtp_server import SmtpServer
from tests.web.chat_receiver import Receiver, receiving
from tests.web.conftest import EXTRA, START, Site
from tests.web.destinations_site import (
    PAGE,
    SECRET_PATH,
    a_slack,
    add,
    card,
    change,
    chat_config,
    chat_site,
    logged_in,
    stored,
)
from web.texts import page

pytestmark = pytest.mark.asyncio

SECRET = re.compile(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest_asyncio.fixture
async def site(
    site_line: sessionmaker[Session], smtp: SmtpServer, site_config: SiteConfig, receiver: Receiver
) -> AsyncIterator[Site]:
    # Chatwork's API root is the test's receiver too (CHAT-3: its host is allowed).
    config = chat_config(smtp, chatwork_api=receiver.url("/v2"))
    sender = bootstrap.chat_send_test(config, site_line)
    async with chat_site(site_line, smtp, site_config, chat_send_test=sender) as found:
        yield found


# --- CHAT-2: the signing secret, once ------------------------------------------------------


async def test_CHAT_2_the_webhook_secret_is_shown_once_and_signs_the_test_message(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    made = await add(site, kind="webhook", url=receiver.url("/hooks/chakushin"))
    assert made.status_code == 200, made.text
    secret = re.search(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>", made.text)
    assert secret, made.text
    assert page("destinations.secret_once", position=1) in made.text
    [row] = stored(site)
    assert row.secret == secret.group(1)
    again = await site.client.get(PAGE)
    assert secret.group(1) not in again.text and "whsec_" not in again.text
    # 送信テスト: the receiver verifies the body with the secret it was shown.
    tested = await change(site, 1, "test")
    assert tested.status_code == 200, tested.text
    [got] = receiver.wait_for(1)
    assert got.path == "/hooks/chakushin"
    headers = {k: got.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    event = Webhook(secret.group(1)).verify(got.body, headers)
    assert event["type"] == "test"
    assert page("destinations.test_sent", name="Webhook") in card(tested.text, 1)
    # A new secret: shown once, the old one no longer stored.
    rotated = await change(site, 1, "rotate")
    assert rotated.status_code == 200
    fresh = re.search(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>", rotated.text)
    assert fresh and fresh.group(1) != secret.group(1)
    assert page("destinations.secret_rotated", position=1) in rotated.text
    assert stored(site)[0].secret == fresh.group(1)
    assert "whsec_" not in (await site.client.get(PAGE)).text


# --- MAIL-2 送信テスト ----------------------------------------------------------------------


async def test_MAIL_2_CHAT_1_send_test_posts_slacks_documented_body_and_says_it_was_accepted(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    tested = await change(site, 1, "test")
    assert tested.status_code == 200, tested.text
    [got] = receiver.wait_for(1)
    assert got.path == SECRET_PATH
    assert got.headers["content-type"].startswith("application/json")
    body = json.loads(got.body)
    assert set(body) == {"text"} and EXTRA in body["text"]  # Slack's {"text": ...}
    own = card(tested.text, 1)
    assert page("destinations.test_sent", name="営業部") in own
    assert 'role="status"' in own
    assert stored(site)[0].test_sent_at is not None
    assert "最後に送信テストを受け付けた日時: 2026年11月22日 10:00" in own  # Asia/Tokyo
    assert stored(site)[0].send is False  # a test saves nothing


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "destinations.test_refused"), (503, "destinations.test_deferred")],
)
async def test_MAIL_2_a_refused_test_message_says_the_http_status_in_words(
    site: Site, receiver: Receiver, status: int, code: str
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    receiver.answers.append(status)
    tested = await change(site, 1, "test")
    assert tested.status_code == 200
    own = card(tested.text, 1)
    assert page(code, name="営業部", status=str(status)) in own
    assert "no_service" not in tested.text  # the receiver's own text: the log only
    assert stored(site)[0].test_sent_at is None


async def test_MAIL_2_an_unreachable_receiver_is_said_in_words_not_its_error(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    port = receiver.port
    with receiving() as gone:
        url = gone.url(SECRET_PATH)
    assert (await add(site, kind="slack", url=url)).status_code == 303
    tested = await change(site, 1, "test")
    own = card(tested.text, 1)
    result = own[own.index('id="destination_1-result"') :]
    assert page("destinations.test_unreachable", name="Slack") in result
    for leak in ("Connect", "Errno", "refused", "127.0.0.1"):
        assert leak not in result, leak
    assert receiver.port == port and receiver.received == []


@pytest.mark.parametrize("site_config", [SiteConfig(send_tests_per_number=2)])
async def test_MAIL_2_send_tests_of_destinations_are_limited_like_the_mails(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    for _ in range(2):
        assert (await change(site, 1, "test")).status_code == 200
    limited = await change(site, 1, "test")
    assert limited.status_code == 429
    assert "送信テストの回数が上限に達しました" in card(limited.text, 1)
    assert len(receiver.wait_for(2)) == 2


async def test_issue19_CHAT_3_a_destination_whose_notice_failed_is_flagged_until_a_test_is_accepted(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    [row] = stored(site)
    at = START - dt.timedelta(hours=1)
    a_call_with_chats(
        site.sessions,
        number=EXTRA,
        linkedid="gone.1",
        at=at,
        chats=[(row.id, ChatKind.SLACK, "営業部")],
    )
    gone = SendResult(False, permanent=True, reply="HTTP 404 Not Found: no_service")
    chat_attempt(site.sessions, {"営業部": gone}, at=at)
    shown = await site.client.get(PAGE)
    assert 'id="destination_1-failed"' in card(shown.text, 1)
    assert "no_service" not in shown.text  # the receiver's words: never on the page
    tested = await change(site, 1, "test")
    assert page("destinations.test_sent", name="営業部") in card(tested.text, 1)
    assert 'id="destination_1-failed"' not in tested.text


async def test_MAIL_2_CHAT_1_a_chatwork_send_test_posts_to_the_room_with_its_token(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    token = "a1B2c3D4e5F6g7H8i9J0"
    assert (await add(site, kind="chatwork", room_id="123456", token=token)).status_code == 303
    tested = await change(site, 1, "test")
    [got] = receiver.wait_for(1)
    assert got.path == "/v2/rooms/123456/messages"
    assert got.headers["x-chatworktoken"] == token
    assert got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(got.body.decode())["body"][0].startswith("[info]")
    assert page("destinations.test_sent", name="Chatwork") in card(tested.text, 1)
    assert token not in tested.text
