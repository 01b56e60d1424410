"""Chat and webhook notices over HTTP (issue 19, CHAT-2, CHAT-3).

``HttpSender.post`` makes one POST to a destination and says how it went
as the mail's ``SendResult``, so the outbox (MAIL-10) retries and gives up
by the same rules:

- 2xx: delivered;
- 429 (its Retry-After, in seconds or as an HTTP date, honoured), 408, 425,
  5xx, a timeout, a refused or lost connection, a name that does not
  resolve: temporary, retried with backoff until the deadline;
- 3xx (redirects are never followed: a webhook that moved must be entered
  again) and every other 4xx: given up at once, the answer recorded.

What is posted where is checked on every attempt, not only when the
destination was saved: the URL by ``store.chat_urls.destination_url`` (https
only, each kind's host), and every address its host resolves to must be
public (``ipaddress.is_global``) unless the operator allows the host
(``chat.allow_hosts``). The check runs where the connection is made
(``GuardedBackend``), on the very address connected to, so a name that
resolves to a public address for the check and to 127.0.0.1 for the
connection cannot reach the notifier's own network.

A request has a timeout for all of it (connecting, sending, the answer)
and at most ``max_response_bytes`` of the answer are read. A reply
(``SendResult.reply``) never holds the URL's path or a token: both are
credentials.

The generic webhook (CHAT-2) is signed as Standard Webhooks says:
``webhook-id`` (the outbox row's dedup key, the same on every retry, so a
receiver drops a repeat), ``webhook-timestamp`` and ``webhook-signature``
(``v1,`` HMAC-SHA256 with the destination's ``whsec_`` secret), made by the
``standardwebhooks`` library that receivers verify with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import re
import secrets
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import structlog
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from notifier.chat import compose_test_chat, payload
from notifier.config import ChatConfig
from notifier.mail import Templates
from notifier.outbox import SendResult
from store import chat_urls, db, destinations, service
from store.errors import DomainError
from store.models import ChatDestination, ChatKind
from store.shown_text import one_line

log = structlog.get_logger("notifier.webhooks")

USER_AGENT = "chakushin/0.1 (+missed-call notices)"
SNIPPET = 200  # characters of an answer's body kept in the reply


@dataclass(frozen=True)
class WebhookSettings:
    timeout: float = 10.0
    max_response_bytes: int = 4096
    allow_hosts: frozenset[str] = frozenset()
    chatwork_api: str = "https://api.chatwork.com/v2"
    user_agent: str = USER_AGENT

    @classmethod
    def from_config(cls, chat: ChatConfig) -> WebhookSettings:
        return cls(
            timeout=chat.timeout_seconds,
            max_response_bytes=chat.max_response_bytes,
            allow_hosts=frozenset(chat.allow_hosts),
            chatwork_api=chat.chatwork_api,
        )


@dataclass(frozen=True)
class Target:
    """Where a notice goes: a destination's kind and credentials, read when it is sent."""

    kind: ChatKind
    url: str | None
    room_id: str | None
    secret: str | None = dataclasses.field(repr=False)

    @classmethod
    def of(cls, d: ChatDestination) -> Target:
        return cls(d.kind, d.url, d.room_id, d.secret)


class Refused(Exception):
    """Not posted: the destination breaks a rule (CHAT-3); permanent, nothing was sent."""


# --- where connections go ------------------------------------------------------------

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as the system's resolver gives them."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# CHAT-3: one judgement of addresses, the store's (a URL's literal at save) and the
# sender's (each address a name resolves to, at connect).
public = chat_urls.public_address


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the rules allow.

    The host is resolved here and the connection made to the address that
    was checked (TLS still names the host: httpcore passes the URL's host as
    the server name). A host in ``allow_hosts`` may be any address.
    """

    def __init__(self, allow_hosts: frozenset[str], resolver: Resolver) -> None:
        self.allow_hosts = allow_hosts
        self.resolver = resolver
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        if not chat_urls.host_allowed(host, self.allow_hosts):
            hidden = [a for a in addresses if not public(a)]
            if hidden:
                raise Refused(f"{host} resolves to a non-public address ({hidden[0]})")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over ``GuardedBackend``; no proxy from the environment."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


# --- the answer ------------------------------------------------------------------------

TEMPORARY = frozenset({408, 425, 429})
MAX_RETRY_AFTER_TEXT = 64


def retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After (RFC 9110): seconds, or an HTTP date; None when absent or unreadable."""
    if value is None or len(value) > MAX_RETRY_AFTER_TEXT:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,10}", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def answer(
    code: int,
    reason: str,
    body: bytes,
    headers: httpx.Headers,
    now: dt.datetime,
    conceal: Callable[[str, bool], str] = lambda text, _cut: text,
    *,
    cut: bool = False,
) -> SendResult:
    """The ``SendResult`` of an HTTP answer (the reply format of issue 19's contract).

    ``conceal`` takes the credentials out of the body and the reason whole,
    before either is cut to its length (a cut echo is no longer the
    credential it started as).
    """
    text = one_line(conceal(body.decode("utf-8", "replace").strip(), cut), SNIPPET)
    reply = f"HTTP {code} {one_line(conceal(reason, False), 60)}".rstrip()
    reply += f": {text}" if text else ""
    if 200 <= code < 300:
        return SendResult(True, reply=reply)
    if code in TEMPORARY or code >= 500:
        wait = retry_after(headers.get("retry-after"), now) if code in (429, 503) else None
        return SendResult(False, reply=reply, retry_after=wait)
    return SendResult(False, permanent=True, reply=reply)  # 3xx (never followed), other 4xx


# --- the sender ---------------------------------------------------------------------------


class HttpSender:
    """Posts notices with one ``httpx.AsyncClient`` (its connections shared by every post)."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._client = httpx.AsyncClient(
            transport=transport or GuardedTransport(GuardedBackend(settings.allow_hosts, resolver)),
            follow_redirects=False,
            timeout=settings.timeout,
            trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "identity"},
        )

    def url(self, target: Target) -> str:
        """The URL to post to, checked again now (CHAT-3); ``Refused`` if it breaks a rule."""
        if target.kind is ChatKind.CHATWORK:
            if not target.room_id or not target.secret:
                raise Refused("chatwork destination without a room or a token")
            try:
                room = chat_urls.chatwork_room(target.room_id)
                chat_urls.chatwork_token(target.secret)  # a header: no CR, LF or NUL goes out
            except DomainError:
                raise Refused("chatwork room id or API token breaks the rules") from None
            return f"{self.settings.chatwork_api.rstrip('/')}/rooms/{room}/messages"
        if not target.url:
            raise Refused("destination without a URL")
        try:
            return chat_urls.destination_url(
                target.kind, target.url, allow_hosts=self.settings.allow_hosts
            )
        except DomainError as exc:
            raise Refused(exc.message) from None

    def headers(
        self, target: Target, body: str, content_type: str, message_id: str
    ) -> dict[str, str]:
        if not (content_type.isascii() and content_type.isprintable()) or len(content_type) > 100:
            raise Refused("the notice's content type is not a header value")
        headers = {"Content-Type": content_type}
        if target.kind is ChatKind.CHATWORK:
            headers["X-ChatWorkToken"] = target.secret or ""
        elif target.kind is ChatKind.WEBHOOK:
            if not target.secret:
                raise Refused("webhook destination without a signing secret")
            now = self.clock().astimezone(dt.UTC)
            try:
                signature = Webhook(target.secret).sign(message_id, now, body)
            except (ValueError, RuntimeError, EmptyWebhookSecretError) as exc:  # not base64
                raise Refused(f"the signing secret is not usable ({type(exc).__name__})") from None
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = signature
        return headers

    async def post(
        self, target: Target, payload_body: str, content_type: str, *, message_id: str
    ) -> SendResult:
        """One POST of ``payload_body`` (UTF-8) to ``target``; see the module's rules.

        Once the answer's status line has come, that status decides, even if
        its body then stalls or breaks off: a receiver that said 200 has the
        notice, and posting it again would show it twice.
        """
        response: httpx.Response | None = None
        body = bytearray()
        try:
            url = self.url(target)
            headers = self.headers(target, payload_body, content_type, message_id)
            async with asyncio.timeout(self.settings.timeout):
                request = self._client.stream(
                    "POST", url, content=payload_body.encode("utf-8"), headers=headers
                )
                async with request as response:
                    await self._read(response, body)
        except Refused as exc:
            return SendResult(False, permanent=True, reply=f"refused: {exc}", answered=False)
        except (
            httpx.InvalidURL,
            httpx.UnsupportedProtocol,
            httpx.LocalProtocolError,
            UnicodeError,
        ) as exc:
            # Nothing a retry changes (a host no IDNA codec takes, a header httpx refuses).
            reply = f"refused: the request cannot be made ({type(exc).__name__})"
            return SendResult(False, permanent=True, reply=reply, answered=False)
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            if response is None:
                return SendResult(False, reply=self._unanswered(exc, target), answered=False)
        result = answer(
            response.status_code,
            response.reason_phrase,
            bytes(body),
            response.headers,
            self.clock(),
            # A receiver may echo the URL or the token it was given: they stay out of the record.
            conceal=lambda text, cut: hide(text, target, cut=cut),
            cut=len(body) >= self.settings.max_response_bytes,
        )
        return result

    def _unanswered(self, exc: BaseException, target: Target) -> str:
        if isinstance(exc, TimeoutError):
            return f"TimeoutError: no answer within {self.settings.timeout:g} s"
        return hide(f"{type(exc).__name__}: {exc}", target)

    async def _read(self, response: httpx.Response, data: bytearray) -> None:
        """At most ``max_response_bytes`` of the answer into ``data``; the rest is never read."""
        limit = self.settings.max_response_bytes
        async for chunk in response.aiter_raw():
            data += chunk[: limit - len(data)]
            if len(data) >= limit:
                break

    async def close(self) -> None:
        await self._client.aclose()


# A path segment or query value this long is a credential's part on its own, unless it is
# a plain word (services, webhooks, workflows: lower-case letters and hyphens).
_SECRET_PART = 8
_PLAIN_WORD = re.compile(r"[a-z-]+")
# A credential's first characters this many or more, at the end of an answer cut by the
# read limit (``max_response_bytes``), are its start.
_SECRET_START = 4


def credentials(target: Target) -> list[str]:
    """Every form in which ``target``'s credentials may come back, longest first: the URL,
    its path, query, long segments and values but plain words, the token or signing secret
    (and its key without ``whsec_``), each as given, JSON-escaped (``\\/``),
    percent-decoded and percent-encoded."""
    found = [target.secret or ""]
    if target.secret and target.secret.startswith("whsec_"):
        found.append(target.secret.removeprefix("whsec_"))
    if target.url:
        parts = urllib.parse.urlsplit(target.url)
        found += [target.url, parts.path, parts.query]
        pieces = re.split(r"[/&=;]", f"{parts.path}&{parts.query}")
        found += [p for p in pieces if not _PLAIN_WORD.fullmatch(urllib.parse.unquote(p))]
    forms: set[str] = set()
    for text in found:
        forms |= {
            text,
            text.replace("/", "\\/"),
            urllib.parse.unquote(text),
            urllib.parse.quote(text, safe=""),
        }
    return sorted((f for f in forms if len(f) >= _SECRET_PART), key=len, reverse=True)


def hide(text: str, target: Target, *, cut: bool = False) -> str:
    """``text`` without the destination's URL path, query or token (they are credentials),
    in any of their forms; with ``cut`` (the text ends where reading stopped) also the
    start of one at its end."""
    forms = credentials(target)
    for secret in forms:
        text = text.replace(secret, "…")
    if not cut:
        return text
    for secret in forms:
        for size in range(min(len(secret), len(text)), _SECRET_START - 1, -1):
            if text.endswith(secret[:size]):
                return text[:-size] + "…"
    return text


# --- MAIL-2 送信テスト for a destination -----------------------------------------------------


def probe_message_id() -> str:
    """A 送信テスト's ``webhook-id``: each test its own message."""
    return "msg_test_" + secrets.token_hex(12)


async def send_test_chat(
    sessions: sessionmaker[Session],
    number: str,
    position: int,
    *,
    templates: Templates,
    sender: HttpSender,
    now: dt.datetime,
) -> SendResult:
    """MAIL-2 for a destination: the test notice posted now, not through the outbox.

    Like ``notifier.app.send_test_mail``; it stamps nothing (the caller
    stamps ``test_sent_at`` when the receiver accepted it).
    """
    with db.transaction(sessions, read_only=True) as session:
        target = Target.of(destinations.destination_row(session, number, position))
        timezone = service.get_number(session, number).timezone
    content = compose_test_chat(number, templates=templates, now=now, timezone=timezone)
    body = payload(target.kind, content)
    result = await sender.post(target, body.body, body.content_type, message_id=probe_message_id())
    log.info(
        "test_chat", number=number, position=position, accepted=result.ok, reply=result.reply[:200]
    )
    return result
