"""Issue 14 flow 4 (SITE-2) over HTTP: ログアウト on the forced change does not spend the
temporary password the subscriber paid a call for.

The store's side, on both databases: tests/store/test_temp_password_reuse.py.
"""

from __future__ import annotations

import pytest

from store.models import AuthUnit
from tests.web.conftest import CONTRACT, TEMP, Site
from tests.web.steps import GOOD, ended
from web.sessions import COOKIE
from web.texts import SITE_AUTH, page

pytestmark = pytest.mark.asyncio


async def test_issue14_SITE_2_logout_from_the_forced_change_keeps_the_temp_password(
    site: Site,
) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    first = await site.login(CONTRACT, TEMP)
    assert first.headers["location"] == "/password"
    change_page = await site.client.get("/password")
    assert "ログアウト" in change_page.text  # the button the forced change offers
    assert page("password.temp_stays_valid") in change_page.text  # no second call needed
    await site.post("/logout", {}, page="/password")
    assert site.client.cookies.get(COOKIE) is None

    again = await site.login(CONTRACT, TEMP)
    assert again.status_code == 303 and again.headers["location"] == "/password", again.text
    # The forced-change session may still only change the password.
    home = await site.client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/password"
    changed = await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    assert changed.status_code == 200, changed.text
    # Set: now it is spent, and says nothing about which secret was wrong.
    spent = await site.login(CONTRACT, TEMP)
    assert spent.status_code == 401 and SITE_AUTH["login_refused"] in spent.text


async def test_issue14_SITE_2_a_password_set_from_it_ends_every_other_temp_session(
    site: Site,
) -> None:
    """Two browsers logged in with the same temporary password: the change ends the other."""
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    other = site.client.cookies.get(COOKIE)
    assert other is not None
    await site.login(CONTRACT, TEMP)
    changed = await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    assert changed.status_code == 200, changed.text
    assert await ended(site, other)


async def test_issue14_SITE_2_a_newer_temp_password_by_phone_ends_the_older_one(
    site: Site,
) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    before = site.client.cookies.get(COOKIE)
    assert before is not None
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE, password="97531864")
    assert await ended(site, before)  # a new temporary password ends the number's sessions
    old = await site.login(CONTRACT, TEMP)
    assert old.status_code == 401
    new = await site.login(CONTRACT, "97531864")
    assert new.status_code == 303 and new.headers["location"] == "/password"


async def test_issue14_SITE_2_logging_in_again_does_not_outlive_24_hours(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    await site.post("/logout", {}, page="/password")
    site.clock.advance(hours=24)
    late = await site.login(CONTRACT, TEMP)
    assert late.status_code == 401 and "24時間" in late.text
