"""Issue 19 (CHAT-3, MAIL-10) attack: an answer whose status arrives and whose body does not.

The receiver has said 200 (it took the notice), then its body stalls
(Content-Length 1000, two bytes sent, the connection held open) or breaks
off (the peer closes). Before d57617a the whole request's timeout, or
httpx's RemoteProtocolError, made it a temporary failure: the outbox posted
the notice again and the channel got it twice, though the exactly-once
guarantee allows a repeat only when the process dies between the 2xx and
the commit; a 404 whose body stalled was retried until the deadline. Once
the status line and headers are in, the status is the answer; the body is
only the snippet, read as far as the time allows. Kept as a regression
guard (the cut-short case is not in tests/notifier/test_webhooks.py).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import pytest

from notifier.outbox import SendResult
from notifier.webhooks import HttpSender, Target, WebhookSettings
from store.models import ChatKind
from tests.attack.raw_http import Answer, RawServer, Request, hold

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SECRET = "whsec_" + base64.b64encode(bytes(32)).decode()


def stalling(status: str) -> Answer:
    async def answer(
        request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 1000\r\n\r\nok".encode())
        await writer.drain()
        await hold(reader)  # the rest never comes; the client closes

    return answer


async def post_to(status: str) -> tuple[RawServer, SendResult]:
    async with RawServer(stalling(status)) as server:
        sender = HttpSender(
            WebhookSettings(timeout=0.5, allow_hosts=frozenset({"127.0.0.1"})), clock=lambda: NOW
        )
        try:
            result = await sender.post(
                Target(ChatKind.WEBHOOK, server.url("/hook"), None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await sender.close()
    return server, result


@pytest.mark.asyncio
async def test_issue19_chat3_a_2xx_whose_body_stalls_is_delivered_not_retried() -> None:
    server, result = await post_to("200 OK")
    assert len(server.requests) == 1
    assert result.ok, result
    assert result.answered
    assert result.reply.startswith("HTTP 200 OK")


def cut_short(status: str) -> Answer:
    async def answer(
        request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 1000\r\n\r\nok".encode())
        # and the connection closes: the body is cut short

    return answer


@pytest.mark.asyncio
async def test_issue19_chat3_a_2xx_whose_body_is_cut_short_is_delivered_not_retried() -> None:
    async with RawServer(cut_short("200 OK")) as server:
        sender = HttpSender(
            WebhookSettings(timeout=2.0, allow_hosts=frozenset({"127.0.0.1"})), clock=lambda: NOW
        )
        try:
            result = await sender.post(
                Target(ChatKind.WEBHOOK, server.url("/hook"), None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await sender.close()
    assert result.ok and result.answered, result
    assert result.reply.startswith("HTTP 200 OK")


@pytest.mark.asyncio
async def test_issue19_chat3_a_404_whose_body_stalls_is_given_up() -> None:
    _, result = await post_to("404 Not Found")
    assert not result.ok and result.permanent, result
    assert result.reply.startswith("HTTP 404 Not Found")
