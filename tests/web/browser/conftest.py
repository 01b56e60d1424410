"""Fixtures of the browser tests: Debian's Chromium (one per module, driven by
Playwright), ``chakushin serve`` as a subprocess over a SQLite file of the
test's own, and a phone-sized page.

The serve process runs the site and the notifier's delivery worker (AMI
points nowhere: only mail matters here); its mails go to the in-process
aiosmtpd server of the ``smtp`` fixture, where a test reads them as the
subscriber would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from tests.builders import free_port
from tests.notifier.smtp_server import SmtpServer
from tests.ops.serve_process import ChakushinProcess, clean_env
from tests.web.browser.screens import PHONE, Shots
from tests.web.conftest import CONTRACT, EXTRA

CHROMIUM = "/usr/bin/chromium"

MISSING = shutil.which(CHROMIUM) is None
if MISSING and os.environ.get("CHAKUSHIN_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"{CHROMIUM} is missing and CHAKUSHIN_REQUIRE_BROWSER=1 (CI)")


@pytest.fixture(autouse=True, scope="module")
def _chromium_installed() -> None:
    if MISSING:
        pytest.skip(
            "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole module (each test has its own context)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at a phone's width, 375 px."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(10_000)  # a missing element fails in 10 s, not 30
    yield context.new_page()
    context.close()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A database of the test's own (one backend is enough: the HTTP tests cover both)."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'site.db'}")
    db.ensure_schema(engine)
    with db.transaction(db.session_factory(engine)) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
    yield db.session_factory(engine)
    engine.dispose()


@pytest.fixture
def site_env() -> dict[str, str]:
    """More CHAKUSHIN_ settings for the serve process; a test module may override this."""
    return {}


@pytest.fixture
def served(
    sessions: sessionmaker[Session], tmp_path: Path, smtp: SmtpServer, site_env: dict[str, str]
) -> Iterator[ChakushinProcess]:
    """``chakushin serve`` with the site and the mail worker (its events: ``wait_event``)."""
    env = clean_env(
        CHAKUSHIN_DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}",
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_SERVE_AGI="off",
        CHAKUSHIN_SITE_PORT="0",
        CHAKUSHIN_METRICS_ENABLED="off",
        CHAKUSHIN_AMI_PORT=str(free_port()),  # nobody there: only the mail worker matters
        CHAKUSHIN_MAIL_SMTP_HOST="127.0.0.1",
        CHAKUSHIN_MAIL_SMTP_PORT=str(smtp.port),
        CHAKUSHIN_MAIL_FROM_ADDRESS="chakushin@example.jp",
        CHAKUSHIN_LOG_FORMAT="json",
        **site_env,
    )
    serve = ChakushinProcess(["serve"], env, tmp_path)
    try:
        serve.wait_event("serve_ready")
        yield serve
        assert serve.terminate() == 0
    finally:
        serve.kill()


@pytest.fixture
def site_url(served: ChakushinProcess) -> str:
    return f"http://127.0.0.1:{served.wait_event('serve_ready')['site_port']}"


@pytest.fixture
def shots(page: Page, request: pytest.FixtureRequest) -> Shots:
    """The test's screenshots, under artifacts/screenshots/<module>/<test>/."""
    return Shots(page, request.node.name, request.module.__name__.rpartition(".")[2])
