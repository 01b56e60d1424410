"""Issue 12 over HTTP: the login and auth area safe in production (items 7, 8, 10, 11).

Both databases, the injected clock; no sleeping.
"""

from __future__ import annotations

import re

import pytest

from store.models import AuthUnit, MailKind
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import EXTRA_PW, GOOD, credential_of, ended, enrol, number_unit_line
from web.sessions import COOKIE
from web.texts import page

pytestmark = pytest.mark.asyncio

GOOD2 = "Osaka2027y"


def errors_on(page: str) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', page)


async def test_item7_SITE_8_wrong_unit_password_counts_against_SITE_4(site: Site) -> None:
    await number_unit_line(site)
    guess = {"unit": "line", f"password_{CONTRACT}": "Guess2026x", f"password_{EXTRA}": EXTRA_PW}
    for attempt in range(1, 11):
        wrong = await site.post("/auth-unit", guess)
        assert wrong.status_code == 400
        shown = errors_on(wrong.text)
        assert shown == ["入力されたパスワードが正しくありません。"], shown
        assert credential_of(site, CONTRACT).wrong_count == attempt
    assert credential_of(site, CONTRACT).invalidated_at is not None
    # Locked as after 10 wrong logins: the owner's right password no longer logs in.
    refused = await site.login(CONTRACT, GOOD)
    assert refused.status_code == 401 and "無効" in refused.text


async def test_item7_SITE_8_auth_unit_page_is_throttled_per_address(site: Site) -> None:
    await number_unit_line(site)
    site.throttle.limit = 3
    for _ in range(3):
        wrong = await site.post(
            "/auth-unit",
            {"unit": "line", f"password_{CONTRACT}": "Guess2026x", f"password_{EXTRA}": EXTRA_PW},
        )
        assert wrong.status_code == 400
    before = credential_of(site, CONTRACT).wrong_count
    throttled = await site.post(
        "/auth-unit",
        {"unit": "line", f"password_{CONTRACT}": GOOD, f"password_{EXTRA}": EXTRA_PW},
    )
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert "しばらく" in throttled.text
    assert credential_of(site, CONTRACT).wrong_count == before  # not even checked
    # A successful login of the attacker's own number does not reset the page's count.
    await site.login(EXTRA, EXTRA_PW)
    again = await site.post(
        "/auth-unit",
        {"unit": "line", f"password_{CONTRACT}": GOOD, f"password_{EXTRA}": EXTRA_PW},
    )
    assert again.status_code == 429
    site.clock.advance(minutes=10)
    await site.login(EXTRA, EXTRA_PW)
    done = await site.post(
        "/auth-unit",
        {"unit": "line", f"password_{CONTRACT}": GOOD, f"password_{EXTRA}": EXTRA_PW},
    )
    assert done.status_code == 200 and "認証単位を回線単位に変更しました。" in done.text


# --- item 8: a changed credential ends the other sessions of its number -----------------------


async def second_session(site: Site, number: str, password: str) -> str:
    """Log in once more (another browser); returns the cookie of the session before."""
    before = site.client.cookies.get(COOKIE)
    assert before is not None
    again = await site.login(number, password)
    assert again.status_code == 303, again.text
    return before


async def test_item8_SITE_10_password_change_ends_every_other_session(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    old = await second_session(site, CONTRACT, GOOD)
    new = site.client.cookies.get(COOKIE)
    assert new is not None and not await ended(site, old)
    # The older session (say, the one an attacker holds) has its address form open.
    site.client.cookies.set(COOKIE, old)
    form_token = await site.csrf(f"/numbers/{CONTRACT}/addresses")
    site.client.cookies.set(COOKIE, new)
    changed = await site.post(
        "/password", {"current_password": GOOD, "new_password": GOOD2, "confirm_password": GOOD2}
    )
    assert changed.status_code == 200 and "パスワードを変更しました" in changed.text
    assert await ended(site, old)
    site.client.cookies.set(COOKIE, old)
    stolen = await site.client.post(
        f"/numbers/{CONTRACT}/addresses",
        data={"csrf_token": form_token, "address_1": "attacker@evil.example", "send_1": "1"},
    )
    assert page("session.ended") in stolen.text
    rows = snapshot(site.sessions.kw["bind"])["destination_address"]
    assert "attacker@evil.example" not in str(rows)


async def test_item8_SITE_10_an_administrator_keeps_going_and_the_users_sessions_end(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, EXTRA_PW)
    user = site.client.cookies.get(COOKIE)
    assert user is not None
    await site.login(CONTRACT, GOOD)
    admin = site.client.cookies.get(COOKIE)
    changed = await site.post(
        "/password",
        {
            "target": EXTRA,
            "current_password": GOOD,
            "new_password": GOOD2,
            "confirm_password": GOOD2,
        },
    )
    assert changed.status_code == 200 and f"{EXTRA} のパスワードを変更しました。" in changed.text
    assert await ended(site, user)
    rotated = site.client.cookies.get(COOKIE)
    assert rotated not in (None, admin)  # the administrator's session goes on, under a new id
    assert admin is not None and await ended(site, admin)
    assert "設定メニュー" in (await site.client.get("/")).text


async def test_item8_IVR_9_a_new_temp_password_ends_the_numbers_sessions(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    token = site.client.cookies.get(COOKIE)
    assert token is not None
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    assert await ended(site, token)


async def test_item8_SITE_4_an_invalidated_password_ends_the_numbers_sessions(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    token = site.client.cookies.get(COOKIE)
    assert token is not None
    for _ in range(9):
        await site.login(CONTRACT, "Wrong1234x")
    assert not await ended(site, token)
    await site.login(CONTRACT, "Wrong1234x")
    assert await ended(site, token)


async def test_item8_SITE_2_an_invalidated_temp_password_ends_the_numbers_sessions(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)  # by phone; the password lives on
    assert (await site.login(CONTRACT, GOOD)).headers["location"] == "/"
    token = site.client.cookies.get(COOKIE)
    assert token is not None
    for _ in range(2):
        await site.login(CONTRACT, "13572468")
    assert not await ended(site, token)
    third = await site.login(CONTRACT, "13572468")  # the 3rd wrong entry: invalid
    assert "仮パスワード" in third.text
    assert await ended(site, token)


async def test_item8_SITE_8_an_auth_unit_change_ends_every_session_of_the_line(
    site: Site,
) -> None:
    await number_unit_line(site)
    contract = await second_session(site, EXTRA, EXTRA_PW)
    # ``contract`` is EXTRA's first session; log the contract number in as well.
    await site.login(CONTRACT, GOOD)
    owner = site.client.cookies.get(COOKIE)
    assert owner is not None
    await site.login(EXTRA, EXTRA_PW)
    done = await site.post(
        "/auth-unit",
        {"unit": "line", f"password_{CONTRACT}": GOOD, f"password_{EXTRA}": EXTRA_PW},
    )
    assert done.status_code == 200
    assert await ended(site, owner) and await ended(site, contract)


# --- item 10: the one-time password before the expired-password change -------------------------


async def otp_login_done(site: Site) -> None:
    """The OTP enrolled and verified, one login completed with a code."""
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    done = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert done.headers["location"] == "/"


async def test_item10_SITE_4_SITE_5_an_expired_password_is_changed_after_the_otp(
    site: Site,
) -> None:
    await otp_login_done(site)
    site.clock.advance(days=60)
    login = await site.login(CONTRACT, GOOD)
    assert login.status_code == 303 and login.headers["location"] == "/login/otp"
    assert (await site.client.get("/password")).headers["location"] == "/login/otp"
    assert (await site.client.get("/")).headers["location"] == "/login/otp"
    await site.post("/login/otp/send", {}, page="/login/otp")
    done = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert done.status_code == 303 and done.headers["location"] == "/password"
    page = await site.client.get("/password")
    assert "パスワードの有効期限(60日)が切れました。" in page.text
    assert (await site.client.get("/")).headers["location"] == "/password"
    changed = await site.post(
        "/password", {"current_password": GOOD, "new_password": GOOD2, "confirm_password": GOOD2}
    )
    assert changed.status_code == 200 and "パスワードを変更しました" in changed.text
    again = await site.login(CONTRACT, GOOD2)
    assert again.headers["location"] == "/login/otp"


# --- item 11: wrong codes and code mails capped per number over 24 hours -----------------------


async def test_item11_SITE_5_the_login_stage_ends_at_10_wrong_codes(site: Site) -> None:
    await otp_login_done(site)
    await site.login(CONTRACT, GOOD)
    for round_number in range(2):
        site.clock.advance(seconds=30)
        await site.post("/login/otp/send", {}, page="/login/otp")
        code = site.last_code()
        wrong = "000000" if code != "000000" else "111111"
        for attempt in range(5):
            refused = await site.post("/login/otp", {"otp_code": wrong})
            if round_number == 1 and attempt == 4:
                break
            assert refused.status_code == 400
    # The 10th wrong code within 24 hours: the login stage is over, and the page says why.
    assert refused.status_code == 429
    assert "ワンタイムパスワードの誤りが24時間で10回に達したため" in refused.text
    assert site.client.cookies.get(COOKIE) is None
    again = await site.login(CONTRACT, GOOD)
    assert again.headers["location"] == "/login/otp"
    sent = await site.post("/login/otp/send", {}, page="/login/otp")
    assert sent.status_code == 429 and "24時間" in sent.text
    assert site.client.cookies.get(COOKIE) is None
    site.clock.advance(hours=24)
    await site.login(CONTRACT, GOOD)
    await site.post("/login/otp/send", {}, page="/login/otp")
    done = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert done.headers["location"] == "/"


async def test_item11_SITE_5_code_mails_are_capped_at_10_a_day(site: Site) -> None:
    await otp_login_done(site)  # the first mail of the day
    await site.login(CONTRACT, GOOD)
    for _ in range(9):
        site.clock.advance(seconds=30)
        sent = await site.post("/login/otp/send", {}, page="/login/otp")
        assert sent.status_code == 200
    site.clock.advance(seconds=30)
    capped = await site.post("/login/otp/send", {}, page="/login/otp")
    assert capped.status_code == 429
    assert "ワンタイムパスワードの送信が24時間で10回に達したため" in capped.text
    assert site.client.cookies.get(COOKIE) is None
    assert len(site.mails(MailKind.ONE_TIME_PASSWORD)) == 10


async def test_item7_SITE_1_a_successful_login_does_not_reset_the_address_throttle(
    site: Site,
) -> None:
    """Else one's own login between guesses would lift the throttle for guessing others."""
    await number_unit_line(site)
    site.throttle.limit = 3
    for _ in range(2):
        assert (await site.login(CONTRACT, "Guess2026x")).status_code == 401
    assert (await site.login(EXTRA, EXTRA_PW)).status_code == 303  # the attacker's own number
    assert (await site.login(CONTRACT, "Guess2027x")).status_code == 401
    assert (await site.login(CONTRACT, GOOD)).status_code == 429
    site.clock.advance(minutes=10)
    assert (await site.login(CONTRACT, GOOD)).status_code == 303
