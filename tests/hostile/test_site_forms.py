"""Hostile input into the settings site's forms and headers (issue 12).

Every field of the notification-settings, designated-numbers, bulk and
history/search forms, and the Host, X-Forwarded-For, Content-Length and
Content-Type headers, gets random and boundary values. For each: an answer
that is not a 500 (a Japanese page for every refusal), every table exactly
as it was when refused, and the valid form right after still saved. Both
databases; one login per test, one site for all of its examples.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import db, service
from store.models import AuthUnit
from tests.builders import snapshot
from tests.hostile.conftest import BOUNDARY_TEXT, hostile_text
from tests.web import conftest as web
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

# The settings site's fixtures (tests/web/conftest.py), for this suite outside tests/web.
site_line, site, site_config = web.site_line, web.site, web.site_config
site_access_numbers = web.site_access_numbers

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
N = f"/numbers/{EXTRA}"

# Each form with a valid filling; a test replaces one field (or adds one) with a hostile value.
FORMS: dict[str, dict[str, str]] = {
    f"{N}/service": {"action": "stop"},
    f"{N}/addresses": {
        "address_1": "boss@example.jp",
        "send_1": "1",
        "address_2": "",
        "send_2": "1",
        "address_5": "",
    },
    f"{N}/conditions": {"designated_only": "1", "unanswered_only": "1"},
    f"{N}/designated": {
        "rows": "2",
        "caller_number_1": "0311112222",
        "designated_1": "1",
        "caller_number_2": "",
        "designated_2": "1",
    },
    "/bulk": {
        "number": EXTRA,
        "mail_started": "off",
        "designated_only": "on",
        "unanswered_only": "",
        "add_address": "",
        "add_address_send": "1",
    },
}
FIELDS = [(path, name) for path, form in FORMS.items() for name in form] + [
    (f"{N}/designated", "caller_number_31"),
    (f"{N}/addresses", "address_6"),
    ("/bulk", "number"),
]


def state(of: Site) -> dict[str, list[tuple[object, ...]]]:
    found = snapshot(of.sessions.kw["bind"])
    found.pop("site_session")
    return found


class Session:
    """The logged-in site and its CSRF token, kept across a test's examples."""

    def __init__(self, logged_in: Site) -> None:
        self.site = logged_in
        self.token = ""

    async def start(self) -> None:
        if not self.token:
            with db.transaction(self.site.sessions) as s:
                # MAIL-4 (a) needs a flagged designated number (issue 14): the valid
                # conditions and bulk forms switch it on.
                service.add_designated(s, EXTRA, "0399998888")
            await self.site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
            self.token = await self.site.csrf("/bulk")

    async def post(
        self, path: str, form: dict[str, str], headers: dict[str, Any] | None = None
    ) -> httpx.Response:
        body = urllib.parse.urlencode({"csrf_token": self.token, **form})
        return await self.site.client.post(
            path,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )


def assert_clear_refusal(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert JAPANESE.search(response.text), response.text[:500]


@pytest.fixture
def session(site: Site) -> Session:
    return Session(site)


@settings(max_examples=20)
@given(field=st.sampled_from(FIELDS), value=hostile_text)
async def test_hostile_SITE_7_MAIL_1_to_5_every_settings_field(
    session: Session, field: tuple[str, str], value: str
) -> None:
    await session.start()
    path, name = field
    before = state(session.site)
    response = await session.post(path, {**FORMS[path], name: value})
    assert_clear_refusal(response)
    if response.status_code >= 400:
        assert state(session.site) == before, (path, name, value)
    valid = await session.post(path, FORMS[path])
    assert valid.status_code in (200, 303), (path, valid.text[:500])


@settings(max_examples=15)
@given(
    path=st.sampled_from(["/numbers", "/bulk", f"{N}/history", f"{N}/designated"]),
    query=hostile_text,
    number=st.one_of(st.just(EXTRA), hostile_text),
)
async def test_hostile_SITE_7_search_and_history(
    session: Session, path: str, query: str, number: str
) -> None:
    await session.start()
    before = state(session.site)
    page = await session.site.client.get(path, params={"q": query})
    assert_clear_refusal(page)
    other = await session.site.client.get(
        "/numbers/" + urllib.parse.quote(number, safe="") + "/history"
    )
    assert_clear_refusal(other)
    assert state(session.site) == before
    assert (await session.site.client.get(f"{N}/history")).status_code == 200


HEADER_VALUES = st.one_of(
    st.sampled_from([*BOUNDARY_TEXT, "0", "-1", "1" * 30, "multipart/form-data; boundary=x"]),
    st.text(max_size=60),
)


@settings(max_examples=20)
@given(
    header=st.sampled_from(["Host", "X-Forwarded-For", "Content-Length", "Content-Type"]),
    value=HEADER_VALUES,
    path=st.sampled_from(["/login", f"{N}/conditions", "/otp/csv"]),
)
async def test_hostile_SITE_1_headers(session: Session, header: str, value: str, path: str) -> None:
    await session.start()
    before = state(session.site)
    raw = value.encode("utf-8")
    response = await session.post(path, FORMS[f"{N}/conditions"], headers={header: raw})
    assert_clear_refusal(response)
    if response.status_code >= 400 or path != f"{N}/conditions":
        assert state(session.site) == before, (header, value, path)
    valid = await session.post(f"{N}/conditions", FORMS[f"{N}/conditions"])
    assert valid.status_code == 303, valid.text[:500]
