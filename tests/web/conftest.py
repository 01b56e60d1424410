"""Fixtures of the settings-site tests: the ASGI app over httpx, a clock the test moves."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap
from chakushin.config import Config, MailConfig, SiteConfig
from dialplan.config import IvrConfig
from notifier.outbox import SendResult
from store import db, service
from store.models import AuthUnit, MailKind, OutboxMail
from tests.builders import Clock, snapshot
from tests.notifier.smtp_server import SmtpServer
from web.app import SiteDeps, create_app
from web.ratelimit import LoginThrottle
from web.sessions import COOKIE

CONTRACT, EXTRA = "0312345678", "0312345679"
TEMP = "24681357"
START = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


@dataclass
class Site:
    client: httpx.AsyncClient
    clock: Clock
    sessions: sessionmaker[Session]
    throttle: LoginThrottle
    smtp: SmtpServer

    def state(self) -> dict[str, list[tuple[object, ...]]]:
        """Every row but the sessions' (each page view moves those): what a refusal keeps."""
        found = snapshot(self.sessions.kw["bind"])
        found.pop("site_session")
        return found

    async def csrf(self, path: str) -> str:
        page = await self.client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
        return found.group(1)

    async def login(self, number: str, password: str) -> httpx.Response:
        """Log in as a browser without a session would (a logged-in one is sent home)."""
        self.client.cookies.delete(COOKIE)
        token = await self.csrf("/login")
        return await self.client.post(
            "/login", data={"csrf_token": token, "number": number, "password": password}
        )

    async def post(
        self, path: str, data: dict[str, str], *, page: str | None = None
    ) -> httpx.Response:
        token = await self.csrf(page or path)
        return await self.client.post(path, data={"csrf_token": token, **data})

    def mails(self, kind: MailKind) -> list[tuple[str, str]]:
        """(recipient, plain text) of the outbox mails of ``kind``, oldest first."""
        with db.transaction(self.sessions, read_only=True) as s:
            rows = s.scalars(
                select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
            ).all()
            found = []
            for row in rows:
                message = email.message_from_string(row.body, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                part = message.get_body(("plain",))
                found.append((row.recipient, str(part.get_content()) if part else ""))
            return found

    def last_code(self) -> str:
        codes = re.findall(
            r"ワンタイムパスワード: (\d+)", self.mails(MailKind.ONE_TIME_PASSWORD)[-1][1]
        )
        assert codes, self.mails(MailKind.ONE_TIME_PASSWORD)[-1][1]
        return str(codes[0])

    def last_link_token(self) -> str:
        text = self.mails(MailKind.ADDRESS_VERIFICATION)[-1][1]
        found = re.search(r"/otp/verify\?token=([A-Za-z0-9_-]+)", text)
        assert found, text
        return found.group(1)

    def temp_password(self, caller: str, target: str, unit: AuthUnit, password: str = TEMP) -> None:
        with db.transaction(self.sessions) as s:
            service.set_temp_password(
                s, caller, target, service.hash_temp_password(password), unit, now=self.clock()
            )

    async def establish(
        self, caller: str, number: str, unit: AuthUnit, password: str
    ) -> httpx.Response:
        """Temporary password by phone, first login, forced change: ``password`` is set."""
        self.temp_password(caller, number, unit)
        first = await self.login(number, TEMP)
        assert first.status_code == 303 and first.headers["location"] == "/password", first.text
        changed = await self.post(
            "/password",
            {"current_password": TEMP, "new_password": password, "confirm_password": password},
        )
        assert changed.status_code == 200, changed.text
        return await self.decline_otp(number, password)

    async def decline_otp(self, number: str, password: str) -> httpx.Response:
        """SITE-5 (seeds P.7): the first real login asks about the one-time password: no."""
        chooser = await self.login(number, password)
        assert chooser.headers["location"] == "/otp/choice", chooser.text
        confirm = await self.post("/otp/choice", {"choice": "decline"})
        assert "同意する" in confirm.text
        done = await self.post("/otp/choice", {"choice": "decline", "agree": "1"})
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        return done


@pytest.fixture
def site_line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The site tests' line: CONTRACT, EXTRA, and one mail address on the contract number."""
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        service.add_address(s, CONTRACT, "boss@example.jp")
    return sessions


@pytest.fixture
def site_config() -> SiteConfig:
    """The [site] settings of the app under test; a test module may override this fixture."""
    return SiteConfig()


@pytest.fixture
def site_access_numbers() -> tuple[str, ...]:
    """IVR-1: the access numbers the site names (``ivr.access_numbers``, the shipped ones)."""
    return IvrConfig().access_numbers


@pytest_asyncio.fixture
async def site(
    site_line: sessionmaker[Session],
    smtp: SmtpServer,
    site_config: SiteConfig,
    site_access_numbers: tuple[str, ...],
) -> AsyncIterator[Site]:
    clock = Clock(START)
    throttle = LoginThrottle(limit=50, window=600, clock=lambda: clock().timestamp())
    config = Config(
        mail=MailConfig(
            smtp_host="127.0.0.1", smtp_port=smtp.port, from_address="chakushin@example.jp"
        )
    )

    async def send_test(number: str, address: str) -> SendResult:
        return await bootstrap.send_test(config, site_line)(number, address)

    app = create_app(
        SiteDeps(
            site_line,
            sender_address="chakushin@example.jp",
            clock=clock,
            throttle=throttle,
            send_test=send_test,
            config=site_config,
            access_numbers=site_access_numbers,
            sample_mail=bootstrap.sample_mail(config, bootstrap.load_templates(config)),
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Site(client, clock, site_line, throttle, smtp)
