"""Issue 16 over HTTP: Number Request (CALL-3, MAIL-6) and Voice Warp (CALL-4, MAIL-8) pages.

Each form is saved whole or not at all through the domain layer (proved with
a snapshot of every table); a refusal is said by its field in Japanese; the
change is read back at once by the operator's ``chakushin number show`` on
the same database (SQLite and PostgreSQL, by the fixtures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agi.prompts import TEXTS, Prompt
from chakushin.cli import cli
from chakushin.config import SiteConfig
from store import db, service
from store.models import AuthUnit, Service
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

NR = f"/numbers/{EXTRA}/number-request"
VW = f"/numbers/{EXTRA}/voice-warp"
MAIL_8 = (
    "転送条件にかかわらず全てお知らせメールを送信します。"
    "ただし、転送先が話し中などで転送されなかった場合は除きます。"
)
MAIL_6 = "電話をかけてきた相手が非通知により拒否された着信には、お知らせメールを送信しません。"
BAD_FORM = "入力内容が正しくありません。画面を表示し直して、もう一度操作してください。"
RING_WORDS = "呼出時間は5～60秒の間で、数字で入力してください。"


@pytest.fixture
def site_config(request: pytest.FixtureRequest) -> SiteConfig:
    """``site.number_request_options`` as the test asks (indirect), false by default."""
    return SiteConfig(number_request_options=bool(getattr(request, "param", False)))


def show(db_url: str, tmp_config: Path, number: str, *json_flag: str) -> str:
    """``chakushin number show NUMBER`` on the site's database, as the operator runs it."""
    result = CliRunner().invoke(
        cli,
        ["number", "show", number, *json_flag],
        env={"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(tmp_config / "data")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout


def shown_json(db_url: str, tmp_config: Path, number: str = EXTRA) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(show(db_url, tmp_config, number, "--json"))
    return found


async def logged_in(site: Site, number: str = EXTRA, unit: AuthUnit = AuthUnit.NUMBER) -> None:
    await site.establish(number, number, unit, GOOD)


def unsubscribe(site: Site, what: Service) -> None:
    with db.transaction(site.sessions) as s:
        service.set_services(s, EXTRA, disable=[what])


# --- Number Request (CALL-3) --------------------------------------------------------------


async def test_issue16_CALL_3_number_request_on_and_off_with_its_guidance_and_MAIL_6(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await logged_in(site)
    got = await site.client.get(NR)
    assert got.status_code == 200
    assert "<h1>ナンバー・リクエスト" in got.text and EXTRA in got.text  # the heading's number
    assert TEXTS[Prompt.CALL_REJECTED_WITHHELD] in got.text  # what a refused caller hears
    assert "電話番号の前に186をつけて" in got.text
    assert MAIL_6 in got.text
    assert 'name="reject_payphone"' not in got.text  # the operator's (options off)
    assert 'name="reject_unavailable"' not in got.text
    assert "停止中" in got.text
    on = await site.post(NR, {"enabled": "on"})
    assert on.status_code == 303 and on.headers["location"] == f"{NR}?saved=1"
    assert "開始中" in (await site.client.get(on.headers["location"])).text
    assert "number request:  on (payphone off, unavailable off)" in show(db_url, tmp_config, EXTRA)
    assert shown_json(db_url, tmp_config)["number_request"]["enabled"] is True
    off = await site.post(NR, {"enabled": "off"})
    assert off.status_code == 303
    assert shown_json(db_url, tmp_config)["number_request"] == {
        "enabled": False,
        "reject_payphone": False,
        "reject_unavailable": False,
    }


async def test_issue16_CALL_3_options_off_a_form_with_them_is_refused_and_the_operators_kept(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    with db.transaction(site.sessions) as s:  # the operator's choice, by the CLI's function
        service.set_number_request(s, EXTRA, reject_payphone=True)
    await logged_in(site)
    got = await site.client.get(NR)
    assert "公衆電話からの着信も、開始中はお断りします" in got.text  # said, not settable
    before = site.state()
    for forged in ({"reject_payphone": ""}, {"reject_payphone": "1"}, {"reject_unavailable": "1"}):
        refused = await site.post(NR, {"enabled": "on", **forged})
        assert refused.status_code == 400 and BAD_FORM in refused.text, forged
        assert site.state() == before, forged
    saved = await site.post(NR, {"enabled": "on"})
    assert saved.status_code == 303
    assert shown_json(db_url, tmp_config)["number_request"] == {
        "enabled": True,
        "reject_payphone": True,  # untouched by the page
        "reject_unavailable": False,
    }


@pytest.mark.parametrize("site_config", [True], indirect=True)
async def test_issue16_CALL_3_options_on_payphone_and_unavailable_are_checkboxes(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await logged_in(site)
    got = await site.client.get(NR)
    assert 'type="checkbox" name="reject_payphone" value="1"' in got.text
    assert 'type="checkbox" name="reject_unavailable" value="1"' in got.text
    assert TEXTS[Prompt.CALL_REJECTED_PAYPHONE] in got.text
    assert TEXTS[Prompt.CALL_REJECTED_UNAVAILABLE] in got.text
    saved = await site.post(NR, {"enabled": "on", "reject_payphone": "1"})
    assert saved.status_code == 303
    assert "number request:  on (payphone on, unavailable off)" in show(db_url, tmp_config, EXTRA)
    again = await site.post(NR, {"enabled": "on", "reject_unavailable": "1"})  # payphone unticked
    assert again.status_code == 303
    assert shown_json(db_url, tmp_config)["number_request"] == {
        "enabled": True,
        "reject_payphone": False,
        "reject_unavailable": True,
    }
    before = site.state()
    refused = await site.post(NR, {"enabled": "on", "reject_payphone": "on"})  # not "1"
    assert refused.status_code == 400 and site.state() == before


@pytest.mark.parametrize("forged", [{}, {"enabled": "1"}, {"enabled": "yes"}, {"enabled": "ON"}])
async def test_issue16_CALL_3_enabled_not_on_or_off_is_a_bad_form(
    site: Site, forged: dict[str, str]
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(NR, forged)
    assert refused.status_code == 400 and BAD_FORM in refused.text
    assert site.state() == before


async def test_issue16_CALL_3_a_number_without_the_service_is_told_so_and_keeps_it(
    site: Site,
) -> None:
    unsubscribe(site, Service.NUMBER_REQUEST)
    await logged_in(site)
    got = await site.client.get(NR)
    assert got.status_code == 200
    assert "この電話番号はナンバー・リクエストを契約していません。" in got.text
    assert "着信お知らせメールを契約していません" not in got.text
    assert 'name="enabled"' not in got.text  # no form
    before = site.state()
    refused = await site.post(NR, {"enabled": "on"}, page=f"/numbers/{EXTRA}/conditions")
    assert refused.status_code == 403
    assert "この電話番号はナンバー・リクエストを契約していません。" in refused.text
    assert site.state() == before


# --- Voice Warp (CALL-4) ------------------------------------------------------------------------


async def test_issue16_CALL_4_no_answer_with_a_ring_time_typed_as_people_type_it(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await logged_in(site)
    got = await site.client.get(VW)
    assert got.status_code == 200
    assert "<h1>ボイスワープ" in got.text and EXTRA in got.text
    assert MAIL_8 in got.text
    for mode in ("unconditional", "no_answer", "busy"):
        assert f'name="mode" value="{mode}"' in got.text
    assert "無条件転送" in got.text and "無応答時転送" in got.text and "話中時転送" in got.text
    assert "5～60秒" in got.text  # the CLI's limits
    saved = await site.post(
        VW,
        {
            "enabled": "on",
            "destination": "０９０－１２３４－５６７８",
            "mode": "no_answer",
            "ring_seconds": "１５",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{VW}?saved=1"
    page = await site.client.get(saved.headers["location"])
    assert "開始中" in page.text and "09012345678" in page.text and "呼出時間 15秒" in page.text
    assert "voice warp:      on (no_answer to 09012345678, ring 15 s)" in show(
        db_url, tmp_config, EXTRA
    )
    assert shown_json(db_url, tmp_config)["voice_warp"] == {
        "enabled": True,
        "mode": "no_answer",
        "destination": "09012345678",
        "ring_seconds": 15,
    }
    busy = await site.post(
        VW, {"enabled": "on", "destination": "09012345678", "mode": "busy", "ring_seconds": ""}
    )
    assert busy.status_code == 303
    stopped = await site.post(
        VW, {"enabled": "off", "destination": "03-9876-5432", "mode": "unconditional"}
    )
    assert stopped.status_code == 303
    assert shown_json(db_url, tmp_config)["voice_warp"] == {
        "enabled": False,
        "mode": "unconditional",
        "destination": "0398765432",
        "ring_seconds": 15,  # a blank ring time outside 無応答 keeps the stored one
    }


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"destination": ""}, "destination", "転送先電話番号を入力してください。"),
        ({"destination": "  "}, "destination", "転送先電話番号を入力してください。"),
        (
            {"destination": "03-1234-5679"},  # the number itself, as people type it
            "destination",
            "転送先に、この電話番号そのものは設定できません。",
        ),
        ({"destination": "090abc5678"}, "destination", "転送先電話番号は数字で入力してください。"),
        ({"destination": "12345"}, "destination", "電話番号は市外局番から入力してください"),
        ({"ring_seconds": "4"}, "ring_seconds", "呼出時間は5～60秒で入力してください。"),
        ({"ring_seconds": "61"}, "ring_seconds", "呼出時間は5～60秒で入力してください。"),
        ({"ring_seconds": "abc"}, "ring_seconds", RING_WORDS),
        ({"ring_seconds": "-5"}, "ring_seconds", RING_WORDS),
        ({"ring_seconds": "1.5"}, "ring_seconds", RING_WORDS),
        ({"ring_seconds": ""}, "ring_seconds", RING_WORDS),  # 無応答 needs its ring time
    ],
)
async def test_issue16_CALL_4_a_refused_field_is_said_by_it_and_nothing_is_saved(
    site: Site, typed: dict[str, str], field: str, message: str
) -> None:
    with db.transaction(site.sessions) as s:  # a stored destination the form must not fall back to
        service.set_voice_warp(s, EXTRA, destination="09011112222", ring_seconds=20)
    await logged_in(site)
    before = site.state()
    form = {"enabled": "on", "destination": "09012345678", "mode": "no_answer"}
    form |= {"ring_seconds": "20"} | typed
    refused = await site.post(VW, form)
    assert refused.status_code == 400, refused.text
    assert f'<p class="error" id="{field}-error">{message}' in refused.text
    assert f'id="{field}" name="{field}"' in refused.text
    typed_value = typed[field].strip()
    assert f'value="{typed_value}"' in refused.text  # what was typed stays in the form
    assert site.state() == before


async def test_issue16_CALL_4_every_refused_field_is_said_at_once(site: Site) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(
        VW, {"enabled": "on", "destination": "", "mode": "no_answer", "ring_seconds": "99"}
    )
    assert refused.status_code == 400
    assert 'id="destination-error">転送先電話番号を入力してください。' in refused.text
    assert 'id="ring_seconds-error">呼出時間は5～60秒で入力してください。' in refused.text
    assert site.state() == before


async def test_issue16_CALL_4_on_without_any_destination_is_refused_off_is_saved(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(VW, {"enabled": "on", "mode": "busy"})
    assert refused.status_code == 400 and "転送先電話番号を入力してください。" in refused.text
    assert site.state() == before
    saved = await site.post(VW, {"enabled": "off", "mode": "busy", "ring_seconds": "30"})
    assert saved.status_code == 303
    assert shown_json(db_url, tmp_config)["voice_warp"] == {
        "enabled": False,
        "mode": "busy",
        "destination": None,
        "ring_seconds": 30,
    }


async def test_issue16_CALL_4_off_with_the_destination_emptied_keeps_no_destination(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    """What the subscriber sees is what is saved: the emptied field is not the stored one."""
    await logged_in(site)
    on = await site.post(VW, {"enabled": "on", "destination": "0312349999", "mode": "busy"})
    assert on.status_code == 303
    off = await site.post(VW, {"enabled": "off", "destination": "", "mode": "busy"})
    assert off.status_code == 303
    assert shown_json(db_url, tmp_config)["voice_warp"]["destination"] is None
    page_after = (await site.client.get(off.headers["location"])).text
    assert "0312349999" not in page_after


@pytest.mark.parametrize(
    "forged",
    [
        {"enabled": "on", "mode": "always"},
        {"enabled": "on", "mode": ""},
        {"enabled": "on"},
        {"enabled": "true", "mode": "busy"},
        {"mode": "busy"},
        {"enabled": "on", "mode": "NO_ANSWER"},
    ],
)
async def test_issue16_CALL_4_mode_or_enabled_outside_the_choices_is_a_bad_form(
    site: Site, forged: dict[str, str]
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(VW, {"destination": "09012345678", "ring_seconds": "20", **forged})
    assert refused.status_code == 400 and BAD_FORM in refused.text
    assert site.state() == before


async def test_issue16_CALL_4_a_number_without_the_service_is_told_so_and_keeps_it(
    site: Site,
) -> None:
    unsubscribe(site, Service.VOICE_WARP)
    await logged_in(site)
    got = await site.client.get(VW)
    assert got.status_code == 200
    assert "この電話番号はボイスワープを契約していません。" in got.text
    assert "着信お知らせメールを契約していません" not in got.text
    assert 'name="destination"' not in got.text  # no form
    before = site.state()
    refused = await site.post(
        VW,
        {"enabled": "on", "destination": "09012345678", "mode": "unconditional"},
        page=f"/numbers/{EXTRA}/conditions",
    )
    assert refused.status_code == 403
    assert "この電話番号はボイスワープを契約していません。" in refused.text
    assert site.state() == before


# --- both pages: CSRF, scope (SITE-1) ----------------------------------------------------------


async def test_issue16_CALL_3_CALL_4_a_form_without_the_sessions_token_changes_nothing(
    site: Site,
) -> None:
    await logged_in(site)
    before = site.state()
    for path, data in [
        (NR, {"enabled": "on"}),
        (VW, {"enabled": "on", "destination": "09012345678", "mode": "unconditional"}),
    ]:
        missing = await site.client.post(path, data=data)
        assert missing.status_code == 403, path
        wrong = await site.client.post(path, data={"csrf_token": "x" * 43, **data})
        assert wrong.status_code == 403, path
    assert site.state() == before


async def test_issue16_CALL_3_CALL_4_SITE_1_a_user_reaches_no_other_numbers_services(
    site: Site,
) -> None:
    with db.transaction(site.sessions) as s:
        service.set_voice_warp(s, CONTRACT, destination="09099998888")
    await logged_in(site, EXTRA, AuthUnit.ADMIN_USER)  # a user: manages EXTRA only
    assert (await site.client.get(NR)).status_code == 200  # its own
    assert (await site.client.get(VW)).status_code == 200
    before = site.state()
    for path in ("/number-request", "/voice-warp"):
        got = await site.client.get(f"/numbers/{CONTRACT}{path}")
        assert got.status_code == 403 and "この電話番号の設定は表示・変更できません。" in got.text
        assert "09099998888" not in got.text and 'name="enabled"' not in got.text
    for path, data in [
        ("/number-request", {"enabled": "on"}),
        ("/voice-warp", {"enabled": "on", "destination": "09012345678", "mode": "busy"}),
    ]:
        # The token of the user's own page, the other number in the URL.
        refused = await site.post(
            f"/numbers/{CONTRACT}{path}", data, page=f"/numbers/{EXTRA}{path}"
        )
        assert refused.status_code == 403, path
    assert site.state() == before
