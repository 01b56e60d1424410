"""The settings site in a real headless Chromium (Debian's chromium, driven by Playwright).

``chakushin serve`` runs as a subprocess with the site and the notifier's
delivery worker (AMI points nowhere: only mail matters here); its mails go
to an in-process aiosmtpd server, where the test reads the verification
link and the one-time password as the subscriber would. Each page is
saved as a screenshot under the test's temporary folder and its heading
checked.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import AuthUnit
from tests.builders import free_port, plain_text
from tests.notifier.smtp_server import SmtpServer
from tests.ops.serve_process import ChakushinProcess, clean_env
from tests.web.conftest import CONTRACT, EXTRA, TEMP
from tests.web.steps import GOOD, OTP_ADDRESS

CHROMIUM = "/usr/bin/chromium"

if shutil.which(CHROMIUM) is None:
    if os.environ.get("CHAKUSHIN_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing and CHAKUSHIN_REQUIRE_BROWSER=1 (CI)")
    pytestmark = pytest.mark.skip(
        reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
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
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A database of the test's own (one backend is enough: the HTTP tests cover both)."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'site.db'}")
    db.ensure_schema(engine)
    yield db.session_factory(engine)
    engine.dispose()


@pytest.fixture
def site_url(sessions: sessionmaker[Session], tmp_path: Path, smtp: SmtpServer) -> Iterator[str]:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
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
    )
    serve = ChakushinProcess(["serve"], env, tmp_path)
    try:
        ready = serve.wait_event("serve_ready")
        yield f"http://127.0.0.1:{ready['site_port']}"
        assert serve.terminate() == 0
    finally:
        serve.kill()


def set_temp_password(sessions: sessionmaker[Session], unit: AuthUnit) -> None:
    import datetime as dt

    with db.transaction(sessions) as s:
        service.set_temp_password(
            s,
            CONTRACT,
            CONTRACT,
            service.hash_temp_password(TEMP),
            unit,
            now=dt.datetime.now(dt.UTC),
        )


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page: Page, heading: str) -> None:
        """Check the page's heading, then save it as the next screenshot."""
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == heading, page.content()[:500]
        # Usable on a phone: at 375 px nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), heading
        self.count += 1
        name = re.sub(r"\W+", "-", heading).strip("-") or "page"
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def log_in(page: Page, url: str, number: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#number", number)
    page.fill("#password", password)
    page.click("button:has-text('ログイン')")


def set_first_password(page: Page, url: str) -> None:
    """SITE-2: log in with the temporary password, set GOOD, log in again with it."""
    log_in(page, url, CONTRACT, TEMP)
    page.fill("#current_password", TEMP)
    page.fill("#new_password", GOOD)
    page.fill("#confirm_password", GOOD)
    page.click("button:has-text('パスワード変更')")
    page.click("text=ログイン画面へ")
    log_in(page, url, CONTRACT, GOOD)


def test_SITE_2_first_login_forced_change_then_settings_home_and_logout(
    browser: Browser, site_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    set_temp_password(sessions, AuthUnit.LINE)
    shots = Shots(tmp_path)
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(f"{site_url}/login")
    shots.take(page, "ログイン")
    log_in(page, site_url, CONTRACT, TEMP)
    shots.take(page, "パスワード変更")
    assert "仮パスワードでログインしました" in page.content()
    page.fill("#current_password", TEMP)
    page.fill("#new_password", "12345678")
    page.fill("#confirm_password", "12345678")
    page.click("button:has-text('パスワード変更')")
    shots.take(page, "パスワード変更")
    assert page.locator(".error").count() >= 2  # every broken rule, next to the field
    page.fill("#current_password", TEMP)
    page.fill("#new_password", GOOD)
    page.fill("#confirm_password", GOOD)
    page.click("button:has-text('パスワード変更')")
    shots.take(page, "パスワードを変更しました")
    page.click("text=ログイン画面へ")
    log_in(page, site_url, CONTRACT, GOOD)
    shots.take(page, "ワンタイムパスワードの利用選択")
    page.click("button:has-text('ワンタイムパスワードを利用しない')")
    shots.take(page, "ワンタイムパスワードを利用しないことの確認")
    page.click("button:has-text('同意する')")
    shots.take(page, "設定メニュー")
    assert CONTRACT in page.content()
    # SITE-7/8 part 2 will fill this page; already it must fit a phone screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.click("header button:has-text('ログアウト')")
    shots.take(page, "ログイン")
    assert "ログアウトしました。" in page.content()
    page.goto(f"{site_url}/")
    shots.take(page, "ログイン")
    assert len(list(tmp_path.glob("*.png"))) == shots.count


def test_SITE_5_otp_login_with_the_code_from_the_mail(
    browser: Browser,
    site_url: str,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    set_temp_password(sessions, AuthUnit.NUMBER)
    shots = Shots(tmp_path)
    page = browser.new_page(viewport={"width": 375, "height": 740})
    set_first_password(page, site_url)
    shots.take(page, "ワンタイムパスワードの利用選択")
    page.click("button:has-text('ワンタイムパスワードを利用する')")
    shots.take(page, "ワンタイムパスワード受信用メールアドレスの登録")
    page.fill("#address", OTP_ADDRESS)
    page.fill("#confirmation_id", "abcDEF12")
    page.fill("#confirmation_password", "pass1234word")
    page.click("button:has-text('登録')")
    shots.take(page, "仮登録が完了しました")

    assert smtp.inbox.wait_for(1, 30), "the verification mail did not arrive"
    link_mail = smtp.inbox.messages[0]
    assert str(link_mail["To"]) == OTP_ADDRESS
    text = plain_text(link_mail)
    link = re.search(r"https?://\S+/otp/verify\?token=[A-Za-z0-9_-]+", text)
    assert link, text
    page.goto(link.group(0))
    shots.take(page, "ワンタイムパスワードの入力")
    page.click("button:has-text('ワンタイムパスワードを送信')")
    shots.take(page, "ワンタイムパスワードの入力")
    assert smtp.inbox.wait_for(2, 30), "the one-time password did not arrive"
    code_mail = smtp.inbox.messages[1]
    body = plain_text(code_mail)
    code = re.search(r"ワンタイムパスワード: (\d+)", body)
    assert code, body
    page.fill("#otp_code", code.group(1))
    page.click("form[action='/login/otp'] button")
    shots.take(page, "設定メニュー")
    page.click("header button:has-text('ログアウト')")
    shots.take(page, "ログイン")


def test_SITE_7_a_number_set_up_from_scratch_then_a_csv_upload(
    browser: Browser,
    site_url: str,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    set_temp_password(sessions, AuthUnit.LINE)
    shots = Shots(tmp_path)
    page = browser.new_page(viewport={"width": 375, "height": 740})
    set_first_password(page, site_url)
    page.click("button:has-text('ワンタイムパスワードを利用しない')")
    page.click("button:has-text('同意する')")
    shots.take(page, "設定メニュー")

    page.click("text=着信お知らせメールの設定")
    shots.take(page, "電話番号の選択")
    page.click(f"text={EXTRA}")
    shots.take(page, f"{EXTRA} 着信お知らせメール")
    assert "停止中" in page.content()

    # MAIL-2/3: two addresses, one without the send flag; then the send test.
    page.click("text=送信先メールアドレス設定")
    shots.take(page, "送信先メールアドレス設定")
    page.fill("#address_1", "taro@example.jp")
    page.fill("#address_2", "hanako@example.jp")
    page.uncheck("input[name=send_2]")
    page.click("button:has-text('設定')")
    shots.take(page, "送信先メールアドレス設定")
    assert "設定しました。" in page.content()
    page.click("button[name=test_row][value='1']:has-text('送信テスト')")  # taro's row
    shots.take(page, "送信先メールアドレス設定")
    assert "taro@example.jp への送信テスト: メールサーバが受け付けました" in page.content()
    assert smtp.inbox.wait_for(1, 30), "the test mail did not arrive"
    assert str(smtp.inbox.messages[0]["To"]) == "taro@example.jp"
    page.click("text=戻る")

    # MAIL-4: unanswered calls only.
    page.click("text=通知条件設定")
    shots.take(page, "通知条件設定")
    page.check("input[name=unanswered_only]")
    page.click("button:has-text('設定')")
    shots.take(page, f"{EXTRA} 着信お知らせメール")

    # MAIL-5: two designated numbers, the second with its flag off.
    page.click("text=指定番号設定")
    shots.take(page, "指定番号設定")
    page.fill("#caller_number_1", "0398765432")
    page.fill("#caller_number_2", "09012345678")
    page.uncheck("input[name=designated_2]")
    page.click("button:has-text('設定')")
    shots.take(page, "指定番号設定")
    page.click("text=戻る")

    # MAIL-1: start.
    page.click("button:has-text('サービスを開始')")
    shots.take(page, f"{EXTRA} 着信お知らせメール")
    assert "開始中" in page.content()
    page.click("text=着信履歴と通知結果")
    shots.take(page, "着信履歴と通知結果")

    # SITE-9: the OTP settings of both numbers by CSV.
    page.goto(f"{site_url}/otp/csv")
    shots.take(page, "ワンタイムパスワード各種一括設定")
    csv_file = tmp_path / "otp.csv"
    csv_file.write_bytes(
        (
            f'"{CONTRACT}","1","otp@example.jp","abcDEF12","pass1234word"\r\n'
            f'"{EXTRA}","0","","",""\r\n'
        ).encode()
    )
    page.set_input_files("#csv_file", str(csv_file))
    page.click("button:has-text('一括設定')")
    shots.take(page, "ワンタイムパスワード各種一括設定")
    assert "本登録のメールを送りました" in page.content()
    assert smtp.inbox.wait_for(2, 30), "the verification mail did not arrive"
    assert str(smtp.inbox.messages[1]["To"]) == "otp@example.jp"
    page.goto(f"{site_url}/bulk")
    shots.take(page, "一括設定")

    # What the pages did, read back from the database.
    with db.transaction(sessions, read_only=True) as s:
        mail = service.describe_number(service.get_number(s, EXTRA))["mail"]
        cred = service.get_number(s, CONTRACT).credential
        assert cred is not None and cred.otp_confirmation_id == "abcDEF12"
    assert mail["started"] is True
    assert [(a["address"], a["send"]) for a in mail["addresses"]] == [
        ("taro@example.jp", True),
        ("hanako@example.jp", False),
    ]
    assert (mail["designated_only"], mail["unanswered_only"]) == (False, True)
    assert [(d["caller_number"], d["designated"]) for d in mail["designated_numbers"]] == [
        ("0398765432", True),
        ("09012345678", False),
    ]
    assert len(list(tmp_path.glob("*.png"))) == shots.count
