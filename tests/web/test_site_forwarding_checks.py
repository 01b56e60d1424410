"""Issue 16's review of the ナンバー・リクエスト (CALL-3) and ボイスワープ (CALL-4) pages.

The number itself in international form is no destination; a typed
destination comes back without control or bidi characters; 設定しました is
said only after the page's own save; a number too long is told the digits
the page takes. Both databases (the ``site`` fixture), every table as it
was after a refusal.
"""

from __future__ import annotations

import re

import pytest

from store import db, service
from store.models import AuthUnit
from tests.web.conftest import EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

NR = f"/numbers/{EXTRA}/number-request"
VW = f"/numbers/{EXTRA}/voice-warp"
SAVED = '<p class="notice">設定しました。</p>'
FORM = {"enabled": "on", "mode": "no_answer", "ring_seconds": "20"}


async def logged_in(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)


def destination(site: Site) -> str | None:
    with db.transaction(site.sessions, read_only=True) as s:
        found: str | None = service.describe_number(service.get_number(s, EXTRA))["voice_warp"][
            "destination"
        ]
        return found


def echoed(text: str) -> str:
    found = re.search(r'id="destination" name="destination"[^>]*value="([^"]*)"', text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    "typed",
    [
        "010-81-3-1234-5679",  # 010, 81, the number without its 0, as people type it
        "０１０８１３１２３４５６７９",  # the same in full-width digits
        "0081312345679",
    ],
)
async def test_issue16_CALL_4_the_number_itself_in_international_form_is_no_destination(
    site: Site, typed: str
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(VW, FORM | {"destination": typed})
    assert refused.status_code == 400, refused.text
    assert (
        '<p class="error" id="destination-error">転送先に、この電話番号そのものは設定できません。'
        in refused.text
    )
    assert site.state() == before


async def test_issue16_CALL_4_a_typed_destination_comes_back_without_control_or_bidi_marks(
    site: Site,
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(VW, FORM | {"destination": "\u200f090\x0012\u202e345\x07678"})
    assert refused.status_code == 400
    assert echoed(refused.text) == "09012345678"
    for mark in ("\x00", "\x07", "\u200f", "\u202e"):
        assert mark not in refused.text
    assert site.state() == before


async def test_issue16_CALL_4_a_destination_too_long_is_told_the_digits_the_page_takes(
    site: Site,
) -> None:
    await logged_in(site)
    refused = await site.post(VW, FORM | {"destination": "0" + "1" * 18})  # 19 digits
    assert refused.status_code == 400
    assert (
        '<p class="error" id="destination-error">'
        "電話番号は市外局番から入力してください(0から始まる10～18桁。海外へは010から)。"
    ) in refused.text
    assert "10桁または11桁" not in refused.text
    assert destination(site) is None


@pytest.mark.parametrize("path", [NR, VW])
async def test_issue16_CALL_3_CALL_4_only_the_pages_own_save_says_it_was_saved(
    site: Site, path: str
) -> None:
    await logged_in(site)
    for forged in ("<b>x</b>", "0", "yes", "11", "1 "):
        shown = await site.client.get(path, params={"saved": forged})
        assert shown.status_code == 200
        assert SAVED not in shown.text, forged
        assert "<b>x</b>" not in shown.text
    plain = await site.client.get(path)
    assert SAVED not in plain.text
    form = {"enabled": "off"} if path == NR else FORM | {"destination": "09012345678"}
    saved = await site.post(path, form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?saved=1"
    assert SAVED in (await site.client.get(saved.headers["location"])).text
