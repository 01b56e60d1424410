"""Issue 19 (CHAT-3) attack, second round: credentials past ``hide`` in a receiver's answer.

``hide`` replaced the whole URL, path, query and secret only, and only after
``answer`` had cut the body to 200 characters and the reason to 60: an echo
cut in the middle, a JSON-escaped echo (PHP writes ``\\/``), a
percent-encoded one, or the signing key's base64 without ``whsec_`` went
into the reply whole or in part. Now every form of every credential is
hidden before anything is cut, and a credential's start left at the end of
what was read (the answer is read up to ``max_response_bytes``) goes too.
Each receiver here is a real HTTP peer on 127.0.0.1 answering 400.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import urllib.parse

import pytest

from notifier.webhooks import HttpSender, Target, WebhookSettings
from store.models import ChatKind
from tests.attack.raw_http import RawServer, Request

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
KEY = base64.b64encode(bytes(range(32))).decode()
SECRET = "whsec_" + KEY
PATH = "/in/HookS3cr3tPathHookS3cr3tPath"
QUERY = "sig=Q5ecretSignature0123456789"


def answering(body: bytes, reason: bytes = b"Bad Request") -> object:
    async def answer(
        request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = b"HTTP/1.1 400 " + reason + b"\r\nContent-Type: text/plain\r\n"
        writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    return answer


async def post(handler: object, body_of: object, *, max_bytes: int = 4096) -> tuple[str, str]:
    """The reply of a post whose receiver answers ``body_of(url)``; and the URL."""
    url_box: list[str] = []

    async def dispatch(
        request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await answering(*body_of(url_box[0]))(request, reader, writer)  # type: ignore[operator]

    async with RawServer(dispatch) as server:
        url_box.append(server.url(f"{PATH}?{QUERY}"))
        sending = HttpSender(
            WebhookSettings(
                timeout=2.0, allow_hosts=frozenset({"127.0.0.1"}), max_response_bytes=max_bytes
            ),
            clock=lambda: NOW,
        )
        try:
            result = await sending.post(
                Target(ChatKind.WEBHOOK, url_box[0], None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await sending.close()
    assert result.answered and result.reply.startswith("HTTP 400"), result.reply
    return result.reply, url_box[0]


def clean(reply: str) -> None:
    for part in ("S3cr3t", "Q5ecret", KEY[:12], KEY[-12:]):
        assert part not in reply, reply


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "echo",
    [
        pytest.param(lambda url: (b"e" * 150 + url.encode(),), id="cut-by-the-snippet"),
        pytest.param(lambda url: (url.replace("/", "\\/").encode(),), id="json-escaped"),
        pytest.param(lambda url: (urllib.parse.quote(url, safe="").encode(),), id="percent"),
        pytest.param(lambda url: (b"", b"Bad " + url.encode()), id="in-the-reason"),
        pytest.param(lambda url: (f"expected key {KEY}".encode(),), id="key-without-prefix"),
        pytest.param(lambda url: (f"path {PATH} query {QUERY}".encode(),), id="path-and-query"),
        pytest.param(
            lambda url: (f"got {urllib.parse.unquote(QUERY).split('=')[1]}".encode(),),
            id="query-value",
        ),
    ],
)
async def test_CHAT_3_attack_no_form_of_a_credential_reaches_the_reply(echo: object) -> None:
    reply, _ = await post(answering, echo)
    clean(reply)


@pytest.mark.asyncio
async def test_CHAT_3_attack_a_credential_cut_by_the_read_limit_leaves_no_start() -> None:
    """The answer is read up to max_response_bytes: the echo's start at the very end goes."""

    cut = 100 + len("http://127.0.0.1:65535") + 10  # inside the path: "/in/HookS3"

    def echo(url: str) -> tuple[bytes]:
        return (b"x" * 100 + url.encode(),)

    reply, _ = await post(answering, echo, max_bytes=cut)
    clean(reply)
    assert "/in/Hoo" not in reply and "HookS" not in reply, reply


@pytest.mark.asyncio
async def test_CHAT_3_attack_an_answer_without_credentials_is_kept_as_it_was() -> None:
    reply, _ = await post(answering, lambda url: (b"invalid_payload: text is required",))
    assert reply == "HTTP 400 Bad Request: invalid_payload: text is required"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/services/T0123ABCD/B0456EFGH/SlackS3cr3tToken0123", b"no_service"),
        ("/api/webhooks/123456789012345678/DiscordS3cr3t", b'{"message": "Unknown Webhook"}'),
        ("/workflows/0123/triggers/manual/paths/invoke", b"The workflow triggers are off"),
    ],
)
async def test_CHAT_3_a_services_own_words_stay_in_the_reply(path: str, answer: bytes) -> None:
    """The path's plain words (services, webhooks, workflows) are no credential: Slack's
    'no_service' stays 'no_service', not 'no_…' (what the operator reads in the history)."""

    async def dispatch(
        request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await answering(answer)(request, reader, writer)  # type: ignore[operator]

    async with RawServer(dispatch) as server:
        sending = HttpSender(
            WebhookSettings(timeout=2.0, allow_hosts=frozenset({"127.0.0.1"})), clock=lambda: NOW
        )
        try:
            result = await sending.post(
                Target(ChatKind.WEBHOOK, server.url(path), None, SECRET),
                "{}",
                "application/json",
                message_id="msg_1",
            )
        finally:
            await sending.close()
    assert result.reply == "HTTP 400 Bad Request: " + answer.decode()
