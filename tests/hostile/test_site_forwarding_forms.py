"""Hostile input into the ナンバー・リクエスト and ボイスワープ forms (issue 16, CALL-3, CALL-4).

Every field of both forms, and a field neither page has, gets random and
boundary values. For each: an answer that is not a 500 (a Japanese page
for every refusal), every table exactly as it was when refused, and the
valid form right after still saved. Both databases, with the payphone and
unavailable options on (``site.number_request_options``) so that their
checkboxes are fields too.
"""

from __future__ import annotations

import re
import urllib.parse

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chakushin.config import SiteConfig
from store.models import AuthUnit
from tests.builders import snapshot
from tests.hostile.conftest import hostile_text
from tests.web import conftest as web
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

# The settings site's fixtures (tests/web/conftest.py), for this suite outside tests/web.
site_line, site, site_access_numbers = web.site_line, web.site, web.site_access_numbers

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
N = f"/numbers/{EXTRA}"

FORMS: dict[str, dict[str, str]] = {
    f"{N}/number-request": {"enabled": "on", "reject_payphone": "1", "reject_unavailable": "1"},
    f"{N}/voice-warp": {
        "enabled": "on",
        "destination": "090-1234-5678",
        "mode": "no_answer",
        "ring_seconds": "15",
    },
}
FIELDS = [(path, name) for path, form in FORMS.items() for name in form] + [
    (f"{N}/voice-warp", "extra_field"),
]


@pytest.fixture
def site_config() -> SiteConfig:
    return SiteConfig(number_request_options=True)


class Session:
    """The logged-in site and its CSRF token, kept across a test's examples."""

    def __init__(self, logged_in: Site) -> None:
        self.site = logged_in
        self.token = ""

    async def start(self) -> None:
        if not self.token:
            await self.site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
            self.token = await self.site.csrf(f"{N}/voice-warp")

    async def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        body = urllib.parse.urlencode({"csrf_token": self.token, **form})
        return await self.site.client.post(
            path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )


@pytest.fixture
def session(site: Site) -> Session:
    return Session(site)


@settings(max_examples=30)
@given(field=st.sampled_from(FIELDS), value=hostile_text)
async def test_hostile_issue16_CALL_3_CALL_4_every_field_of_both_forms(
    session: Session, field: tuple[str, str], value: str
) -> None:
    await session.start()
    path, name = field
    before = snapshot(session.site.sessions.kw["bind"])
    before.pop("site_session")
    response = await session.post(path, {**FORMS[path], name: value})
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert JAPANESE.search(response.text), response.text[:500]
        after = snapshot(session.site.sessions.kw["bind"])
        after.pop("site_session")
        assert after == before, (path, name, value)
    valid = await session.post(path, FORMS[path])
    assert valid.status_code == 303, (path, valid.text[:500])
