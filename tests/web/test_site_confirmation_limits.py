"""Issue 12 over HTTP: wrong confirmation ID/password entries are capped (SITE-5, SITE-9).

Per number (in the database, ``site.confirmation_failures_per_day``) on the
address change's proof (seeds (9), ``/otp/address/proof``), the confirmation
password change (seeds (11), ``/otp/confirmation/password``) and the CSV
upload (seeds (12)); per client address (the login throttle, its own key) on
the pages. Time moves by the injected clock. Issue 14: after an OTP login the
address change asks for no confirmation values (seeds (10)), so these tests
log in by the password alone (the one-time password switched off).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chakushin.config import SiteConfig
from store import db
from store.models import MailKind, OtpEvent, OtpEventKind
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, Site
from tests.web.steps import CONFIRMATION, OTP_ADDRESS, csv_upload, logged_in_with_otp

pytestmark = pytest.mark.asyncio

WRONG = {"confirmation_id": CONFIRMATION["confirmation_id"], "confirmation_password": "wrong1234x"}


@pytest.fixture
def site_config() -> SiteConfig:
    return SiteConfig(confirmation_failures_per_day=3)


def wrong_entries(site: Site) -> int:
    with db.transaction(site.sessions, read_only=True) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OtpEvent)
                .where(OtpEvent.kind == OtpEventKind.CONFIRMATION_WRONG)
            )
            or 0
        )


async def password_login(site: Site) -> None:
    """A login by the password alone (the one-time password switched off): the address
    change then asks for the confirmation values (seeds (9), issue 14)."""
    again = await site.login(CONTRACT, "Tokyo2026x")
    assert again.headers["location"] == "/", again.text


async def otp_off(site: Site) -> None:
    await logged_in_with_otp(site)
    assert (await site.post("/otp", {"enabled": "0", "agree": "1"})).headers["location"] == "/otp"
    await password_login(site)


def change(password: str) -> dict[str, str]:
    """Seeds (11) 〈確認用パスワードの変更〉."""
    return {
        "current_confirmation_password": password,
        "new_confirmation_password": "neue8pass",
        "confirm_confirmation_password": "neue8pass",
    }


PROOF = "/otp/address/proof"
PASSWORD_PAGE = "/otp/confirmation/password"


async def test_issue12_SITE_5_confirmation_pages_refuse_with_429_at_the_cap(site: Site) -> None:
    await otp_off(site)
    wrong = await site.post(PROOF, WRONG, page="/otp/address")
    assert wrong.status_code == 400
    assert "確認用IDまたは確認用パスワードが正しくありません。" in wrong.text
    wrong = await site.post(PASSWORD_PAGE, change("wrong1234x"))
    assert wrong.status_code == 400 and wrong_entries(site) == 2
    # Before the cap the right values work.
    right = await site.post(PROOF, CONFIRMATION, page="/otp/address")
    assert right.status_code == 303 and right.headers["location"] == "/otp/address"
    await password_login(site)  # a new login proves them again
    third = await site.post(PROOF, WRONG, page="/otp/address")
    assert third.status_code == 429 and "24時間で3回" in third.text
    # 2026-11-22 01:00 UTC + 24 h, in the number's time zone (Asia/Tokyo).
    assert "2026/11/23 10:00:00" in third.text
    assert wrong_entries(site) == 3
    site.clock.advance(hours=23)
    await password_login(site)  # the idle session ended meanwhile (SITE-6)
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    before.pop("site_session")
    for path, data in (
        (PROOF, CONFIRMATION),
        (PASSWORD_PAGE, change(CONFIRMATION["confirmation_password"])),
    ):
        capped = await site.post(path, data, page="/otp/address" if path == PROOF else None)
        assert capped.status_code == 429, capped.text
        assert "24時間で3回" in capped.text and "2026/11/23 10:00:00" in capped.text
    csv = await csv_upload(site, f'"{CONTRACT}","1","other@example.jp","abcDEF12","pass1234word"')
    assert csv.startswith("429 ") and "1行目" in csv and "24時間で3回" in csv
    after = snapshot(engine)
    after.pop("site_session")
    assert after == before
    assert [to for to, _ in site.mails(MailKind.ADDRESS_VERIFICATION)] == [OTP_ADDRESS]
    # The window passes on the injected clock: the right values work again.
    site.clock.advance(hours=1)
    await password_login(site)
    done = await site.post(PASSWORD_PAGE, change(CONFIRMATION["confirmation_password"]))
    assert done.status_code == 200 and "確認用パスワードを変更しました" in done.text


async def test_issue12_SITE_5_confirmation_pages_are_throttled_per_client_address(
    site: Site,
) -> None:
    await otp_off(site)
    site.throttle.limit = 2
    # Right entries do not count against the address.
    for _ in range(3):
        await password_login(site)
        ok = await site.post(PROOF, CONFIRMATION, page="/otp/address")
        assert ok.status_code == 303
    await password_login(site)
    for _ in range(2):
        wrong = await site.post(PASSWORD_PAGE, change("wrong1234x"))
        assert wrong.status_code == 400
    for path, data in (
        (PROOF, CONFIRMATION),
        (PASSWORD_PAGE, change(CONFIRMATION["confirmation_password"])),
    ):
        throttled = await site.post(path, data, page="/otp/address" if path == PROOF else None)
        assert throttled.status_code == 429
        assert "確認用IDまたは確認用パスワードの誤りが続いたため" in throttled.text
        assert int(throttled.headers["Retry-After"]) > 0
    # The CSV upload proves the same values: throttled under the same key.
    csv = await csv_upload(site, f'"{CONTRACT}","1","{OTP_ADDRESS}","abcDEF12","pass1234word"')
    assert csv.startswith("429 ") and "誤りが続いたため" in csv
    assert wrong_entries(site) == 2  # the throttled attempts were not looked at
    # Its own key: the login from the same address is not throttled by it.
    await password_login(site)
    site.clock.advance(seconds=600)
    done = await site.post(PASSWORD_PAGE, change(CONFIRMATION["confirmation_password"]))
    assert done.status_code == 200


async def test_issue12_SITE_5_address_change_hint_says_the_fields_prove_the_current_values(
    site: Site,
) -> None:
    await otp_off(site)
    page = await site.client.get("/otp/address")
    assert "登録時に設定した確認用IDと確認用パスワード" in page.text
    # Not the rules for choosing new values: they are proof of the current ones here.
    assert "英字と数字を組み合わせてください" not in page.text
    assert "利用できません" not in page.text
