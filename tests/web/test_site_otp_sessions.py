"""SITE-5, SITE-6, issue 14 flow 3: a changed confirmation value or OTP address ends the
number's other sessions, as a changed password does.

The confirmation ID and password (seeds (11)) are what recover the login when the OTP
mailbox is lost (seeds (9)), and the OTP address is where the second factor goes: a
session opened before the change (a browser left logged in, a taken-over session) must
not outlive it. The session that made the change goes on under a new id; so does the one
that follows the verification link (the recovery path continues to the code).
"""

from __future__ import annotations

import pytest

from tests.web.conftest import CONTRACT, Site
from tests.web.steps import CONFIRMATION, GOOD, OTP_ADDRESS, credential_of, logged_in_with_otp
from web.sessions import COOKIE
from web.texts import page

pytestmark = pytest.mark.asyncio


async def two_sessions(site: Site) -> str:
    """Two logins past the code; returns the first one's cookie (the client holds the second)."""
    await logged_in_with_otp(site)
    first = site.client.cookies.get(COOKIE)
    assert first is not None
    site.clock.advance(seconds=31)  # a new code may be mailed every 30 seconds
    await site.login(CONTRACT, GOOD)
    await site.post("/login/otp/send", {}, page="/login/otp")
    second = await site.post("/login/otp", {"otp_code": site.last_code()})
    assert second.headers["location"] == "/", second.text
    assert await alive(site, first)
    return first


async def home_with(site: Site, token: str | None) -> str:
    """The home page as the browser of cookie ``token`` sees it: "live", "ended" or what
    else; the client's own cookie is restored."""
    jar = site.client.cookies.jar
    own = [cookie for cookie in jar if cookie.name == COOKIE]
    site.client.cookies.delete(COOKIE)
    if token is not None:
        site.client.cookies.set(COOKIE, token)
    home = await site.client.get("/")
    site.client.cookies.delete(COOKIE)
    for cookie in own:
        jar.set_cookie(cookie)
    if home.status_code == 200 and page("session.ended") in home.text:
        return "ended"
    if home.status_code == 200 and 'action="/logout"' in home.text:
        return "live"
    return f"{home.status_code} {home.headers.get('location')}"


async def ended(site: Site, token: str) -> bool:
    return await home_with(site, token) == "ended"


async def alive(site: Site, token: str) -> bool:
    return await home_with(site, token) == "live"


async def goes_on(site: Site) -> bool:
    own = [cookie.value for cookie in site.client.cookies.jar if cookie.name == COOKIE]
    return await home_with(site, own[-1] if own else None) == "live"


async def test_SITE_5_SITE_6_a_changed_confirmation_id_ends_the_other_sessions(
    site: Site,
) -> None:
    other = await two_sessions(site)
    done = await site.post(
        "/otp/confirmation/id",
        {
            "current_confirmation_id": CONFIRMATION["confirmation_id"],
            "new_confirmation_id": "NeuID2026",
            "confirm_confirmation_id": "NeuID2026",
        },
    )
    assert done.status_code == 200 and "確認用IDを変更しました" in done.text
    assert await ended(site, other)
    assert await goes_on(site)


async def test_SITE_5_SITE_6_a_changed_confirmation_password_ends_the_other_sessions(
    site: Site,
) -> None:
    other = await two_sessions(site)
    done = await site.post(
        "/otp/confirmation/password",
        {
            "current_confirmation_password": CONFIRMATION["confirmation_password"],
            "new_confirmation_password": "neue8pass",
            "confirm_confirmation_password": "neue8pass",
        },
    )
    assert done.status_code == 200, done.text
    assert await ended(site, other)
    assert await goes_on(site)


async def test_SITE_5_SITE_6_a_wrong_current_value_ends_no_session(site: Site) -> None:
    other = await two_sessions(site)
    wrong = await site.post(
        "/otp/confirmation/id",
        {
            "current_confirmation_id": "abcDEF99",
            "new_confirmation_id": "NeuID2026",
            "confirm_confirmation_id": "NeuID2026",
        },
    )
    assert wrong.status_code == 400
    assert await alive(site, other)
    assert await goes_on(site)


async def test_SITE_5_SITE_6_a_verified_new_otp_address_ends_the_other_sessions(
    site: Site,
) -> None:
    other = await two_sessions(site)
    done = await site.post(
        "/otp/address", {"address": "new@example.jp", "confirmed": "1"}, page="/otp/address"
    )
    assert done.status_code == 200 and "仮登録が完了しました" in done.text
    # Asked for, not followed: the old settings, and the sessions, stand.
    assert await alive(site, other)
    followed = await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    assert followed.status_code == 200 and "本登録が完了しました" in followed.text
    assert await ended(site, other)
    assert await goes_on(site)  # the browser that followed the link is this login's


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (
            "/otp/confirmation/id",
            {
                "current_confirmation_id": CONFIRMATION["confirmation_id"],
                "new_confirmation_id": "NeuID2026",
                "confirm_confirmation_id": "NeuID2026",
            },
        ),
        (
            "/otp/confirmation/password",
            {
                "current_confirmation_password": CONFIRMATION["confirmation_password"],
                "new_confirmation_password": "neue8pass",
                "confirm_confirmation_password": "neue8pass",
            },
        ),
    ],
)
async def test_SITE_5_a_changed_confirmation_value_voids_a_pending_address_link(
    site: Site, path: str, form: dict[str, str]
) -> None:
    """A new address asked for under the old values (someone who proved them, seeds (9))
    is not made the OTP address by its link once the owner has changed them: the link
    needs no login, so ending the sessions alone would leave it working."""
    await logged_in_with_otp(site)
    asked = await site.post(
        "/otp/address", {"address": "taker@example.jp", "confirmed": "1"}, page="/otp/address"
    )
    assert asked.status_code == 200 and "仮登録が完了しました" in asked.text
    token = site.last_link_token()
    changed = await site.post(path, form)
    assert changed.status_code == 200, changed.text
    followed = await site.client.get(f"/otp/verify?token={token}")
    assert followed.status_code == 400 and "本登録が完了しました" not in followed.text
    assert credential_of(site, CONTRACT).otp_address == OTP_ADDRESS
