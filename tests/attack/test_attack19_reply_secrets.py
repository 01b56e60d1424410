"""Issue 19 (CHAT-3) attack: a receiver's answer or a stored token puts a credential in the reply.

The contract: ``SendResult.reply`` never holds the URL's secret path or a
token (the reply is stored in ``outbox_mail.last_error``, shown on the
site, the CLI, the API and logged by ``send_test_chat``). Two ways past it:

- the receiver echoes the request: Express's stock 404 is
  ``Cannot POST /hooks/<path>``, many gateways echo the token header back;
  ``notifier.webhooks.answer`` copies the body into the reply unfiltered;
- a Chatwork token a row holds that is not a valid header value (written
  around the store: the URL is re-checked on every attempt, the token is
  not): h11 quotes it in its error, whose ``repr`` form ``hide`` misses, and
  a non-ASCII one makes ``post`` raise instead of answering a result.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import pytest

from notifier.webhooks import HttpSender, Target, WebhookSettings
from store.models import ChatKind
from tests.attack.raw_http import RawServer, Request, reply

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SECRET = "whsec_" + base64.b64encode(bytes(32)).decode()
PATH_SECRET = "s3cr3tPathToken0123456789"
TOKEN = "ChatworkToken0123456789abcdef"


def sender(port: int = 0, timeout: float = 2.0) -> HttpSender:
    return HttpSender(
        WebhookSettings(
            timeout=timeout,
            allow_hosts=frozenset({"127.0.0.1"}),
            chatwork_api=f"http://127.0.0.1:{port}/v2",
        ),
        clock=lambda: NOW,
    )


async def echo_path(
    request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(reply("404 Not Found", f"Cannot POST {request.path}".encode()))


async def echo_token(
    request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    token = request.header("x-chatworktoken") or ""
    writer.write(reply("401 Unauthorized", f'{{"errors":["Invalid API token {token}"]}}'.encode()))


@pytest.mark.asyncio
async def test_issue19_chat3_a_404_echoing_the_url_path_keeps_it_out_of_the_reply() -> None:
    async with RawServer(echo_path) as server:
        posting = sender()
        try:
            result = await posting.post(
                Target(ChatKind.WEBHOOK, server.url(f"/hooks/{PATH_SECRET}"), None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await posting.close()
    assert result.answered and result.permanent
    assert result.reply.startswith("HTTP 404 Not Found")
    assert PATH_SECRET not in result.reply


@pytest.mark.asyncio
async def test_issue19_chat3_a_401_echoing_the_chatwork_token_keeps_it_out_of_the_reply() -> None:
    async with RawServer(echo_token) as server:
        posting = sender(server.port)
        try:
            result = await posting.post(
                Target(ChatKind.CHATWORK, None, "123", TOKEN),
                "body=x",
                "application/x-www-form-urlencoded",
                message_id="msg_1",
            )
        finally:
            await posting.close()
    assert server.requests[0].header("x-chatworktoken") == TOKEN  # it was sent
    assert result.answered and result.permanent
    assert result.reply.startswith("HTTP 401 Unauthorized")
    assert TOKEN not in result.reply


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "token", [TOKEN + "\r\nX-Injected: 1", TOKEN + "\x00", TOKEN + "é", TOKEN + " x"]
)
async def test_issue19_chat3_a_stored_token_that_breaks_the_rules_is_refused_not_leaked(
    token: str,
) -> None:
    """Checked again like the URL: refused (permanent), nothing sent, the token not repeated."""
    async with RawServer(echo_token) as server:
        posting = sender(server.port)
        try:
            result = await posting.post(
                Target(ChatKind.CHATWORK, None, "123", token),
                "body=x",
                "application/x-www-form-urlencoded",
                message_id="msg_1",
            )
        finally:
            await posting.close()
    assert server.requests == []
    assert not result.ok and result.permanent and not result.answered
    assert result.reply.startswith("refused: ")
    assert TOKEN not in result.reply
