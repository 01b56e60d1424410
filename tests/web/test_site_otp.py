"""SITE-5 over HTTP: one-time password by mail, from the choice at first login to every later login.

The mails are read from the outbox (the one mail path; the delivery
worker sends them); time moves by the injected clock.
"""

from __future__ import annotations

import pytest

from store.models import AuthUnit, MailKind
from tests.conftest import snapshot
from tests.web.conftest import CONTRACT, TEMP, Site

pytestmark = pytest.mark.asyncio

GOOD = "Tokyo2026x"
OTP_ADDRESS = "me@example.jp"
CONFIRMATION = {"confirmation_id": "abcDEF12", "confirmation_password": "pass1234word"}


async def enrol(site: Site) -> None:
    """Temporary password, forced change, then "use the one-time password" and enrol."""
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
    await site.login(CONTRACT, TEMP)
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    chooser = await site.login(CONTRACT, GOOD)
    assert chooser.headers["location"] == "/otp/choice"
    use = await site.post("/otp/choice", {"choice": "use"})
    assert use.headers["location"] == "/otp/enrol"
    enrolled = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION})
    assert enrolled.status_code == 200, enrolled.text
    assert "仮登録が完了しました" in enrolled.text


async def test_SITE_5_enrolment_link_then_code_completes_the_login(site: Site) -> None:
    await enrol(site)
    [(to, text)] = site.mails(MailKind.ADDRESS_VERIFICATION)
    assert to == OTP_ADDRESS and "24時間" in text
    verified = await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    assert verified.status_code == 303 and verified.headers["location"] == "/login/otp"
    sent = await site.post("/login/otp/send", {}, page="/login/otp")
    assert "ワンタイムパスワードを送信しました" in sent.text
    assert site.mails(MailKind.ONE_TIME_PASSWORD)[-1][0] == OTP_ADDRESS
    done = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "設定メニュー" in (await site.client.get("/")).text

    # Every later login asks for a code; the settings page is out of reach until then.
    again = await site.login(CONTRACT, GOOD)
    assert again.headers["location"] == "/login/otp"
    assert (await site.client.get("/")).headers["location"] == "/login/otp"


async def test_SITE_5_code_is_valid_300_seconds_and_once(site: Site) -> None:
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    code = site.last_code()
    site.clock.advance(seconds=301)
    late = await site.post("/login/otp", {"otp_code": code})
    assert late.status_code == 400 and "300秒" in late.text

    await site.post("/login/otp/send", {}, page="/login/otp")
    fresh = site.last_code()
    site.clock.advance(seconds=299)
    ok = await site.post("/login/otp", {"otp_code": fresh})
    assert ok.headers["location"] == "/"
    # Single use: the same code does not complete another login.
    await site.login(CONTRACT, GOOD)
    reused = await site.post("/login/otp", {"otp_code": fresh})
    assert reused.status_code == 400


async def test_SITE_5_verification_link_expires_after_24_hours(site: Site) -> None:
    await enrol(site)
    token = site.last_link_token()
    site.clock.advance(hours=24, seconds=1)
    refused = await site.client.get(f"/otp/verify?token={token}")
    assert refused.status_code == 400 and "本登録できませんでした" in refused.text


async def test_SITE_5_confirmation_id_rules_are_shown_and_nothing_is_saved(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
    await site.login(CONTRACT, TEMP)
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    await site.login(CONTRACT, GOOD)
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    bad = await site.post(
        "/otp/enrol",
        {"address": OTP_ADDRESS, "confirmation_id": "abcdefgh", "confirmation_password": "x"},
    )
    assert bad.status_code == 400
    assert "英字小文字のみの確認用IDは利用できません。" in bad.text
    after = snapshot(engine)
    after.pop("site_session"), before.pop("site_session")
    assert after == before
    assert site.mails(MailKind.ADDRESS_VERIFICATION) == []


async def test_SITE_5_opt_out_from_the_settings_page(site: Site) -> None:
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    await site.post("/login/otp", {"otp_code": site.last_code()})
    page = await site.client.get("/otp")
    assert "利用する" in page.text and OTP_ADDRESS in page.text
    off = await site.post("/otp", {"enabled": "0"})
    assert off.headers["location"] == "/otp"
    plain = await site.login(CONTRACT, GOOD)
    assert plain.headers["location"] == "/"


async def test_SITE_5_changing_the_address_needs_the_confirmation_id_and_password(
    site: Site,
) -> None:
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    await site.post("/login/otp", {"otp_code": site.last_code()})
    page = await site.client.get("/otp/enrol")
    assert "受信用メールアドレスの変更" in page.text
    wrong = await site.post(
        "/otp/enrol",
        {
            "address": "new@example.jp",
            "confirmation_id": "abcDEF12",
            "confirmation_password": "wrong1234x",
        },
    )
    assert wrong.status_code == 400
    assert [to for to, _ in site.mails(MailKind.ADDRESS_VERIFICATION)] == [OTP_ADDRESS]
    right = await site.post("/otp/enrol", {"address": "new@example.jp", **CONFIRMATION})
    assert right.status_code == 200 and "new@example.jp にメールを送りました。" in right.text
    assert site.mails(MailKind.ADDRESS_VERIFICATION)[-1][0] == "new@example.jp"
    # The old address stays in use until the new one is verified.
    assert OTP_ADDRESS in (await site.client.get("/otp")).text
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    assert "new@example.jp" in (await site.client.get("/otp")).text


async def test_SITE_5_send_again_only_after_30_seconds(site: Site) -> None:
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    again = await site.post("/login/otp/send", {}, page="/login/otp")
    assert again.status_code == 429 and "30秒たつと、もう一度送信できます" in again.text
    assert len(site.mails(MailKind.ONE_TIME_PASSWORD)) == 1
    first = site.last_code()
    site.clock.advance(seconds=30)
    await site.post("/login/otp/send", {}, page="/login/otp")
    assert len(site.mails(MailKind.ONE_TIME_PASSWORD)) == 2
    stale = await site.post("/login/otp", {"otp_code": first})  # the new code replaced it
    assert stale.status_code == 400
    ok = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert ok.headers["location"] == "/"
