"""SITE-1, issue 14 flow 8: the login's number has a length limit, checked before it is used.

Numbers are taken as typed (０３…, 03-1234-5678), but a subscriber number is 10 or 11
digits: a forged field of tens of thousands of digits is refused by its field, in
Japanese, before any lookup, counts nothing and is not written back into the page.
"""

from __future__ import annotations

import pytest

from store.models import AuthUnit
from tests.web.conftest import CONTRACT, Site
from tests.web.steps import GOOD
from web.texts import ERRORS

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("number", ["0" + "3" * 40_000, "031234567890", "0312-3456-7890"])
async def test_SITE_1_an_over_long_login_number_is_refused_by_its_field(
    site: Site, number: str
) -> None:
    before = site.state()
    refused = await site.post("/login", {"number": number, "password": GOOD}, page="/login")
    assert refused.status_code == 400, refused.status_code
    assert ERRORS["number_format"] in refused.text
    assert "3" * 1000 not in refused.text  # not written back whole
    assert site.state() == before
    # A number as typed, of a subscriber's length, is still taken.
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    ok = await site.login("03-1234-5678", GOOD)
    assert ok.status_code == 303, ok.text[:300]

