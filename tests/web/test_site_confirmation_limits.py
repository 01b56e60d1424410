"""Issue 12 over HTTP: wrong confirmation ID/password entries are capped (SITE-5, SITE-9).

Per number (in the database, ``site.confirmation_failures_per_day``) on the
address change page (seeds (9)), ``/otp/confirmation`` (seeds (10)) and the
CSV upload (seeds (12)); per client address (the login throttle, its own
key) on the pages. Time moves by the injected clock.
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


async def relogin(site: Site) -> None:
    """Password, then a mailed code (SITE-5), as every login of this number."""
    site.clock.advance(seconds=31)  # a new code may be mailed every 30 seconds
    again = await site.login(CONTRACT, "Tokyo2026x")
    assert again.headers["location"] == "/login/otp", again.text
    await site.post("/login/otp/send", {}, page="/login/otp")
    done = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert done.headers["location"] == "/", done.text


def change(password: str) -> dict[str, str]:
    return {
        "current_confirmation_id": CONFIRMATION["confirmation_id"],
        "current_confirmation_password": password,
        "new_confirmation_password": "neue8pass",
        "confirm_confirmation_password": "neue8pass",
    }


async def test_issue12_SITE_5_confirmation_pages_refuse_with_429_at_the_cap(site: Site) -> None:
    await logged_in_with_otp(site)
    wrong = await site.post("/otp/enrol", {"address": "new@example.jp", **WRONG})
    assert wrong.status_code == 400
    assert "確認用IDまたは確認用パスワードが正しくありません。" in wrong.text
    wrong = await site.post("/otp/confirmation", change("wrong1234x"))
    assert wrong.status_code == 400 and wrong_entries(site) == 2
    # Before the cap the right values work.
    right = await site.post("/otp/enrol", {"address": "new@example.jp", **CONFIRMATION})
    assert right.status_code == 200 and "new@example.jp にメールを送りました。" in right.text
    third = await site.post("/otp/enrol", {"address": "other@example.jp", **WRONG})
    assert third.status_code == 429 and "24時間で3回" in third.text
    # 2026-11-22 01:00 UTC + 24 h, in the number's time zone (Asia/Tokyo).
    assert "2026/11/23 10:00:00" in third.text
    assert wrong_entries(site) == 3
    site.clock.advance(hours=23)
    await relogin(site)  # the idle session ended meanwhile (SITE-6)
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    before.pop("site_session")
    for path, data in (
        ("/otp/enrol", {"address": "other@example.jp", **CONFIRMATION}),
        ("/otp/confirmation", change(CONFIRMATION["confirmation_password"])),
    ):
        capped = await site.post(path, data)
        assert capped.status_code == 429, capped.text
        assert "24時間で3回" in capped.text and "2026/11/23 10:00:00" in capped.text
    csv = await csv_upload(site, f'"{CONTRACT}","1","other@example.jp","abcDEF12","pass1234word"')
    assert csv.startswith("429 ") and "1行目" in csv and "24時間で3回" in csv
    after = snapshot(engine)
    after.pop("site_session")
    assert after == before
    assert [to for to, _ in site.mails(MailKind.ADDRESS_VERIFICATION)] == [
        OTP_ADDRESS,
        "new@example.jp",
    ]
    # The window passes on the injected clock: the right values work again.
    site.clock.advance(hours=1)
    await relogin(site)
    done = await site.post("/otp/confirmation", change(CONFIRMATION["confirmation_password"]))
    assert done.status_code == 200 and "確認用ID/パスワードを変更しました" in done.text


async def test_issue12_SITE_5_confirmation_pages_are_throttled_per_client_address(
    site: Site,
) -> None:
    await logged_in_with_otp(site)
    site.throttle.limit = 2
    # Right entries do not count against the address.
    for _ in range(3):
        ok = await site.post("/otp/enrol", {"address": "new@example.jp", **CONFIRMATION})
        assert ok.status_code == 200
    for _ in range(2):
        wrong = await site.post("/otp/confirmation", change("wrong1234x"))
        assert wrong.status_code == 400
    for path, data in (
        ("/otp/enrol", {"address": "new@example.jp", **CONFIRMATION}),
        ("/otp/confirmation", change(CONFIRMATION["confirmation_password"])),
    ):
        throttled = await site.post(path, data)
        assert throttled.status_code == 429
        assert "確認用IDまたは確認用パスワードの誤りが続いたため" in throttled.text
        assert int(throttled.headers["Retry-After"]) > 0
    # The CSV upload proves the same values: throttled under the same key.
    csv = await csv_upload(site, f'"{CONTRACT}","1","{OTP_ADDRESS}","abcDEF12","pass1234word"')
    assert csv.startswith("429 ") and "誤りが続いたため" in csv
    assert wrong_entries(site) == 2  # the throttled attempts were not looked at
    # Its own key: the login from the same address is not throttled by it.
    await relogin(site)
    site.clock.advance(seconds=600)
    done = await site.post("/otp/confirmation", change(CONFIRMATION["confirmation_password"]))
    assert done.status_code == 200


async def test_issue12_SITE_5_address_change_hint_says_the_fields_prove_the_current_values(
    site: Site,
) -> None:
    await logged_in_with_otp(site)
    page = await site.client.get("/otp/enrol")
    assert "受信用メールアドレスの変更" in page.text
    assert "登録時に設定した確認用IDと確認用パスワード" in page.text
    # Not the rules for choosing new values: they are proof of the current ones here.
    assert "英字と数字を組み合わせてください" not in page.text
    assert "利用できません" not in page.text
