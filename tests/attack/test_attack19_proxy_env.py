"""Issue 19 (CHAT-3) attack: proxies named in the environment are not used.

httpx reads HTTP_PROXY, HTTPS_PROXY and ALL_PROXY when ``trust_env`` is on;
a proxy would see every notice (and a Slack URL's secret path) and would
make the connection itself, past ``GuardedBackend``'s address check. Here
every proxy variable names a live peer on 127.0.0.1 that records what
reaches it: the notice goes straight to the receiver and the proxy gets
nothing (the sender's client and transport keep ``trust_env=False``).
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


async def accept(
    request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(reply("200 OK", b"ok"))


@pytest.mark.asyncio
async def test_issue19_chat3_proxy_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    async with RawServer(accept) as proxy, RawServer(accept) as receiver:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy.url(""))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        sender = HttpSender(
            WebhookSettings(timeout=2.0, allow_hosts=frozenset({"127.0.0.1"})), clock=lambda: NOW
        )
        try:
            result = await sender.post(
                Target(ChatKind.WEBHOOK, receiver.url("/hook"), None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await sender.close()
    assert result.ok
    assert proxy.requests == []
    (request,) = receiver.requests
    assert request.path == "/hook"
