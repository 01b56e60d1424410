"""The seeds' click order in Chromium, the mails read at the SMTP server (issue 14,
"What must show"):

- the address page (seeds P.9): type an address in an empty row → 送信テスト →
  the test mail arrives and the page says so in Japanese, the typed values
  still there → tick 送信 → 設定 → saved (MAIL-2, MAIL-3, issue 14 flow 1);
- the one-time password recovery (seeds (9)): on the OTP entry page
  「メールアドレスの変更」 → confirmation ID and password → the new address →
  the verification link from the mail → the OTP login with the code mailed
  to the new address (SITE-5, issue 14 flow 3).
"""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import AuthUnit
from tests.builders import OtpInUse, give_site_password
from tests.notifier.smtp_server import SmtpServer
from tests.web.browser.screens import (
    Shots,
    decline_otp,
    first_login,
    log_in,
    mail_to,
    press,
    set_temp_password,
)
from tests.web.conftest import CONTRACT, EXTRA, TEMP
from tests.web.steps import CONFIRMATION, GOOD
from web.texts import page as text

NEW = "new@example.jp"
TYPO = "typo@example.jp"
LOST = "lost@example.jp"  # the OTP mailbox the subscriber can no longer read


def test_issue14_MAIL_2_address_page_in_the_seeds_order_type_test_tick_save(
    page: Page,
    shots: Shots,
    site_url: str,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
) -> None:
    with db.transaction(sessions) as s:
        service.add_address(s, EXTRA, "boss@example.jp")
    set_temp_password(sessions, CONTRACT, CONTRACT, AuthUnit.LINE, TEMP)
    first_login(page, site_url, CONTRACT, TEMP, GOOD)
    decline_otp(page)
    shots.take(text("home.title"))
    press(page, "サービス選択")
    press(page, EXTRA)
    shots.take(text("services.title"), number=EXTRA)  # issue 16: seeds (3) step 7
    press(page, text("services.mail"))  # step 8
    shots.take(text("number.title", number=EXTRA))
    press(page, text("addresses.title"))
    shots.take(text("addresses.title"), number=EXTRA)
    assert not page.is_checked("input[name=send_2]")  # issue 14 flow 7: an empty row is not ticked

    # 1. type the address in an empty row, 2. 送信テスト of that row.
    page.fill("#address_2", NEW)
    page.locator("button[name=test_row][value='2']").click()
    shots.take(text("addresses.title"), number=EXTRA)
    test_mail = mail_to(smtp, NEW)
    assert EXTRA in test_mail
    result = page.locator("#address_2-result").inner_text()
    assert result == text("send_test.sent", address=NEW)
    assert page.input_value("#address_1") == "boss@example.jp"
    assert page.input_value("#address_2") == NEW  # still there, not saved yet
    assert not page.is_checked("input[name=send_2]")

    # A mistyped address the mail server refuses: said in words, not the server's reply.
    page.fill("#address_3", TYPO)
    smtp.inbox.refusals.append("550 5.1.1 <typo@example.jp>: Recipient address rejected")
    page.locator("button[name=test_row][value='3']").click()
    shots.take(text("addresses.title"), number=EXTRA)
    assert page.locator("#address_3-result").inner_text() == text("send_test.refused", address=TYPO)
    assert "550" not in page.locator("main").inner_text()
    assert page.input_value("#address_2") == NEW
    page.fill("#address_3", "")  # the subscriber removes the typo

    # 3. tick 送信, 4. 設定.
    page.check("input[name=send_2]")
    press(page, "設定")
    shots.take(text("addresses.title"), number=EXTRA)
    assert "設定しました。" in page.locator("main").inner_text()
    assert page.input_value("#address_2") == NEW
    assert page.is_checked("input[name=send_2]")
    with db.transaction(sessions, read_only=True) as s:
        mail = service.describe_number(service.get_number(s, EXTRA))["mail"]
    assert [(a["address"], a["send"]) for a in mail["addresses"]] == [
        ("boss@example.jp", True),
        (NEW, True),
    ]
    assert [str(m["To"]) for m in smtp.inbox.messages] == [NEW]  # the one test mail

    # Enter in an address field is 設定, the form's own action: never row 1's 送信テスト.
    page.fill("#address_3", "third@example.jp")
    page.check("input[name=send_3]")
    page.press("#address_3", "Enter")
    page.wait_for_load_state()
    shots.take(text("addresses.title"), number=EXTRA)
    assert "設定しました。" in page.locator("main").inner_text()
    with db.transaction(sessions, read_only=True) as s:
        mail = service.describe_number(service.get_number(s, EXTRA))["mail"]
    assert [a["address"] for a in mail["addresses"]] == ["boss@example.jp", NEW, "third@example.jp"]
    assert [str(m["To"]) for m in smtp.inbox.messages] == [NEW]  # still the one test mail


def test_issue14_SITE_5_lost_otp_mailbox_recovered_in_the_seeds_order(
    page: Page,
    shots: Shots,
    site_url: str,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
) -> None:
    with db.transaction(sessions) as s:
        give_site_password(
            s,
            CONTRACT,
            now=dt.datetime.now(dt.UTC),
            password=GOOD,
            otp=OtpInUse(LOST, **CONFIRMATION),
        )
    log_in(page, site_url, CONTRACT, GOOD)
    shots.take(text("otp_login.title"))

    # Seeds (9) 1: 「メールアドレスの変更」 on the OTP send page.
    press(page, "メールアドレスの変更")
    shots.take(text("otp_proof.title"))
    # 2: the confirmation ID and password (a wrong one first: said, nothing changes).
    page.fill("#confirmation_id", CONFIRMATION["confirmation_id"])
    page.fill("#confirmation_password", "wrong1234pass")
    press(page, "次へ")
    shots.take(text("otp_proof.title"))
    assert page.locator("main .error, main .alert").count() >= 1
    page.fill("#confirmation_id", CONFIRMATION["confirmation_id"])
    page.fill("#confirmation_password", CONFIRMATION["confirmation_password"])
    press(page, "次へ")
    # 3: the new address, 次へ; 4: the 確認 page, 登録.
    shots.take(text("otp_address.title"))
    page.fill("#address", NEW)
    press(page, "次へ")
    shots.take(text("otp_address.confirm_title"))
    assert NEW in page.locator("main").inner_text()
    press(page, "登録")
    shots.take(text("otp_enrol.sent_title"))

    # Seeds P.8 [4]-[6]: the link mailed to the NEW address, 本登録完了, the code, 次へ.
    link = re.search(r"https?://\S+/otp/verify\?token=[\w-]+", mail_to(smtp, NEW))
    assert link
    page.goto(link.group(0))
    shots.take(text("otp_verify.done_title"))
    press(page, "ワンタイムパスワードを送信")
    shots.take(text("otp_login.title"))
    code = re.search(r"ワンタイムパスワード: (\d+)", mail_to(smtp, NEW, 2))
    assert code
    page.fill("#otp_code", code.group(1))
    press(page, "次へ")
    shots.take(text("home.title"))

    with db.transaction(sessions, read_only=True) as s:
        cred = service.get_number(s, CONTRACT).credential
        assert cred is not None
        assert (cred.otp_address, cred.otp_enabled) == (NEW, True)
        assert cred.otp_address_verified_at is not None
    assert {str(m["To"]) for m in smtp.inbox.messages} == {NEW}  # nothing to the lost box
