"""Issue 16 ("What must show"), in Chromium at 375 px against ``chakushin serve``:

a subscriber on a phone adds a nuisance entry as people type it (CALL-2),
switches on Voice Warp on no answer with a ring time (CALL-4), and reads
back in the call history a call whose mail the mail server refused (550)
and one whose mail it accepted (MAIL-2, MAIL-10); the address page flags
the refused address. The mails go through the serve process's own
delivery worker to the aiosmtpd test server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import AuthUnit
from tests.builders import a_mailed_call
from tests.notifier.smtp_server import SmtpServer
from tests.ops.serve_process import ChakushinProcess
from tests.web.browser.screens import Shots, decline_otp, first_login, press, set_temp_password
from tests.web.conftest import EXTRA, TEMP
from tests.web.steps import GOOD
from web.texts import page as text

GONE, OK = "gone@example.jp", "ok@example.jp"
NUISANCE_TYPED, NUISANCE = "03-1111-0000", "0311110000"
FORWARD_TYPED, FORWARD = "090-1234-5678", "09012345678"



def settings_of(sessions: sessionmaker[Session]) -> dict[str, Any]:
    with db.transaction(sessions, read_only=True) as s:
        return service.describe_number(service.get_number(s, EXTRA))


def test_issue16_CALL_2_CALL_4_MAIL_10_a_phone_sets_the_services_and_reads_each_mails_fate(
    page: Page,
    shots: Shots,
    site_url: str,
    served: ChakushinProcess,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
) -> None:
    with db.transaction(sessions) as s:
        service.add_address(s, EXTRA, GONE)
        service.add_address(s, EXTRA, OK)
        service.start_mail(s, EXTRA)
    # The first mail meets a server that refuses it for good; the second is accepted.
    smtp.inbox.refusals.append(f"550 5.1.1 <{GONE}>: Recipient address rejected: User unknown")
    now = dt.datetime.now(dt.UTC)  # the serve process delivers on the real clock
    a_mailed_call(
        sessions, number=EXTRA, linkedid="refused", recipients=[GONE], at=now, caller="0398765432"
    )
    served.wait_event("mail_failed", permanent=True)
    a_mailed_call(
        sessions, number=EXTRA, linkedid="sent", recipients=[OK], at=now, caller="0312340000"
    )
    served.wait_event("mail_sent")

    set_temp_password(sessions, EXTRA, EXTRA, AuthUnit.NUMBER, TEMP)
    first_login(page, site_url, EXTRA, TEMP, GOOD)
    decline_otp(page)
    assert page.viewport_size == {"width": 375, "height": 740}

    # サービス選択 → 迷惑電話おことわり: an entry as people type it (CALL-2).
    press(page, "サービス選択")  # one number: straight to its サービス選択
    shots.take(text("services.title"), number=EXTRA)
    press(page, text("services.nuisance"))
    shots.take(text("nuisance.title"), number=EXTRA)
    page.fill("#caller_number", NUISANCE_TYPED)
    press(page, "登録")
    shots.take(text("nuisance.title"), number=EXTRA)
    assert NUISANCE in page.locator("main table").inner_text()
    assert [e["caller_number"] for e in settings_of(sessions)["nuisance_list"]] == [NUISANCE]

    # ボイスワープ: on, on no answer after 20 seconds, to a mobile number (CALL-4).
    press(page, "サービス選択へ")
    press(page, text("services.voice_warp"))
    shots.take(text("voice_warp.title"), number=EXTRA)
    page.get_by_label("開始").check()
    page.fill("#destination", FORWARD_TYPED)
    page.get_by_label("無応答時転送", exact=False).check()
    page.fill("#ring_seconds", "20")
    press(page, "設定")
    shots.take(text("voice_warp.title"), number=EXTRA)
    assert settings_of(sessions)["voice_warp"] == {
        "enabled": True,
        "mode": "no_answer",
        "destination": FORWARD,
        "ring_seconds": 20,
    }
    assert page.input_value("#ring_seconds") == "20"

    # 着信履歴と通知結果: which address got its mail, in words (MAIL-10).
    press(page, "サービス選択へ")
    press(page, "着信履歴と通知結果")
    shots.take(text("history.title"), number=EXTRA)
    calls = page.locator("main section.card")
    refused = calls.filter(has_text="0398765432").inner_text()
    sent = calls.filter(has_text="0312340000").inner_text()
    assert GONE in refused and text("delivery.failed") in refused
    assert text("delivery.address_refused") in refused
    assert "550" not in refused and "5.1.1" not in refused  # never the server's reply
    assert OK in sent and "送信済み" in sent and text("delivery.failed") not in sent

    # The address page flags the refused address until a mail to it is sent.
    page.goto(f"{site_url}/numbers/{EXTRA}/addresses")
    shots.take(text("addresses.title"), number=EXTRA)
    assert page.locator("#address_1-failed").is_visible()
    assert page.locator("#address_2-failed").count() == 0
