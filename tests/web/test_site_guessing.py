"""Issue 12 over HTTP: every guessing surface is counted and throttled.

Both databases, the injected clock, no sleeping. The parallel tests send
their requests at once with asyncio.gather against the ASGI app.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chakushin.config import SiteConfig
from store.models import AuthUnit
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD, credential_of, ended, number_unit_line
from web.sessions import COOKIE

pytestmark = pytest.mark.asyncio

WRONG = "Wrong1234x"
NEW = "Kyoto2028z"


def change(current: str, new: str = NEW) -> dict[str, str]:
    return {"current_password": current, "new_password": new, "confirm_password": new}


async def test_issue12_SITE_4_wrong_current_password_counts_and_is_throttled(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.throttle.limit = 3
    # Errors in the new password look at nothing: neither counted nor throttled.
    for _ in range(5):
        bad = await site.post("/password", change(WRONG, "short"))
        assert bad.status_code == 400
    assert credential_of(site, CONTRACT).wrong_count == 0
    for count in (1, 2, 3):
        wrong = await site.post("/password", change(WRONG))
        assert wrong.status_code == 400 and "現在のパスワードが正しくありません" in wrong.text
        assert credential_of(site, CONTRACT).wrong_count == count
    throttled = await site.post("/password", change(GOOD))
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert "しばらくパスワードを変更できません" in throttled.text
    assert credential_of(site, CONTRACT).wrong_count == 3  # not looked at
    # Its own key: a login from the same address is not throttled by it.
    assert (await site.login(CONTRACT, GOOD)).status_code == 303
    # After the window (and a new login: the idle session ended) the right
    # password works, before the number's cap of 10.
    site.clock.advance(seconds=601)
    assert (await site.login(CONTRACT, GOOD)).status_code == 303
    done = await site.post("/password", change(GOOD))
    assert done.status_code == 200 and "パスワードを変更しました" in done.text
    assert credential_of(site, CONTRACT).wrong_count == 0
    assert (await site.login(CONTRACT, NEW)).status_code == 303


async def test_issue12_SITE_4_ten_wrong_current_passwords_invalidate_and_end_the_sessions(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    token = site.client.cookies.get(COOKIE)
    assert token is not None
    for count in range(1, 10):
        wrong = await site.post("/password", change(WRONG))
        assert wrong.status_code == 400
        assert credential_of(site, CONTRACT).wrong_count == count
    assert not await ended(site, token)
    tenth = await site.post("/password", change(WRONG))
    assert tenth.status_code == 401 and "無効" in tenth.text
    assert credential_of(site, CONTRACT).invalidated_at is not None
    assert await ended(site, token)
    refused = await site.login(CONTRACT, GOOD)  # exactly as after 10 wrong logins
    assert refused.status_code == 401 and "無効" in refused.text


async def test_issue12_SITE_4_parallel_wrong_current_passwords_are_throttled(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    site.throttle.limit = 3
    token = await site.csrf("/password")

    async def wrong() -> httpx.Response:
        return await site.client.post("/password", data={"csrf_token": token, **change(WRONG)})

    results = await asyncio.gather(*(wrong() for _ in range(8)))
    assert sorted(r.status_code for r in results) == [400] * 3 + [429] * 5
    assert credential_of(site, CONTRACT).wrong_count == 3


async def test_issue12_SITE_1_parallel_wrong_logins_are_throttled(site: Site) -> None:
    site.throttle.limit = 5
    token = await site.csrf("/login")

    async def wrong() -> httpx.Response:
        return await site.client.post(
            "/login", data={"csrf_token": token, "number": CONTRACT, "password": WRONG}
        )

    results = await asyncio.gather(*(wrong() for _ in range(12)))
    assert sorted(r.status_code for r in results) == [401] * 5 + [429] * 7
    assert site.throttle.retry_after("127.0.0.1") > 0


async def test_issue12_SITE_8_parallel_wrong_unit_passwords_are_throttled(site: Site) -> None:
    await number_unit_line(site)
    site.throttle.limit = 3
    token = await site.csrf("/auth-unit")
    guess = {"unit": "line", f"password_{CONTRACT}": "Guess2026x", f"password_{EXTRA}": WRONG}

    async def wrong() -> httpx.Response:
        return await site.client.post("/auth-unit", data={"csrf_token": token, **guess})

    results = await asyncio.gather(*(wrong() for _ in range(7)))
    assert sorted(r.status_code for r in results) == [400] * 3 + [429] * 4
    assert credential_of(site, CONTRACT).wrong_count == 3


@pytest.mark.parametrize("site_config", [SiteConfig(trusted_proxies=("127.0.0.0/8",))])
async def test_issue12_SITE_1_an_ipv6_client_is_throttled_by_its_64(site: Site) -> None:
    site.throttle.limit = 3

    async def bad_login(address: str) -> int:
        token = await site.csrf("/login")
        response = await site.client.post(
            "/login",
            data={"csrf_token": token, "number": CONTRACT, "password": WRONG},
            headers={"X-Forwarded-For": address},
        )
        return response.status_code

    # Rotating through one's /64 does not help.
    codes = [await bad_login(f"2001:db8:1:2::{i:x}") for i in range(1, 6)]
    assert codes == [401, 401, 401, 429, 429]
    assert await bad_login("2001:db8:1:2:ffff:ffff:ffff:ffff") == 429
    # The next /64 is someone else.
    assert await bad_login("2001:db8:1:3::1") == 401
