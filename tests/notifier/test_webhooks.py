"""Issue 19 (CHAT-2, CHAT-3): ``HttpSender`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
import pytest_asyncio

from notifier.outbox import SendResult
from notifier.webhooks import HttpSender, Target, WebhookSettings, public, retry_after
from store.models import ChatKind
from tests.builders import verified_webhook
from tests.notifier.http_server import HttpServer, Reply, closed_port

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
BODY = json.dumps({"type": "call.notified", "data": {"caller": {"number": None}}})
LOCAL = frozenset({"127.0.0.1"})


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def settings(allow: frozenset[str] = LOCAL, **changes: float) -> WebhookSettings:
    return WebhookSettings(
        timeout=float(changes.get("timeout", 5.0)),
        max_response_bytes=int(changes.get("max_response_bytes", 1024)),
        allow_hosts=allow,
    )


@pytest_asyncio.fixture
async def sender() -> AsyncIterator[HttpSender]:
    made = HttpSender(settings(), clock=lambda: NOW)
    yield made
    await made.close()


def webhook(url: str) -> Target:
    return Target(ChatKind.WEBHOOK, url, None, SECRET)


def slack(url: str) -> Target:
    return Target(ChatKind.SLACK, url, None, None)


async def post(sender: HttpSender, target: Target, message_id: str = "msg_1") -> SendResult:
    return await sender.post(target, BODY, "application/json", message_id=message_id)


@pytest.mark.asyncio
async def test_CHAT_3_a_2xx_is_delivered_once(server: HttpServer, sender: HttpSender) -> None:
    result = await post(sender, slack(server.url("/services/T0/B0/x")))
    assert (result.ok, result.reply) == (True, "HTTP 200 OK: ok")
    (request,) = server.requests
    assert (request.method, request.path, request.body) == (
        "POST",
        "/services/T0/B0/x",
        BODY.encode(),
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("chakushin/")


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503, 408, 425])
async def test_CHAT_3_5xx_is_temporary(server: HttpServer, sender: HttpSender, status: int) -> None:
    server.default = Reply(status, b"busy\r\nline two")
    result = await post(sender, slack(server.url()))
    assert not result.ok and not result.permanent and result.answered
    assert result.reply.startswith(f"HTTP {status} ") and result.reply.endswith(": busy | line two")


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_CHAT_3_other_4xx_give_up_with_the_answer(
    server: HttpServer, sender: HttpSender, status: int
) -> None:
    server.default = Reply(status, b"invalid_token")
    result = await post(sender, slack(server.url()))
    assert not result.ok and result.permanent and result.answered
    assert result.reply.startswith(f"HTTP {status} ") and result.reply.endswith(": invalid_token")
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_CHAT_3_429_carries_retry_after_in_seconds_or_as_a_date(
    server: HttpServer, sender: HttpSender
) -> None:
    later = email.utils.format_datetime(NOW + dt.timedelta(seconds=300), usegmt=True)
    server.script = [
        Reply(429, b"slow down", (("Retry-After", "120"),)),
        Reply(429, b"", (("Retry-After", later),)),
        Reply(429, b""),
    ]
    results = [await post(sender, slack(server.url())) for _ in range(3)]
    assert [(r.ok, r.permanent, r.retry_after) for r in results] == [
        (False, False, 120.0),
        (False, False, 300.0),
        (False, False, None),
    ]
    assert results[1].reply == "HTTP 429 Too Many Requests"


def test_CHAT_3_retry_after_parsing() -> None:
    assert retry_after("0", NOW) == 0.0
    assert retry_after(" 7 ", NOW) == 7.0
    past = email.utils.format_datetime(NOW - dt.timedelta(hours=1), usegmt=True)
    assert retry_after(past, NOW) == 0.0
    for junk in ("-5", "1.5", "soon", "9" * 11, "x" * 100, None):
        assert retry_after(junk, NOW) is None


@pytest.mark.asyncio
async def test_CHAT_3_a_redirect_is_not_followed(server: HttpServer, sender: HttpSender) -> None:
    server.default = Reply(302, b"", (("Location", server.url("/elsewhere")),))
    result = await post(sender, slack(server.url("/hook")))
    assert not result.ok and result.permanent
    assert result.reply == "HTTP 302 Found"
    assert server.paths() == ["/hook"]  # nothing asked at the Location


@pytest.mark.asyncio
async def test_CHAT_3_a_huge_answer_is_read_only_up_to_the_limit(server: HttpServer) -> None:
    size = 200 * 1024 * 1024
    server.default = Reply(200, body_size=size)
    sender = HttpSender(settings(max_response_bytes=1024), clock=lambda: NOW)
    try:
        result = await post(sender, slack(server.url()))
    finally:
        await sender.close()
    assert result.ok
    assert result.reply == "HTTP 200 OK: " + "x" * 200
    assert server.written < size  # the client hung up long before the end


@pytest.mark.asyncio
async def test_CHAT_3_a_slow_server_meets_the_timeout(server: HttpServer) -> None:
    server.default = Reply(200, hold=True)
    sender = HttpSender(settings(timeout=0.5), clock=lambda: NOW)
    try:
        result = await post(sender, slack(server.url()))
    finally:
        await sender.close()
        server.release.set()
    assert not result.ok and not result.permanent and not result.answered
    assert "Timeout" in result.reply.split(":")[0]


@pytest.mark.asyncio
async def test_CHAT_3_a_2xx_whose_body_stalls_is_still_delivered(server: HttpServer) -> None:
    """The status decides once it came: posting again would show the notice twice."""
    server.default = Reply(200, b"ok", stall_body=True)
    sender = HttpSender(settings(timeout=0.5), clock=lambda: NOW)
    try:
        result = await post(sender, slack(server.url()))
    finally:
        await sender.close()
        server.release.set()
    assert (result.ok, result.reply) == (True, "HTTP 200 OK: ok")


@pytest.mark.asyncio
async def test_CHAT_3_a_refused_connection_is_temporary_and_hides_the_url(
    sender: HttpSender,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/services/T0/B0/SECRETTOKEN"
    result = await post(sender, slack(url))
    assert not result.ok and not result.permanent and not result.answered
    assert result.reply.startswith("ConnectError: ")
    assert "SECRETTOKEN" not in result.reply


@pytest.mark.asyncio
async def test_CHAT_3_http_to_a_host_not_allowed_is_refused(server: HttpServer) -> None:
    sender = HttpSender(settings(allow=frozenset()), clock=lambda: NOW)
    try:
        result = await post(sender, webhook(server.url()))
    finally:
        await sender.close()
    assert not result.ok and result.permanent and not result.answered
    assert result.reply.startswith("refused: ")
    assert server.requests == []


class Names:
    """A resolver whose names the test chooses (the server itself is real)."""

    def __init__(self, **names: str) -> None:
        self.names = {name.replace("_", "."): [address] for name, address in names.items()}

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        return self.names.get(host, [host])


@pytest.mark.asyncio
async def test_CHAT_3_a_name_resolving_to_loopback_is_refused_unless_allowed(
    server: HttpServer,
) -> None:
    names = Names(hooks_example_com="127.0.0.1")
    https = f"https://hooks.example.com:{server.port}/hook"
    refusing = HttpSender(settings(allow=frozenset()), clock=lambda: NOW, resolver=names)
    allowing = HttpSender(
        settings(allow=frozenset({"hooks.example.com"})), clock=lambda: NOW, resolver=names
    )
    try:
        refused = await post(refusing, webhook(https))
        delivered = await post(allowing, webhook(server.url(host="hooks.example.com")))
    finally:
        await refusing.close()
        await allowing.close()
    assert not refused.ok and refused.permanent
    assert (
        refused.reply == "refused: hooks.example.com resolves to a non-public address (127.0.0.1)"
    )
    assert delivered.ok  # the connection went where the checked name resolved
    (request,) = server.requests
    assert request.headers["host"] == f"hooks.example.com:{server.port}"


@pytest.mark.parametrize(
    "hidden", ["64:ff9b::a00:1", "2002:7f00:1::1", "::a9fe:a9fe", "224.0.0.1", "ff0e::1"]
)
def test_CHAT_3_an_ipv4_inside_ipv6_and_multicast_are_not_public(hidden: str) -> None:
    assert not public(hidden)
    assert public("64:ff9b::808:808") and public("2002:808:808::1")  # NAT64, 6to4 of 8.8.8.8


@pytest.mark.asyncio
async def test_CHAT_3_an_answer_echoing_the_url_or_the_token_keeps_them_out(
    server: HttpServer, sender: HttpSender
) -> None:
    token = "ChatworkToken0123456789"
    server.script = [
        Reply(404, b"no hook at /services/T0/B0/SECRETPATH"),
        Reply(401, token.encode()),
    ]
    echoed = await post(sender, slack(server.url("/services/T0/B0/SECRETPATH")))
    assert echoed.reply.startswith("HTTP 404 Not Found: ") and "SECRETPATH" not in echoed.reply
    cw = WebhookSettings(timeout=5.0, allow_hosts=LOCAL, chatwork_api=server.url("/v2"))
    chatwork = HttpSender(cw, clock=lambda: NOW)
    try:
        refused = await chatwork.post(
            Target(ChatKind.CHATWORK, None, "1", token), "body=x", "text/plain", message_id="m"
        )
        bad = await chatwork.post(
            Target(ChatKind.CHATWORK, None, "1", token + "\r\nX-Injected: 1"),
            "body=x",
            "text/plain",
            message_id="m",
        )
    finally:
        await chatwork.close()
    assert refused.reply.startswith("HTTP 401 Unauthorized") and token not in refused.reply
    assert bad.permanent and bad.reply.startswith("refused: ") and token not in bad.reply
    assert len(server.requests) == 2  # the bad token never went out


@pytest.mark.asyncio
async def test_CHAT_3_a_host_no_idna_codec_takes_is_refused(sender: HttpSender) -> None:
    result = await post(sender, webhook("https://xn--zz.example.com/hook"))
    assert result.permanent and not result.answered and result.reply.startswith("refused: ")


def test_CHAT_3_public_addresses() -> None:
    assert public("8.8.8.8") and public("2001:4860:4860::8888")
    for hidden in (
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1%2",
    ):
        assert not public(hidden), hidden


@pytest.mark.asyncio
async def test_CHAT_2_the_webhook_is_signed_and_its_id_is_the_message_id(
    server: HttpServer, sender: HttpSender
) -> None:
    key = "msg_" + "a" * 32
    first = await post(sender, webhook(server.url()), message_id=key)
    again = await post(sender, webhook(server.url()), message_id=key)
    assert first.ok and again.ok
    for request in server.requests:
        assert request.headers["webhook-id"] == key
        assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
        assert verified_webhook(SECRET, request.body, request.headers, at=NOW) == json.loads(BODY)
    assert server.requests[0].headers["webhook-signature"].startswith("v1,")
    tampered = dict(server.requests[0].headers, **{"webhook-id": "msg_other"})
    with pytest.raises(Exception, match="No matching signature"):
        verified_webhook(SECRET, server.requests[0].body, tampered, at=NOW)


@pytest.mark.asyncio
async def test_CHAT_3_chatwork_posts_to_its_room_with_the_token(server: HttpServer) -> None:
    made = WebhookSettings(timeout=5.0, allow_hosts=LOCAL, chatwork_api=server.url("/v2"))
    sender = HttpSender(made, clock=lambda: NOW)
    token = "0123456789abcdef0123"
    try:
        result = await sender.post(
            Target(ChatKind.CHATWORK, None, "123456", token),
            "body=hello",
            "application/x-www-form-urlencoded",
            message_id="msg_1",
        )
    finally:
        await sender.close()
    assert result.ok
    (request,) = server.requests
    assert request.path == "/v2/rooms/123456/messages"
    assert request.headers["x-chatworktoken"] == token
    assert request.body == b"body=hello"
