"""SITE-1/SITE-6: a login that loses its right to log in, while logged in, ends there.

The operator's CLI changes a number through ``store.service`` (``chakushin
number services N --disable mail``), which ends no site session. The next
request of that session, whatever the page, ends it and shows the login page
with the notice the menu shows (``home.login_gone``): never a 500.
"""

from __future__ import annotations

import httpx
import pytest

from store import db, otp_csv, service, site_auth
from store.models import AuthUnit, Service
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD, ended
from web.sessions import COOKIE
from web.texts import page

pytestmark = pytest.mark.asyncio

GONE = page("home.login_gone")
NEW = "Newer2026y"  # a password every SITE-3 rule accepts

# One page of each kind the site has: the menu, a number's pages, the number
# list, the bulk settings, the OTP pages and the CSV, the password and the
# auth unit pages.
PAGES = [
    "/",
    f"/numbers/{CONTRACT}",
    f"/numbers/{CONTRACT}/addresses",
    f"/numbers/{CONTRACT}/history",
    "/numbers",
    "/bulk",
    "/otp/csv",
    "/otp/csv/download",
    "/otp",
    "/password",
    "/auth-unit",
]


def take_login_away(site: Site) -> None:
    """What the CLI does: unsubscribe the mail service, through ``store.service``.

    A line without the service on any number has no login (SITE-1).
    """
    with db.transaction(site.sessions) as s:
        for number in (CONTRACT, EXTRA):
            service.set_services(s, number, disable=[Service.MAIL])


def assert_sent_to_login(response: httpx.Response) -> None:
    assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
    assert GONE in response.text
    assert 'action="/login"' in response.text
    set_cookie = response.headers.get("set-cookie", "")
    assert f"{COOKIE}=" in set_cookie and "Max-Age=0" in set_cookie, set_cookie


async def logged_in(site: Site) -> str:
    """CONTRACT logged in, in the line unit (it manages both numbers); its session cookie."""
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    token = site.client.cookies.get(COOKIE)
    assert token
    return token


@pytest.mark.parametrize("path", PAGES)
async def test_SITE_1_SITE_6_lost_login_rights_end_the_session_on_every_page(
    site: Site, path: str
) -> None:
    token = await logged_in(site)
    assert (await site.client.get(path)).status_code == 200  # the page works while allowed
    take_login_away(site)
    assert_sent_to_login(await site.client.get(path))
    assert await ended(site, token)


@pytest.mark.parametrize(
    ("form", "path", "data"),
    [
        ("/bulk", "/bulk", {"number": CONTRACT, "mail_started": "on"}),
        (f"/numbers/{CONTRACT}", f"/numbers/{CONTRACT}/service", {"action": "start"}),
        (
            "/password",
            "/password",
            {"current_password": GOOD, "new_password": NEW, "confirm_password": NEW},
        ),
    ],
)
async def test_SITE_1_SITE_6_lost_login_rights_end_the_session_on_a_posted_form(
    site: Site, form: str, path: str, data: dict[str, str]
) -> None:
    token = await logged_in(site)
    csrf = await site.csrf(form)
    take_login_away(site)
    before = site.state()
    assert_sent_to_login(await site.client.post(path, data={"csrf_token": csrf, **data}))
    assert site.state() == before  # nothing was saved
    assert await ended(site, token)


async def test_SITE_1_SITE_6_the_csv_upload_of_a_lost_login_ends_the_session(site: Site) -> None:
    token = await logged_in(site)
    csrf = await site.csrf("/otp/csv")
    take_login_away(site)
    row = f'"{CONTRACT}","0","","",""'
    uploaded = await site.client.post(
        "/otp/csv",
        data={"csrf_token": csrf},
        files={"csv_file": ("a.csv", (row + "\r\n").encode(), "text/csv")},
    )
    assert_sent_to_login(uploaded)
    assert await ended(site, token)


async def test_SITE_1_SITE_6_rights_lost_during_a_request_end_the_session_too(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number goes between the page's check and its store call (a race with the CLI):
    the store's ``login_not_allowed`` ends the session the same way, not with a 500."""
    token = await logged_in(site)

    def gone(*args: object, **kwargs: object) -> bytes:
        take_login_away(site)
        raise site_auth.OutOfScope("login_not_allowed")

    monkeypatch.setattr(otp_csv, "export_csv", gone)
    assert_sent_to_login(await site.client.get("/otp/csv/download"))
    assert await ended(site, token)
