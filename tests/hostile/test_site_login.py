"""Hostile input into the settings site's login and auth pages (issue 12).

Every field of the login, password-change, one-time-password and auth-unit
pages, and the cookies and X-Forwarded-For header they read, gets random
and boundary values (empty, very long, control characters, other scripts,
``+81…``, negative and huge numbers). For each: an answer that is not a 500
(a Japanese page for every refusal), every table as it was (a wrong
password or code moves only its own counters, as SITE-2/4/5 require), and
the valid input right after still accepted. Both databases; one site and
one login per test, shared by its examples.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from chakushin.config import SiteConfig
from store.models import AuthUnit, Base
from tests.hostile.conftest import BOUNDARY_TEXT, hostile_text
from tests.web import conftest as web
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import CONFIRMATION, GOOD, OTP_ADDRESS
from web.sessions import COOKIE

pytestmark = pytest.mark.asyncio

# The settings site's fixtures (tests/web/conftest.py), for this suite outside tests/web.
site_line, site = web.site_line, web.site
site_access_numbers = web.site_access_numbers

EXTRA_PW = ("Extra2026x", "Extra2027y")  # EXTRA's password, changed back and forth
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
SIX_DIGITS = re.compile(r"[0-9]{6}")


@pytest.fixture
def site_config() -> SiteConfig:
    """Caps high enough that the examples' wrong codes and mails never reach them."""
    return SiteConfig(otp_wrong_codes_per_day=1000, otp_code_mails_per_day=1000)


def state(of: Site, *, counters: bool = True) -> dict[str, list[tuple[object, ...]]]:
    """Every row but the sessions'; ``counters=False`` leaves out the wrong-entry counts."""
    engine = of.sessions.kw["bind"]
    found: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == "site_session" or (not counters and table.name == "otp_event"):
                continue
            columns = [c for c in table.c if counters or c.name != "wrong_count"]
            rows = conn.execute(select(*columns)).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def assert_clear_refusal(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert JAPANESE.search(response.text), response.text[:500]


async def post(
    of: Site,
    path: str,
    form: dict[str, str],
    headers: dict[str, Any] | None = None,
    *,
    page: str | None = None,
) -> httpx.Response:
    """``form`` as a browser sends it, with the CSRF token of ``page`` (default: ``path``)."""
    token = await of.csrf(page or path)
    body = urllib.parse.urlencode({"csrf_token": token, **form})
    return await of.client.post(
        path,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )


class Started:
    """Set up once per test (hypothesis runs many examples on one site)."""

    def __init__(self, logged_in: Site) -> None:
        self.site = logged_in
        self.done = False
        self.extra_current = ""


@pytest.fixture
def started(site: Site) -> Started:
    return Started(site)


# --- login (SITE-1, SITE-2, SITE-4) --------------------------------------------------------


LOGIN_FIELDS = ["number", "password", "csrf_token"]


@settings(max_examples=6)
@given(field=st.sampled_from(LOGIN_FIELDS), value=hostile_text)
async def test_hostile_SITE_1_login_fields(started: Started, field: str, value: str) -> None:
    s = started.site
    if not started.done:
        await s.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
        started.done = True
    s.client.cookies.delete(COOKIE)
    before = state(s, counters=field != "password")
    form = {"number": CONTRACT, "password": GOOD, field: value}
    if field == "csrf_token":
        await s.csrf("/login")  # the cookie half of the double submit
        response = await s.client.post("/login", data=form)
    else:
        response = await post(s, "/login", form)
    assert_clear_refusal(response)
    if response.status_code != 303:
        assert state(s, counters=field != "password") == before, (field, value)
    ok = await s.login(CONTRACT, GOOD)  # also resets the count a wrong password moved
    assert ok.status_code == 303 and ok.headers["location"] == "/", ok.text[:300]


COOKIE_VALUES = st.one_of(
    st.sampled_from([*BOUNDARY_TEXT, "a" * 101, "a" * 43]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120),
)


@settings(max_examples=6)
@given(
    cookie=st.sampled_from([COOKIE, "chakushin_csrf"]),
    value=COOKIE_VALUES,
    forwarded=st.one_of(st.none(), hostile_text),
    path=st.sampled_from(["/", "/login", "/password", "/login/otp", "/auth-unit"]),
)
async def test_hostile_SITE_6_cookies_and_forwarded_for(
    started: Started, cookie: str, value: str, forwarded: str | None, path: str
) -> None:
    s = started.site
    if not started.done:
        await s.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
        started.done = True
    before = state(s)
    headers = {"Cookie": f"{cookie}={urllib.parse.quote(value, safe='')}"}
    if forwarded is not None:
        headers["X-Forwarded-For"] = urllib.parse.quote(forwarded, safe=",. :")
    page = await s.client.get(path, headers=headers)
    assert_clear_refusal(page)
    sent = await s.client.post(
        "/login",
        content=urllib.parse.urlencode({"csrf_token": value, "number": CONTRACT, "password": GOOD}),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert_clear_refusal(sent)
    if sent.status_code != 303:
        assert state(s) == before, (cookie, value, path)
    ok = await s.login(CONTRACT, GOOD)
    assert ok.status_code == 303, ok.text[:300]


# --- password change (SITE-3, SITE-10) ------------------------------------------------------


PASSWORD_FIELDS = ["current_password", "new_password", "confirm_password", "target"]


@settings(max_examples=6)
@given(field=st.sampled_from(PASSWORD_FIELDS), value=hostile_text)
async def test_hostile_SITE_10_password_change_fields(
    started: Started, field: str, value: str
) -> None:
    """The administrator (admin/user unit) changes EXTRA's password: the session goes on."""
    s = started.site
    if not started.done:
        await s.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
        await s.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, EXTRA_PW[0])
        await s.login(CONTRACT, GOOD)
        started.extra_current = EXTRA_PW[0]
        started.done = True

    def change_to(new: str) -> dict[str, str]:
        return {
            "target": EXTRA,
            "current_password": GOOD,
            "new_password": new,
            "confirm_password": new,
        }

    other = next(p for p in EXTRA_PW if p != started.extra_current)
    # A wrong current password counts against the administrator (issue 12,
    # SITE-4): only the wrong-entry counts may move, all else stays.
    counts_may_move = field == "current_password"
    before = state(s, counters=not counts_may_move)
    response = await post(s, "/password", {**change_to(other), field: value})
    assert_clear_refusal(response)
    if response.status_code >= 400:
        assert state(s, counters=not counts_may_move) == before, (field, value)
    else:  # the hostile value was a harmless one: EXTRA's password changed
        started.extra_current = value if field == "new_password" else other
    other = next(p for p in EXTRA_PW if p != started.extra_current)
    again = await post(s, "/password", change_to(other))
    assert again.status_code == 200 and "パスワードを変更しました" in again.text, again.text[:300]
    started.extra_current = other


# --- one-time password (SITE-5) -------------------------------------------------------------


async def otp_stage(s: Site) -> None:
    """A login with the one-time password on, at the code page, a code mailed."""
    s.clock.advance(seconds=30)  # SITE-5: one code every 30 seconds at most
    login = await s.login(CONTRACT, GOOD)
    assert login.headers["location"] == "/login/otp", login.text[:300]
    sent = await post(s, "/login/otp/send", {}, page="/login/otp")
    assert sent.status_code == 200, sent.text[:300]


@settings(max_examples=5)
@given(value=hostile_text)
async def test_hostile_SITE_5_one_time_password_field(started: Started, value: str) -> None:
    s = started.site
    if not started.done:
        s.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
        await s.login(CONTRACT, web.TEMP)
        await post(
            s,
            "/password",
            {"current_password": web.TEMP, "new_password": GOOD, "confirm_password": GOOD},
        )
        await s.login(CONTRACT, GOOD)
        await post(s, "/otp/choice", {"choice": "use"})
        # The form, 次へ, then 登録 on the 確認 step (seeds P.7).
        checked = await post(s, "/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION})
        assert checked.status_code == 200, checked.text[:300]
        enrolled = await post(
            s, "/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, "confirmed": "1"}
        )
        assert enrolled.status_code == 200, enrolled.text[:300]
        await s.client.get(f"/otp/verify?token={s.last_link_token()}")
        started.done = True
    await otp_stage(s)
    guessable = SIX_DIGITS.fullmatch(value) is not None
    before = state(s, counters=not guessable)
    response = await post(s, "/login/otp", {"otp_code": value})
    assert_clear_refusal(response)
    if response.status_code != 303:
        # Only a well-formed code counts as a guess; anything else changes nothing.
        assert state(s, counters=not guessable) == before, value
    done = await post(s, "/login/otp", {"otp_code": s.last_code()})
    if response.status_code != 303:
        assert done.headers.get("location") == "/", done.text[:300]


# --- auth unit change (SITE-8) --------------------------------------------------------------


@settings(max_examples=6)
@given(
    field=st.sampled_from(["unit", f"password_{CONTRACT}", "password_", "password_x" * 3]),
    value=hostile_text,
)
async def test_hostile_SITE_8_auth_unit_fields(started: Started, field: str, value: str) -> None:
    s = started.site
    if not started.done:
        await s.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
        started.done = True
    valid = {"unit": "admin_user", f"password_{CONTRACT}": GOOD}
    counted = field == f"password_{CONTRACT}"  # a wrong password counts (item 7)
    before = state(s, counters=not counted)
    response = await post(s, "/auth-unit", {**valid, field: value})
    assert_clear_refusal(response)
    if response.status_code >= 400:
        assert state(s, counters=not counted) == before, (field, value)
        ok = await s.login(CONTRACT, GOOD)  # the page's refusal left the login working
        assert ok.status_code == 303 and ok.headers["location"] == "/", ok.text[:300]
        return
    # The hostile value did not matter (e.g. an extra field): the change was made; undo it.
    assert "認証単位を" in response.text
    await s.login(CONTRACT, GOOD)
    back = await post(s, "/auth-unit", {"unit": "line", f"password_{CONTRACT}": GOOD})
    assert back.status_code == 200, back.text[:300]
    await s.login(CONTRACT, GOOD)
