"""Issue 19 ("What must show"), in Chromium at 375 px against ``chakushin serve``:

a subscriber on a phone opens チャット通知設定 from the number's mail menu,
adds a Slack destination whose URL points at a real HTTP server on
127.0.0.1 (the operator allows that host: ``chat.allow_hosts``), presses its
送信テスト and reads that the receiver accepted it, while the server got
Slack's documented body (``{"text": ...}`` as JSON); then ticks 送信 and
saves. The page shows the URL masked, never its secret path.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import db, destinations
from store.models import AuthUnit, ChatDestination, ChatKind
from tests.web.browser.screens import Shots, decline_otp, first_login, press, set_temp_password
from tests.web.chat_receiver import Receiver, receiving
from tests.web.conftest import EXTRA, TEMP
from tests.web.steps import GOOD
from web.texts import page as text

SECRET_PATH = "/services/T0001/B0002/abcdefSECRETpart"
LONG_URL = (
    "https://notifications.branch-office.example.co.jp/" + "a" * 200 + "/webhook?key=" + "b" * 100
)
NOW = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def site_env() -> dict[str, str]:
    """The serve process may post to the test's receiver over http on 127.0.0.1 (CHAT-3)."""
    return {"CHAKUSHIN_CHAT_ALLOW_HOSTS": "127.0.0.1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def destinations_of(sessions: sessionmaker[Session]) -> list[tuple[ChatKind, str, bool, bool]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.scalars(select(ChatDestination).order_by(ChatDestination.position)).all()
        return [(r.kind, r.label, r.send, r.test_sent_at is not None) for r in rows]


def test_issue19_CHAT_1_MAIL_2_a_phone_adds_a_slack_destination_and_runs_its_send_test(
    page: Page,
    shots: Shots,
    site_url: str,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    # Two destinations already, of the longest kinds: the page must still fit a phone.
    with db.transaction(sessions) as s:
        destinations.add_destination(
            s,
            EXTRA,
            ChatKind.WEBHOOK,
            url=LONG_URL,
            label="基幹システム受付窓口用の通知先",
            now=NOW,
        )
        destinations.add_destination(
            s, EXTRA, ChatKind.CHATWORK, room_id="12345678901234567890", token="a" * 40, now=NOW
        )
    set_temp_password(sessions, EXTRA, EXTRA, AuthUnit.NUMBER, TEMP)
    first_login(page, site_url, EXTRA, TEMP, GOOD)
    decline_otp(page)
    assert page.viewport_size == {"width": 375, "height": 740}

    page.goto(f"{site_url}/numbers/{EXTRA}/mail")
    press(page, "チャット通知設定")
    shots.take(text("destinations.title"), number=EXTRA)
    main = page.locator("main")
    assert text("destinations.follows_mail") in main.inner_text()
    assert text("destinations.sends_slack") in main.inner_text()

    page.get_by_label("Slack", exact=True).check()
    page.fill("#label", "営業部")
    page.fill("#url", f"http://127.0.0.1:{receiver.port}{SECRET_PATH}")
    press(page, "追加")
    shots.take(text("destinations.title"), number=EXTRA)
    first = page.locator("#destination_3")
    assert text("destinations.heading", position=3, name="営業部") in first.inner_text()
    assert "abcdefSECRETpart" not in page.content()  # the URL's credential, masked

    first.get_by_role("button", name="送信テスト", exact=True).click()
    shots.take(text("destinations.title"), number=EXTRA)
    [got] = receiver.wait_for(1)
    assert got.path == SECRET_PATH
    assert got.headers["content-type"].startswith("application/json")
    body = json.loads(got.body)
    assert set(body) == {"text"} and EXTRA in body["text"]
    result = page.locator("#destination_3-result")
    assert result.inner_text() == text("destinations.test_sent", name="営業部")
    assert destinations_of(sessions)[2] == (ChatKind.SLACK, "営業部", False, True)

    # The seeds' order, as for an address: tested, then 送信 ticked and 設定.
    first = page.locator("#destination_3")
    first.get_by_label("送信", exact=True).check()
    first.get_by_role("button", name="設定", exact=True).click()
    shots.take(text("destinations.title"), number=EXTRA)
    assert text("destinations.saved", position=3) in page.locator("main").inner_text()
    assert destinations_of(sessions)[2] == (ChatKind.SLACK, "営業部", True, True)
    assert len(shots.files()) == 2 * shots.count
