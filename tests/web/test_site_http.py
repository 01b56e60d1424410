"""The settings site over HTTP (httpx against the ASGI app), rule by rule, on both databases.

Time moves by the injected clock, never by sleeping.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from store import db
from store.models import AuthUnit, Number, SiteCredential
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, EXTRA, TEMP, Site
from tests.web.steps import GOOD
from web.sessions import COOKIE
from web.texts import SITE_AUTH, page

GOOD2 = "Osaka2027y"

pytestmark = pytest.mark.asyncio


def cookie(site: Site) -> str | None:
    return site.client.cookies.get(COOKIE)


async def test_SITE_1_login_number_must_be_digits_only(site: Site) -> None:
    # Issue 14 flow 8: hyphens and full-width digits are taken; letters are not.
    refused = await site.login("03-1234-567８x", "whatever1")
    assert refused.status_code == 400
    assert "電話番号はハイフンなしの半角数字で入力してください。" in refused.text
    assert cookie(site) is None


async def test_SITE_2_temp_password_logs_in_once_and_forces_the_change(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    first = await site.login(CONTRACT, TEMP)
    assert first.status_code == 303 and first.headers["location"] == "/password"
    before_change = cookie(site)
    # Nothing else is reachable before the change.
    home = await site.client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/password"
    page = await site.client.get("/password")
    assert "仮パスワードでログインしました。パスワードを設定してください。" in page.text
    changed = await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    assert "新しいパスワードでログインしてください。" in changed.text
    assert cookie(site) is None  # the session ended with the change
    # The temporary password is spent; the new password opens the settings home.
    again = await site.login(CONTRACT, TEMP)
    assert again.status_code == 401
    assert cookie(site) is None
    await site.decline_otp(CONTRACT, GOOD)
    assert cookie(site) not in (None, before_change)  # SITE-6: a new id at every login
    assert "設定メニュー" in (await site.client.get("/")).text
    await site.post("/logout", {}, page="/")
    ok = await site.login(CONTRACT, GOOD)  # the choice is made once
    assert ok.status_code == 303 and ok.headers["location"] == "/"


async def test_SITE_2_temp_password_invalid_after_3_wrong_or_24_hours(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    for attempt in range(3):
        wrong = await site.login(CONTRACT, "11111111")
        assert wrong.status_code == 401
        if attempt == 0:  # SITE-1: one sentence for a wrong password (the 3rd says why it ended)
            assert "電話番号またはパスワードが正しくありません。" in wrong.text
    refused = await site.login(CONTRACT, TEMP)
    assert refused.status_code == 401
    assert "仮パスワード" in refused.text and SITE_AUTH["login_refused"] not in refused.text

    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)  # set again by phone
    site.clock.advance(hours=24, seconds=1)
    expired = await site.login(CONTRACT, TEMP)
    assert expired.status_code == 401 and "仮パスワード" in expired.text


async def test_SITE_3_every_broken_rule_is_shown_and_nothing_is_saved(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    bad = await site.post(
        "/password",
        {"current_password": TEMP, "new_password": "12345678", "confirm_password": "12345678"},
    )
    assert bad.status_code == 400
    assert "数字のみのパスワードは設定できません。" in bad.text
    assert (
        "連続した文字・数字(1234、abcdなど)を4文字以上含むパスワードは設定できません。" in bad.text
    )
    mismatch = await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD2}
    )
    assert mismatch.status_code == 400
    after = snapshot(engine)
    after.pop("site_session"), before.pop("site_session")  # last_seen moves; nothing else may
    assert after == before


async def test_SITE_4_ten_wrong_passwords_invalidate_it_even_when_concurrent(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.client.cookies.delete(COOKIE)
    token = await site.csrf("/login")

    async def wrong() -> httpx.Response:
        return await site.client.post(
            "/login", data={"csrf_token": token, "number": CONTRACT, "password": "Wrong1234x"}
        )

    results = await asyncio.gather(*(wrong() for _ in range(12)))
    assert all(r.status_code == 401 for r in results)
    with db.transaction(site.sessions, read_only=True) as s:
        cred = s.scalar(select(SiteCredential).join(Number).where(Number.number == CONTRACT))
        assert cred is not None and cred.invalidated_at is not None
        assert cred.wrong_count >= 10
    refused = await site.login(CONTRACT, GOOD)
    assert refused.status_code == 401 and "無効" in refused.text


async def test_SITE_4_password_expires_after_60_days(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.clock.advance(days=60, seconds=1)
    old = await site.login(CONTRACT, GOOD)
    assert old.status_code == 303 and old.headers["location"] == "/password"
    page = await site.client.get("/password")
    assert "パスワードの有効期限(60日)が切れました。" in page.text


@pytest.mark.parametrize(
    ("unit", "number", "idle_minutes"),
    [(AuthUnit.LINE, CONTRACT, 10), (AuthUnit.NUMBER, EXTRA, 30)],
)
async def test_SITE_6_idle_timeout_by_auth_unit(
    site: Site, unit: AuthUnit, number: str, idle_minutes: int
) -> None:
    await site.establish(number, number, unit, GOOD)
    assert (await site.login(number, GOOD)).headers["location"] == "/"
    site.clock.advance(minutes=idle_minutes - 1)
    assert (await site.client.get("/")).status_code == 200  # activity restarts the clock
    site.clock.advance(minutes=idle_minutes - 1)
    assert (await site.client.get("/")).status_code == 200
    site.clock.advance(minutes=idle_minutes, seconds=1)
    ended = await site.client.get("/")
    assert ended.status_code == 200 and page("session.ended") in ended.text
    assert "ログイン" in ended.text and cookie(site) is None


async def test_SITE_10_logout_ends_the_session_for_good(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    await site.login(CONTRACT, GOOD)
    stolen = cookie(site)
    out = await site.post("/logout", {}, page="/")
    assert "ログアウトしました。" in out.text
    site.client.cookies.set(COOKIE, stolen or "")
    replay = await site.client.get("/")
    assert replay.status_code != 200 or "設定メニュー" not in replay.text


async def test_SITE_6_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    # The login form: the token must match the pre-login cookie.
    await site.client.get("/login")
    forged = await site.client.post(
        "/login", data={"csrf_token": "forged", "number": CONTRACT, "password": GOOD}
    )
    assert forged.status_code == 403
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    await site.login(CONTRACT, GOOD)
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    no_token = await site.client.post(
        "/password",
        data={"current_password": GOOD, "new_password": GOOD2, "confirm_password": GOOD2},
    )
    assert no_token.status_code == 403
    logout = await site.client.post("/logout", data={"csrf_token": "x"})
    assert logout.status_code == 403
    after = snapshot(engine)
    after.pop("site_session"), before.pop("site_session")
    assert after == before


async def test_SITE_1_a_user_cannot_reach_another_number_by_editing_url_or_form(
    site: Site,
) -> None:
    # admin/user unit: the additional number (a user) manages itself only.
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, GOOD)
    await site.login(EXTRA, GOOD)
    assert (await site.client.get(f"/numbers/{EXTRA}")).status_code == 200
    other = await site.client.get(f"/numbers/{CONTRACT}")
    assert other.status_code == 403 and "boss@example.jp" not in other.text
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    forged = await site.post(
        "/password",
        {
            "target": CONTRACT,
            "current_password": GOOD,
            "new_password": GOOD2,
            "confirm_password": GOOD2,
        },
    )
    assert forged.status_code == 403
    after = snapshot(engine)
    after.pop("site_session"), before.pop("site_session")
    assert after == before


async def test_SITE_1_wrong_password_storm_from_one_address_is_refused(site: Site) -> None:
    site.throttle.limit = 5
    for _ in range(5):
        assert (await site.login(EXTRA, "Nope12345x")).status_code == 401
    slowed = await site.login(CONTRACT, "Other1234x")
    assert slowed.status_code == 429
    assert "しばらくログインできません" in slowed.text
    assert int(slowed.headers["Retry-After"]) > 0
    site.clock.advance(minutes=10, seconds=1)
    assert (await site.login(EXTRA, "Nope12345x")).status_code == 401  # the window passed


async def test_SITE_6_cookies_are_httponly_samesite_and_secure_over_tls(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.client.cookies.clear()
    tls = httpx.AsyncClient(transport=site.client._transport, base_url="https://testserver")
    async with tls:
        page = await tls.get("/login")
        pre = page.headers["set-cookie"].lower()
        assert "httponly" in pre and "samesite=strict" in pre and "secure" in pre
        token = site_csrf(page.text)
        done = await tls.post(
            "/login", data={"csrf_token": token, "number": CONTRACT, "password": GOOD}
        )
        session_cookie = next(
            c for c in done.headers.get_list("set-cookie") if c.startswith(COOKIE)
        ).lower()
        assert "httponly" in session_cookie and "samesite=lax" in session_cookie
        assert "secure" in session_cookie
    plain = await site.client.get("/login")
    assert "secure" not in plain.headers["set-cookie"].lower()


def site_csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_SITE_10_the_administrator_changes_a_users_password(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
    page = await site.client.get("/password")
    assert f'<option value="{EXTRA}"' in page.text  # every number of the line
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
    assert "戻る" in changed.text and cookie(site) is not None  # the admin stays logged in
    user = await site.login(EXTRA, GOOD2)
    assert user.status_code == 303


async def test_SITE_6_abandoned_sessions_are_purged_after_their_idle_time(site: Site) -> None:
    from sqlalchemy import func, select

    from store.models import SiteSession
    from web.sessions import SessionStore

    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.client.cookies.clear()  # the browser is closed without logging out
    store = SessionStore(site.sessions, site.clock)

    def count() -> int:
        with db.transaction(site.sessions, read_only=True) as s:
            return int(s.scalar(select(func.count()).select_from(SiteSession)) or 0)

    assert count() == 1
    site.clock.advance(minutes=9)
    assert store.purge() == 0 and count() == 1  # line unit: 10 minutes
    site.clock.advance(minutes=1, seconds=1)
    assert store.purge() == 1 and count() == 0
