"""What the settings site is given by its entry point: ``SiteDeps`` (no globals).

``web.app`` re-exports it next to ``create_app``; it lives here, under the
page modules, so that they can name it without importing ``web.app`` (which
imports them: issue 13, no import circle).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sqlalchemy.orm import Session, sessionmaker

from dialplan.config import CallConfig
from web.config import SiteConfig
from web.ratelimit import LoginThrottle
from web.sessions import SessionStore


class SendTestResult(Protocol):
    """MAIL-2 送信テスト: what the mail server answered one test mail.

    The site reads only these; ``notifier.outbox.SendResult`` has them, so
    the entry point passes the notifier's sender in unchanged and ``web/``
    does not import ``notifier`` to name the type.
    """

    @property
    def ok(self) -> bool: ...

    @property
    def permanent(self) -> bool:
        """True: the server refused for good (5xx, e.g. no such mailbox); False: try later."""
        ...

    @property
    def reply(self) -> str:
        """The server's reply, for logs only: the page says the outcome in words (issue 14)."""
        ...

    @property
    def answered(self) -> bool:
        """False: no server answered; ``reply`` is then our side's error text, for logs only."""
        ...


SendTestOutcome = Literal["sent", "refused", "deferred", "unreachable"]


def send_test_outcome(result: SendTestResult) -> SendTestOutcome:
    """MAIL-2: what became of a 送信テスト: sent; refused (for good); deferred (the outbox
    would try again); unreachable (no server answered). The site says it in words, the
    API as this word."""
    if result.ok:
        return "sent"
    if not result.answered:
        return "unreachable"
    return "refused" if result.permanent else "deferred"


# MAIL-2 送信テスト: (number, address) -> what the mail server answered.
SendTest = Callable[[str, str], Awaitable[SendTestResult]]
# Issue 19 (CHAT-1, MAIL-2): (number, destination position) -> what the receiver answered
# (``reply`` "HTTP <code> <reason>: ..." when it answered, as notifier.webhooks says).
ChatSendTest = Callable[[str, int], Awaitable[SendTestResult]]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class SampleMail:
    """MAIL-9: a notification mail as the operator's templates write it, with sample values.

    Made by the entry point from the templates the notifier sends with, for
    the help page's 「着信お知らせメールのイメージ」 (issue 14).
    """

    sender: str
    subject: str
    body: str
    # The sender's domain, for subscribers to allow (受信指定ドメイン).
    domain: str = ""


@dataclass
class SiteDeps:
    """What the site needs, made by the entry point (no globals)."""

    sessions: sessionmaker[Session]
    sender_address: str
    clock: Callable[[], dt.datetime] = field(default=_utc_now)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    send_test: SendTest | None = None
    # Cookies get Secure when the request came over TLS (directly or as a
    # trusted proxy's X-Forwarded-Proto says, see web.proxy); True forces it.
    always_secure_cookies: bool = False
    # The [site] settings: public_url, trusted_proxies, the limits of issue 12.
    config: SiteConfig = field(default_factory=SiteConfig)
    # IVR-1: the numbers to dial for a temporary password (``ivr.access_numbers``),
    # named on the login and help pages; empty: they say to ask the operator.
    access_numbers: tuple[str, ...] = ()
    # MAIL-9: what the notification mail looks like (the help page); None: not shown.
    sample_mail: SampleMail | None = None
    # CALL-2: what subscribers dial, then 2, to list the last caller
    # (``call.nuisance_feature_code``), named on the nuisance page.
    nuisance_feature_code: str = CallConfig.nuisance_feature_code
    # Issue 19 (CHAT-1): 送信テスト of a chat/webhook destination; None: not offered.
    chat_send_test: ChatSendTest | None = None
    # CHAT-3: hosts a destination URL may name over http:// (``chat.allow_hosts``, tests).
    chat_allow_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.store = SessionStore(self.sessions, self.clock)
        # Login attempts by result (OPS-4 metrics): ok, refused, invalid, throttled.
        self.logins: Counter[str] = Counter()
