"""CALL-2 over HTTP (issue 16): the 迷惑電話おことわり page of one number.

The list (30 at most, with its count), an entry added as people type it, one
removed by its position and the handle its button carries (the hidden
entries of 144-2 have no number to name them by), and what is refused: each
refusal by its field in Japanese, every table as it was (a snapshot). What
the page saves is what ``chakushin number show`` prints right after, against
the same database. SITE-1: a user-scope login reaches no other number's list.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from chakushin import bootstrap
from chakushin.cli import cli
from chakushin.config import Config
from dialplan.config import CallConfig
from store import db, service
from store.models import AuthUnit, Service
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD
from web.app import create_app
from web.texts import page

pytestmark = pytest.mark.asyncio

PAGE = f"/numbers/{EXTRA}/nuisance"
LISTED = "0398765432"
WITHHELD = "0311112222"  # the digits a withheld caller's network still sent (144-2)


def unchanged(site: Site, before: dict[str, Any]) -> bool:
    after = snapshot(site.sessions.kw["bind"])
    after.pop("site_session")
    return after == before


def listed(site: Site, number: str = EXTRA, *callers: str, hidden: str | None = None) -> None:
    with db.transaction(site.sessions) as s:
        for caller in callers:
            service.add_nuisance(s, number, caller)
        if hidden is not None:
            service.add_nuisance(s, number, hidden, hidden=True)


def stored(site: Site, number: str = EXTRA) -> list[dict[str, Any]]:
    with db.transaction(site.sessions, read_only=True) as s:
        return list(service.describe_number(service.get_number(s, number))["nuisance_list"])


def chakushin(db_url: str, workdir: Path, *args: str) -> Result:
    """``chakushin …`` in-process against the site's database (as tests/cli does)."""
    result = CliRunner().invoke(
        cli,
        list(args),
        env={"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(workdir / "data")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return result


async def logged_in(site: Site, number: str = EXTRA, unit: AuthUnit = AuthUnit.NUMBER) -> None:
    await site.establish(number, number, unit, GOOD)


async def add(site: Site, caller: str) -> httpx.Response:
    return await site.post(PAGE, {"action": "add", "caller_number": caller})


def forms_to(text: str, path: str) -> int:
    return text.count(f'action="{path}"')


def buttons(text: str) -> dict[str, str]:
    """Each 削除 button's entry handle by its position, as the page's forms carry them."""
    return dict(
        re.findall(
            r'name="position" value="(\d+)">\s*<input type="hidden" name="entry" value="([^"]*)"',
            text,
        )
    )


async def remove(site: Site, position: int) -> httpx.Response:
    """The 削除 button of ``position`` on the page as it is now."""
    handle = buttons((await site.client.get(PAGE)).text)[str(position)]
    return await site.post(PAGE, {"action": "remove", "position": str(position), "entry": handle})


async def test_issue16_CALL_2_the_list_with_its_count_and_a_withheld_caller_without_digits(
    site: Site,
) -> None:
    listed(site, EXTRA, LISTED, hidden=WITHHELD)
    await logged_in(site)
    shown = await site.client.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert "<h1>迷惑電話おことわり" in shown.text and f"（{EXTRA}）" in shown.text
    assert "登録件数: 2件(30件まで)" in shown.text
    assert LISTED in shown.text
    assert "非通知" in shown.text
    # Issue 16: a hidden entry shows no digit of what is stored, anywhere in the HTML.
    assert WITHHELD not in shown.text and WITHHELD[2:] not in shown.text
    the_list = shown.text.split("<h2>迷惑電話リスト</h2>")[1].split("</section>")[0]
    rest = re.sub(r'name="csrf_token" value="[^"]*"', "", the_list)
    rest = rest.replace(LISTED, "").replace(f'action="{PAGE}"', "")
    assert re.findall(r"\d{3,}", rest) == [], "the list shows no digits but the listed number"
    # Each entry its 削除 button (by position), and the add form.
    assert shown.text.count(">削除</button>") == 2
    # Each button names its entry by a handle of letters, never by the caller's digits.
    handles = buttons(shown.text)
    assert sorted(handles) == ["1", "2"] and len(set(handles.values())) == 2
    assert all(h.isascii() and h.isalpha() for h in handles.values())
    assert forms_to(shown.text, PAGE) == 3
    assert 'name="caller_number"' in shown.text
    # The phone's feature code and what the list does for the mail (MAIL-7).
    assert "「144」" in shown.text and "「2」" in shown.text
    assert (
        "「迷惑電話リスト」に登録された電話番号からの着信には、お知らせメールを送信しません"
        in shown.text
    )


async def test_issue16_CALL_2_an_entry_as_people_type_it_is_shown_at_once_and_by_the_cli(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await logged_in(site)
    added = await add(site, "０３－９８７６－５４３２")
    assert added.status_code == 303 and added.headers["location"] == f"{PAGE}?saved=added"
    shown = await site.client.get(added.headers["location"])
    assert "迷惑電話リストに登録しました。" in shown.text
    assert LISTED in shown.text and "登録件数: 1件(30件まで)" in shown.text
    again = await add(site, "090-1234-5678")  # hyphens as typed, a mobile number
    assert again.status_code == 303
    assert stored(site) == [
        {"position": 1, "caller_number": LISTED, "hidden": False},
        {"position": 2, "caller_number": "09012345678", "hidden": False},
    ]
    out = chakushin(db_url, tmp_config, "number", "show", EXTRA).stdout
    assert "nuisance list (2/30):" in out
    assert f"1. {LISTED}" in out and "2. 09012345678" in out
    as_json = json.loads(chakushin(db_url, tmp_config, "number", "show", EXTRA, "--json").stdout)
    assert as_json["nuisance_list"] == stored(site)


async def test_issue16_CALL_2_an_entry_and_a_hidden_one_are_removed_by_position(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    listed(site, EXTRA, LISTED, hidden=WITHHELD)
    await logged_in(site)
    gone = await remove(site, 2)
    assert gone.status_code == 303 and gone.headers["location"] == f"{PAGE}?saved=removed"
    shown = await site.client.get(gone.headers["location"])
    assert "迷惑電話リストから削除しました。" in shown.text
    assert "登録件数: 1件(30件まで)" in shown.text and shown.text.count(">削除</button>") == 1
    assert "非通知" not in shown.text.split("<h2>迷惑電話リスト</h2>")[1].split("</section>")[0]
    assert stored(site) == [{"position": 1, "caller_number": LISTED, "hidden": False}]
    out = chakushin(db_url, tmp_config, "number", "show", EXTRA).stdout
    assert "nuisance list (1/30):" in out and "withheld" not in out
    assert (await remove(site, 1)).status_code == 303
    assert stored(site) == []
    empty = await site.client.get(PAGE)
    assert "登録件数: 0件(30件まで)" in empty.text and ">削除</button>" not in empty.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("03-9876-5432", "この電話番号はすでに迷惑電話リストに登録されています。"),
        ("", "電話番号を入力してください。"),
        ("03-9876-543x", "電話番号は数字で入力してください"),
        ("03\x009876\x075432", "電話番号は数字で入力してください"),
        ("0" + "1" * 18, "電話番号は市外局番から入力してください"),  # 19 digits: too long
        ("0" * 65, "電話番号は市外局番から入力してください"),  # over the typed limit
        ("+81398765432", "電話番号は数字で入力してください"),  # not what add_nuisance takes
    ],
)
async def test_issue16_CALL_2_a_refused_entry_is_said_by_its_field_and_nothing_changes(
    site: Site, typed: str, message: str
) -> None:
    listed(site, EXTRA, LISTED)
    await logged_in(site)
    before = site.state()
    refused = await add(site, typed)
    assert refused.status_code == 400, refused.text
    assert message in refused.text
    assert 'aria-invalid="true" aria-describedby="caller_number-error"' in refused.text
    assert re.search(
        r'<p class="error" id="caller_number-error">[^<]*' + re.escape(message), refused.text
    )
    assert "\x00" not in refused.text and "\x07" not in refused.text
    assert "登録件数: 1件(30件まで)" in refused.text  # the list as stored, still there
    assert unchanged(site, before)


async def test_issue16_CALL_2_the_31st_entry_is_refused_and_nothing_changes(site: Site) -> None:
    listed(site, EXTRA, *(f"03{i:08d}" for i in range(1, 30)), hidden=WITHHELD)
    await logged_in(site)
    full = await site.client.get(PAGE)
    assert "登録件数: 30件(30件まで)" in full.text and full.text.count(">削除</button>") == 30
    before = site.state()
    refused = await add(site, "09012345678")
    assert refused.status_code == 400
    assert "迷惑電話リストに登録できる電話番号は30件までです。" in refused.text
    assert 'aria-describedby="caller_number-error"' in refused.text
    assert unchanged(site, before)


@pytest.mark.parametrize(
    "data",
    [
        {"action": "drop", "position": "1"},
        {"caller_number": "0311110000"},  # no action
        {"action": "remove", "entry": LISTED},  # no position
        {"action": "remove", "position": "1"},  # no entry
        {"action": "remove", "position": "x", "entry": LISTED},
        {"action": "remove", "position": "0", "entry": LISTED},
        {"action": "remove", "position": "31", "entry": LISTED},
        {"action": "remove", "position": "١", "entry": LISTED},  # not a half-width digit
        {"action": "remove", "position": "-1", "entry": LISTED},
    ],
)
async def test_issue16_CALL_2_a_forged_action_or_position_is_a_bad_form(
    site: Site, data: dict[str, str]
) -> None:
    listed(site, EXTRA, LISTED)
    await logged_in(site)
    before = site.state()
    refused = await site.post(PAGE, data)
    assert refused.status_code == 400
    assert page("form.refused") in refused.text
    assert unchanged(site, before)


@pytest.mark.parametrize(
    "entry",
    [
        {"position": "5", "entry": LISTED},  # removed meanwhile
        {"position": "1", "entry": LISTED},  # removed, and its position taken by the next one
        {"position": "1", "entry": "hidden"},  # a visible entry is not the hidden one shown
    ],
)
async def test_issue16_CALL_2_a_stale_remove_button_removes_no_other_caller(
    site: Site, entry: dict[str, str]
) -> None:
    """A page left open while the list changed (another tab, the phone's 144-2)."""
    await logged_in(site)
    listed(site, EXTRA, "0311110000")  # now at position 1, where LISTED was
    before = site.state()
    stale = await site.post(PAGE, {"action": "remove", **entry})
    assert stale.status_code == 400
    assert "この電話番号は迷惑電話リストに登録されていません" in stale.text
    assert "登録件数: 1件(30件まで)" in stale.text
    assert unchanged(site, before)
    assert stored(site) == [{"position": 1, "caller_number": "0311110000", "hidden": False}]


async def test_issue16_CALL_2_a_stale_button_of_a_hidden_entry_removes_no_other_hidden_one(
    site: Site,
) -> None:
    """Every hidden entry looks alike: the button names its own, not "a hidden one"."""
    listed(site, EXTRA, hidden=WITHHELD)
    await logged_in(site)
    stale = buttons((await site.client.get(PAGE)).text)["1"]
    with db.transaction(site.sessions) as s:  # meanwhile: removed in another tab, and the
        service.remove_nuisance(s, EXTRA, position=1)  # phone's 144-2 lists another withheld
        service.add_nuisance(s, EXTRA, "0322220002", hidden=True)  # caller at position 1
    before = site.state()
    refused = await site.post(PAGE, {"action": "remove", "position": "1", "entry": stale})
    assert refused.status_code == 400
    assert "この電話番号は迷惑電話リストに登録されていません" in refused.text
    assert unchanged(site, before)
    assert stored(site) == [{"position": 1, "caller_number": None, "hidden": True}]
    assert (await remove(site, 1)).status_code == 303  # its own button, from the page as it is
    assert stored(site) == []


async def test_issue16_CALL_2_a_typed_number_equal_to_a_hidden_entry_is_added_as_any_other(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    """No oracle: a wrong and a right guess of a withheld caller's digits read the same."""
    listed(site, EXTRA, hidden=WITHHELD)
    await logged_in(site)
    pages = []
    for guess in ("0311113333", "03-1111-2222"):
        added = await add(site, guess)
        assert added.status_code == 303 and added.headers["location"] == f"{PAGE}?saved=added"
        shown = (await site.client.get(added.headers["location"])).text
        assert "迷惑電話リストに登録しました。" in shown and "すでに" not in shown
        pages.append(shown)
    assert "登録件数: 3件(30件まで)" in pages[1]
    assert stored(site) == [
        {"position": 1, "caller_number": None, "hidden": True},
        {"position": 2, "caller_number": "0311113333", "hidden": False},
        {"position": 3, "caller_number": WITHHELD, "hidden": False},
    ]
    out = chakushin(db_url, tmp_config, "number", "show", EXTRA).stdout
    assert "nuisance list (3/30):" in out and f"3. {WITHHELD}" in out
    # Removing the typed one leaves the hidden one: the page shows one entry fewer.
    assert (await remove(site, 3)).status_code == 303
    assert stored(site)[0] == {"position": 1, "caller_number": None, "hidden": True}
    assert len(stored(site)) == 2


async def test_issue16_CALL_2_a_too_long_number_is_told_the_digits_the_page_takes(
    site: Site,
) -> None:
    """19 digits: the page takes 10 to 18 (010 and a number abroad), not "10 or 11"."""
    await logged_in(site)
    refused = await add(site, "0" + "1" * 18)
    assert refused.status_code == 400
    assert "電話番号は市外局番から入力してください(0から始まる10～18桁)。" in refused.text
    assert "10桁または11桁" not in refused.text


async def test_issue16_CALL_2_every_change_needs_the_csrf_token(site: Site) -> None:
    listed(site, EXTRA, LISTED)
    await logged_in(site)
    before = site.state()
    for data in (
        {"action": "add", "caller_number": "0311110000"},
        {"action": "remove", "position": "1", "entry": LISTED},
    ):
        missing = await site.client.post(PAGE, data=data)
        wrong = await site.client.post(PAGE, data={"csrf_token": "forged", **data})
        assert missing.status_code == wrong.status_code == 403
    assert unchanged(site, before)


async def test_issue16_CALL_2_a_number_without_the_service_is_told_and_offered_no_form(
    site: Site,
) -> None:
    listed(site, EXTRA, LISTED)
    with db.transaction(site.sessions) as s:
        service.set_services(s, EXTRA, disable=[Service.NUISANCE])
    await logged_in(site)
    shown = await site.client.get(PAGE)
    assert shown.status_code == 200
    assert "この電話番号は迷惑電話おことわりを契約していません。" in shown.text
    assert "着信お知らせメールを契約していません" not in shown.text
    assert forms_to(shown.text, PAGE) == 0 and 'name="caller_number"' not in shown.text
    before = site.state()
    for data in (
        {"action": "add", "caller_number": "0311110000"},
        {"action": "remove", "position": "1", "entry": LISTED},
    ):
        refused = await site.post(PAGE, data)
        assert refused.status_code == 403
        assert "この電話番号は迷惑電話おことわりを契約していません。" in refused.text
        assert forms_to(refused.text, PAGE) == 0
    assert unchanged(site, before)


async def test_issue16_SITE_1_CALL_2_a_user_reaches_no_other_numbers_list(site: Site) -> None:
    listed(site, CONTRACT, LISTED, hidden=WITHHELD)
    await logged_in(site, EXTRA, AuthUnit.ADMIN_USER)  # a user: manages EXTRA only
    own = await site.client.get(PAGE)
    assert own.status_code == 200
    before = site.state()
    other = f"/numbers/{CONTRACT}/nuisance"
    seen = await site.client.get(other)
    assert seen.status_code == 403 and LISTED not in seen.text and "非通知" not in seen.text
    for data in (
        {"action": "add", "caller_number": "0311110000"},
        {"action": "remove", "position": "1", "entry": LISTED},
        {"action": "remove", "position": "2", "entry": "hidden"},
    ):
        refused = await site.post(other, data, page=PAGE)
        assert refused.status_code == 403, data
    assert unchanged(site, before)
    assert len(stored(site, CONTRACT)) == 2


async def test_issue16_CALL_2_the_page_names_the_configured_feature_code(site: Site) -> None:
    """``call.nuisance_feature_code``: the code the dialplan answers is the one the page says."""
    config = Config(call=CallConfig(nuisance_feature_code="1441"))
    deps = dataclasses.replace(bootstrap.site_deps(config, site.sessions), clock=site.clock)
    assert deps.nuisance_feature_code == "1441"
    await logged_in(site)
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies=site.client.cookies
    ) as other:
        shown = await other.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert "「1441」" in shown.text and "「144」" not in shown.text
