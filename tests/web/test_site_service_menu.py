"""Issue 16: a number's サービス選択 (seeds (3) step 7): its services, each only where
the number subscribes to it, in the carrier's order; the mail pages under ``/mail``."""

from __future__ import annotations

import re

import pytest

from store import db, service
from store.models import AuthUnit, Service
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

N = f"/numbers/{EXTRA}"
ORDER = ["着信お知らせメール", "迷惑電話おことわり", "ナンバー・リクエスト", "ボイスワープ"]


def offered(html: str) -> list[tuple[str, str]]:
    """(link, name) of the services the page offers, in its order."""
    item = r'<li><a href="(/numbers/\d+/[a-z-]+)">([^<]+)</a> <span class="state">'
    return re.findall(item, html)


async def test_issue16_SITE_7_the_number_menu_offers_every_subscribed_service_in_order(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    menu = await site.client.get(N)
    assert menu.status_code == 200 and "サービス選択" in menu.text
    assert offered(menu.text) == [
        (f"{N}/mail", ORDER[0]),
        (f"{N}/nuisance", ORDER[1]),
        (f"{N}/number-request", ORDER[2]),
        (f"{N}/voice-warp", ORDER[3]),
    ]
    assert f'href="{N}/history"' in menu.text  # the history is every service's


async def test_issue16_SITE_7_a_service_the_number_does_not_subscribe_to_is_not_offered(
    site: Site,
) -> None:
    with db.transaction(site.sessions) as s:
        service.set_services(s, EXTRA, disable=[Service.NUMBER_REQUEST, Service.VOICE_WARP])
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)  # manages every number
    menu = await site.client.get(N)
    assert [name for _, name in offered(menu.text)] == ORDER[:2]
    with db.transaction(site.sessions) as s:
        service.set_services(s, EXTRA, disable=[Service.MAIL, Service.NUISANCE])
    empty = await site.client.get(N)
    assert empty.status_code == 200 and offered(empty.text) == []
    assert "この電話番号で設定できるサービスはありません。" in empty.text


async def test_issue16_SITE_7_each_service_says_its_state_in_a_word(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.add_address(s, EXTRA, "me@example.jp")
        service.start_mail(s, EXTRA)
        service.add_nuisance(s, EXTRA, "0311110000")
        service.set_voice_warp(s, EXTRA, enabled=True, destination="0312349999")
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    states = re.findall(r'</a> <span class="state">([^<]+)</span>', (await site.client.get(N)).text)
    assert states == ["開始中", "登録 1件", "停止中", "開始中"]  # as the services' pages say


async def test_issue16_MAIL_1_the_mail_service_page_is_under_mail_and_its_change_returns_there(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    with db.transaction(site.sessions) as s:
        service.add_address(s, EXTRA, "me@example.jp")
    mail = await site.client.get(f"{N}/mail")
    assert "送信先メールアドレス設定" in mail.text and f'href="{N}"' in mail.text  # サービス選択へ
    started = await site.post(f"{N}/service", {"action": "start"}, page=f"{N}/mail")
    assert started.status_code == 303 and started.headers["location"] == f"{N}/mail"


async def test_issue16_SITE_1_a_user_reaches_no_other_numbers_service_menu(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, GOOD)
    await site.login(EXTRA, GOOD)
    for path in (f"/numbers/{CONTRACT}", f"/numbers/{CONTRACT}/mail"):
        refused = await site.client.get(path)
        assert refused.status_code == 403, path
        assert offered(refused.text) == [] and "boss@example.jp" not in refused.text, path


async def test_issue16_SITE_7_home_leads_to_the_service_selection(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    home = await site.client.get("/")
    assert '<a href="/numbers">サービス選択</a>' in home.text


async def test_issue16_MAIL_4_saved_conditions_return_to_the_mail_page_which_says_so(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    saved = await site.post(f"{N}/conditions", {"unanswered_only": "1"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{N}/mail?saved=1"
    shown = await site.client.get(saved.headers["location"])
    assert "設定しました。" in shown.text and "応答できなかった着信のみ" in shown.text
