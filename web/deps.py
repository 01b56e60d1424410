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
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

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
    def reply(self) -> str: ...

    @property
    def answered(self) -> bool:
        """False: no server answered; ``reply`` is then our side's error text, for logs only."""
        ...


# MAIL-2 送信テスト: (number, address) -> what the mail server answered.
SendTest = Callable[[str, str], Awaitable[SendTestResult]]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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

    def __post_init__(self) -> None:
        self.store = SessionStore(self.sessions, self.clock)
        # Login attempts by result (OPS-4 metrics): ok, refused, invalid, throttled.
        self.logins: Counter[str] = Counter()
