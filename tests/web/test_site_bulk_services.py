"""Issue 16, SITE-7 一括設定 of ナンバー・リクエスト (CALL-3) and ボイスワープ (CALL-4), over HTTP.

All or nothing, as the bulk of the mail settings (tests/web/test_site_bulk.py):
each refusing number is listed with its reason in Japanese, and nothing is
changed; what was changed is what ``chakushin number show --json`` shows.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chakushin.cli import cli
from store import db, service
from store.models import AuthUnit, Service
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD
from web.texts import page

pytestmark = pytest.mark.asyncio

WARPED = "0312340001"  # every service
NO_WARP = "0312340002"  # mail and Number Request only
NO_REQUEST = "0312340003"  # mail and Voice Warp only
DESTINATION = "09012345678"


async def post_form(site: Site, items: list[tuple[str, str]]) -> Any:
    """The bulk form with its repeated ``number`` fields, as a browser sends it."""
    token = await site.csrf("/bulk")
    return await site.client.post(
        "/bulk",
        content=urllib.parse.urlencode([("csrf_token", token), *items]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def number_show(db_url: str, workdir: Path, number: str) -> dict[str, Any]:
    """``chakushin number show N --json`` on the site's database."""
    result = CliRunner().invoke(
        cli,
        ["number", "show", number, "--json"],
        env={"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(workdir)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, dict)
    return found


async def admin_of_five(site: Site) -> None:
    """The line unit login of CONTRACT, EXTRA and the three numbers above."""
    with db.transaction(site.sessions) as s:
        service.add_number(s, CONTRACT, WARPED, timezone="Asia/Tokyo")
        service.add_number(
            s,
            CONTRACT,
            NO_WARP,
            timezone="Asia/Tokyo",
            services=(Service.MAIL, Service.NUMBER_REQUEST),
        )
        service.add_number(
            s,
            CONTRACT,
            NO_REQUEST,
            timezone="Asia/Tokyo",
            services=(Service.MAIL, Service.VOICE_WARP),
        )
        for number in (CONTRACT, WARPED, NO_REQUEST):  # EXTRA has no destination
            service.set_voice_warp(s, number, destination=DESTINATION)
        for number in (WARPED, NO_WARP, NO_REQUEST):  # EXTRA has no mail address
            service.add_address(s, number, "desk@example.jp")
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)


def options(html: str, name: str) -> list[str]:
    found = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', html, re.S)
    assert found, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', found.group(1))


async def test_issue16_SITE_7_CALL_3_CALL_4_bulk_page_offers_both_services(site: Site) -> None:
    await admin_of_five(site)
    shown = await site.client.get("/bulk")
    assert shown.status_code == 200
    for name, label in (("number_request", "ナンバー・リクエスト"), ("voice_warp", "ボイスワープ")):
        assert options(shown.text, name) == ["", "on", "off"]
        assert f'<label for="{name}">{label}</label>' in shown.text
    section = shown.text[shown.text.index('name="voice_warp"') :]
    assert "変更しない" in section and "開始" in section and "停止" in section


async def test_issue16_SITE_7_CALL_3_CALL_4_bulk_switches_every_selected_number(
    site: Site, db_url: str, tmp_config: Path
) -> None:
    await admin_of_five(site)
    chosen = [CONTRACT, WARPED, NO_REQUEST]
    done = await post_form(
        site,
        [("voice_warp", "on")] + [("number", n) for n in chosen],
    )
    assert done.status_code == 200 and "3件の電話番号に設定しました。" in done.text
    for number in chosen:
        warp = number_show(db_url, tmp_config, number)["voice_warp"]
        assert warp["enabled"] is True and warp["destination"] == DESTINATION
    assert number_show(db_url, tmp_config, EXTRA)["voice_warp"]["enabled"] is False

    chosen = [CONTRACT, EXTRA, WARPED, NO_WARP]
    done = await post_form(
        site,
        [("number_request", "on"), ("voice_warp", "")] + [("number", n) for n in chosen],
    )
    assert done.status_code == 200 and "4件の電話番号に設定しました。" in done.text
    for number in chosen:
        assert number_show(db_url, tmp_config, number)["number_request"]["enabled"] is True
    assert number_show(db_url, tmp_config, WARPED)["voice_warp"]["enabled"] is True  # unchanged

    done = await post_form(
        site,
        [
            ("number_request", "off"),
            ("voice_warp", "off"),
            ("number", CONTRACT),
            ("number", WARPED),
        ],
    )
    assert done.status_code == 200
    for number in (CONTRACT, WARPED):
        shown = number_show(db_url, tmp_config, number)
        assert (shown["number_request"]["enabled"], shown["voice_warp"]["enabled"]) == (
            False,
            False,
        )
    assert number_show(db_url, tmp_config, NO_REQUEST)["voice_warp"]["enabled"] is True


async def test_issue16_SITE_7_CALL_3_CALL_4_bulk_refusals_in_japanese_and_nothing_changed(
    site: Site,
) -> None:
    await admin_of_five(site)
    before = site.state()
    chosen = [CONTRACT, EXTRA, WARPED, NO_WARP, NO_REQUEST]
    refused = await post_form(
        site,
        [("mail_started", "on"), ("number_request", "on"), ("voice_warp", "on")]
        + [("number", n) for n in chosen],
    )
    assert refused.status_code == 400
    text = refused.text
    assert "次の電話番号は設定できないため、一括設定を行いませんでした" in text
    # EXTRA: no mail address and no destination; the others: a service they do not have.
    assert f"{EXTRA}: 送信先メールアドレスを登録してから開始してください。" in text
    assert f"{EXTRA}: 転送先電話番号が設定されていません" in text
    assert f"{NO_WARP}: この電話番号はボイスワープを契約していません。" in text
    assert f"{NO_REQUEST}: この電話番号はナンバー・リクエストを契約していません。" in text
    assert f"{CONTRACT}:" not in text and f"{WARPED}:" not in text
    assert "forward_without_destination" not in text and "not_subscribed" not in text
    assert site.state() == before  # no number changed, not even those that could
    # The choices come back as they were sent.
    for name in ("number_request", "voice_warp"):
        assert re.search(rf'name="{name}">.*?<option value="on" selected>', text, re.S)


async def test_issue16_SITE_7_CALL_4_bulk_switching_off_where_not_subscribed_is_refused(
    site: Site,
) -> None:
    await admin_of_five(site)
    before = site.state()
    refused = await post_form(
        site, [("voice_warp", "off"), ("number", WARPED), ("number", NO_WARP)]
    )
    assert refused.status_code == 400
    assert f"{NO_WARP}: この電話番号はボイスワープを契約していません。" in refused.text
    assert site.state() == before


@pytest.mark.parametrize(
    ("name", "value"),
    [("voice_warp", "yes"), ("voice_warp", "1"), ("number_request", "ON"), ("number_request", " ")],
)
async def test_issue16_SITE_7_bulk_forged_service_value_is_a_bad_form(
    site: Site, name: str, value: str
) -> None:
    await admin_of_five(site)
    before = site.state()
    forged = await post_form(site, [(name, value), ("number", CONTRACT), ("number", WARPED)])
    assert forged.status_code == 400 and page("form.refused") in forged.text
    assert site.state() == before


async def test_issue16_SITE_1_SITE_7_bulk_services_cannot_reach_numbers_outside_the_scope(
    site: Site,
) -> None:
    with db.transaction(site.sessions) as s:
        service.set_voice_warp(s, CONTRACT, destination=DESTINATION, enabled=True)
    await site.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
    with db.transaction(site.sessions) as s:  # another customer's line
        service.add_line(s, "0611112222", timezone="Asia/Tokyo")
        service.set_voice_warp(s, "0611112222", destination=DESTINATION, enabled=True)
        service.set_number_request(s, "0611112222", enabled=True)
    before = site.state()
    refused = await post_form(
        site,
        [
            ("voice_warp", "off"),
            ("number_request", "off"),
            ("number", CONTRACT),
            ("number", "0611112222"),
        ],
    )
    assert refused.status_code == 403
    assert page("bulk.out_of_scope") in refused.text
    assert site.state() == before  # not even the number in scope
