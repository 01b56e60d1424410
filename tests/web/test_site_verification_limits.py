"""Issue 12 over HTTP: every mailing surface of the site is counted and capped.

- SITE-5, SITE-9: verification mails of the OTP address (the enrolment and
  address change page, the CSV upload), per number in the database
  (``site.verification_mails_per_day``); 429 with the reason and until when,
  nothing stored.
- MAIL-2 送信テスト: the per-login limit binds across new logins; a mail server
  that cannot be reached is not described on the page (its address is ours).

Both databases; time moves by the injected clock.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from chakushin.config import SiteConfig
from store.models import AuthUnit, MailKind
from tests.web.conftest import CONTRACT, EXTRA, TEMP, Site
from tests.web.steps import (
    CONFIRMATION,
    GOOD,
    OTP_ADDRESS,
    csv_upload,
    logged_in_with_otp,
    send_test,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def site_config() -> SiteConfig:
    return SiteConfig(
        verification_mails_per_day=3,
        send_tests_per_session=2,
        send_tests_per_number=5,
        send_test_window_seconds=600,
    )


# The 登録 of the 確認 step (seeds P.7, (9), (10); issue 14).
REGISTER = {"confirmed": "1"}


def verification_mails(site: Site) -> list[str]:
    return [to for to, _text in site.mails(MailKind.ADDRESS_VERIFICATION)]


async def otp_choice_stage(site: Site) -> None:
    """Right after the first login with the new password: the one-time password choice."""
    chooser = await site.login(CONTRACT, GOOD)
    assert chooser.headers["location"] == "/otp/choice", chooser.text
    use = await site.post("/otp/choice", {"choice": "use"})
    assert use.headers["location"] == "/otp/enrol"


async def test_issue12_SITE_5_verification_mails_are_capped_per_number(site: Site) -> None:
    """The reviewer's attack: in the OTP-choice stage, post /otp/enrol again and again."""
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
    await site.login(CONTRACT, TEMP)
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    await otp_choice_stage(site)
    # The first post sets the confirmation values, so the later ones know them.
    for i in range(3):
        sent = await site.post(
            "/otp/enrol", {"address": f"victim{i}@example.org", **CONFIRMATION, **REGISTER}
        )
        assert sent.status_code == 200 and "仮登録が完了しました" in sent.text, sent.text
    before = site.state()
    for i in range(3, 6):
        capped = await site.post(
            "/otp/enrol", {"address": f"victim{i}@example.org", **CONFIRMATION, **REGISTER}
        )
        assert capped.status_code == 429, capped.text
        assert "本登録お手続きメールの送信が24時間で3通に達したため" in capped.text
        # START (2026-11-22 01:00 UTC) + 24 h in the number's time zone (Asia/Tokyo).
        assert "2026/11/23 10:00:00" in capped.text
        assert int(capped.headers["Retry-After"]) == 24 * 3600 + 1
    assert site.state() == before  # no link, no mail, no count
    assert verification_mails(site) == [f"victim{i}@example.org" for i in range(3)]
    # After the window (injected clock) the next valid attempt works.
    site.clock.advance(hours=24)
    await otp_choice_stage(site)  # the idle session ended meanwhile (SITE-6)
    sent = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, **REGISTER})
    assert sent.status_code == 200, sent.text
    assert verification_mails(site)[-1] == OTP_ADDRESS


async def test_issue12_SITE_9_address_change_and_csv_refuse_at_the_verification_cap(
    site: Site,
) -> None:
    await logged_in_with_otp(site)  # one verification mail
    for address in ("new1@example.jp", "new2@example.jp"):
        # Seeds (10): after the code, the new address alone (issue 14).
        moved = await site.post("/otp/address", {"address": address, **REGISTER})
        assert moved.status_code == 200, moved.text
    before = site.state()
    page = await site.post("/otp/address", {"address": "new3@example.jp", **REGISTER})
    assert page.status_code == 429 and "24時間で3通" in page.text
    csv = await csv_upload(site, f'"{CONTRACT}","1","new3@example.jp","abcDEF12","pass1234word"')
    assert csv.startswith("429 ") and "1行目" in csv and "24時間で3通" in csv
    assert "2026/11/23 10:00:00" in csv
    assert site.state() == before
    assert verification_mails(site) == [OTP_ADDRESS, "new1@example.jp", "new2@example.jp"]


async def test_issue12_MAIL_2_send_test_limit_per_login_survives_a_new_login(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    assert (await send_test(site, 1, "a@example.jp")).status_code == 200
    assert (await send_test(site, 2, "b@example.jp")).status_code == 200
    assert (await send_test(site, 3, "c@example.jp")).status_code == 429
    # Logging in again is free; it must not give the login a new count.
    await site.login(EXTRA, GOOD)
    again = await send_test(site, 1, "d@example.jp")
    assert again.status_code == 429 and "ログインに使った電話番号では" in again.text
    assert [str(m["To"]) for m in site.smtp.inbox.messages] == ["a@example.jp", "b@example.jp"]
    site.clock.advance(seconds=601)
    await site.login(EXTRA, GOOD)
    assert (await send_test(site, 1, "e@example.jp")).status_code == 200


async def test_issue12_MAIL_2_send_test_says_the_servers_answer_in_words_not_a_connection_error(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    # The server answered: the page says what that means (issue 14: in words, not its reply).
    site.smtp.inbox.refusals.append("550 5.1.1 mailbox unavailable")
    answered = await send_test(site, 1, "gone@example.jp")
    assert answered.status_code == 200
    assert "送信できませんでした" in answered.text and "受け付けませんでした" in answered.text
    assert "550" not in answered.text and "mailbox unavailable" not in answered.text
    # No server at all: the page says so in general terms; the detail goes to the log.
    port = site.smtp.port
    site.smtp.stop()
    with capture_logs() as logs:
        failed = await send_test(site, 1, "a@example.jp")
    assert failed.status_code == 200
    assert "メールサーバに接続できませんでした" in failed.text
    said = failed.text.split("a@example.jp に送信できませんでした")[1].split("</p>")[0]
    for leak in ("127.0.0.1", str(port), "Connect", "Errno", "SMTP"):
        assert leak not in said, leak
    [logged] = [e for e in logs if e["event"] == "site_send_test_unreachable"]
    assert "127.0.0.1" in logged["detail"] and logged["number"] == EXTRA
