"""Issue 14 over HTTP on the notification settings pages (SITE-7, MAIL-4, MAIL-5).

- flow 5: 「お知らせ対象電話番号からの着信のみお知らせする」 needs designated numbers
  (seeds: 「…を指定した場合に本設定が必要です」); refused in those words, nothing saved.
- flow 7: all 30 designated rows in one visit; すべて選択 on the bulk page, without
  JavaScript.
- flow 8: numbers as people type them (０３…, 03-1234-5678, ０３－１２３４－５６７８).
- flow 10: the seeds' words and order; the call history says reasons in words.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any

import pytest

from store import db, service
from store.models import AuthUnit, CallOutcome, Presentation
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

N = f"/numbers/{EXTRA}"
NEEDED = "「お知らせ対象電話番号からの着信のみお知らせする」を指定する場合は、"
WARNED = "着信お知らせメールは送信されません"
# 40 more numbers on the line, as in test_site_bulk: 0312340000 …, and 06…4747.
MANY = [f"031234{i:04d}" for i in range(30)] + [f"06{i:04d}4747" for i in range(10)]


def mail_of(site: Site, number: str = EXTRA) -> dict[str, Any]:
    with db.transaction(site.sessions, read_only=True) as s:
        return dict(service.describe_number(service.get_number(s, number))["mail"])


def designated(site: Site) -> list[tuple[str, bool]]:
    return [(d["caller_number"], d["designated"]) for d in mail_of(site)["designated_numbers"]]


async def logged_in(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)


async def many_numbers(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        for number in MANY:
            service.add_number(s, CONTRACT, number, timezone="Asia/Tokyo")
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)


# --- flow 5: condition (a) needs designated numbers ---------------------------------------


async def test_MAIL_4a_flow5_cannot_be_switched_on_with_no_designated_number(site: Site) -> None:
    await logged_in(site)
    before = site.state()
    refused = await site.post(f"{N}/conditions", {"designated_only": "1", "unanswered_only": "1"})
    assert refused.status_code == 400
    assert NEEDED + "お知らせ対象電話番号設定が必要です。" in refused.text
    assert 'href="/numbers/0312345679/designated"' in refused.text  # where to set them
    assert site.state() == before  # (b) is not saved either: the form is one change
    # A number without its 指定 tick does not count.
    await site.post(f"{N}/designated", {"rows": "1", "caller_number_1": "0398765432"})
    assert designated(site) == [("0398765432", False)]
    again = await site.post(f"{N}/conditions", {"designated_only": "1"})
    assert again.status_code == 400 and NEEDED in again.text
    await site.post(
        f"{N}/designated", {"rows": "1", "caller_number_1": "0398765432", "designated_1": "1"}
    )
    done = await site.post(f"{N}/conditions", {"designated_only": "1"})
    assert done.status_code == 303
    assert mail_of(site)["designated_only"] is True


async def test_MAIL_4a_flow5_the_last_designated_number_stays_while_the_condition_is_on(
    site: Site,
) -> None:
    await logged_in(site)
    await site.post(
        f"{N}/designated", {"rows": "1", "caller_number_1": "0398765432", "designated_1": "1"}
    )
    await site.post(f"{N}/conditions", {"designated_only": "1"})
    before = site.state()
    for form in ({"rows": "1"}, {"rows": "1", "caller_number_1": "0398765432"}):
        refused = await site.post(f"{N}/designated", form)
        assert refused.status_code == 400
        assert "「指定」欄にチェックを入れたお知らせ対象電話番号が1件以上必要です" in refused.text
        assert site.state() == before
    await site.post(f"{N}/conditions", {})  # the condition off: the list may go
    assert (await site.post(f"{N}/designated", {"rows": "1"})).status_code == 303
    assert designated(site) == []


async def test_MAIL_4a_flow5_bulk_refuses_the_condition_for_numbers_without_designated(
    site: Site,
) -> None:
    await many_numbers(site)
    before = site.state()
    token = await site.csrf("/bulk")
    form = [("csrf_token", token), ("designated_only", "on"), ("number", MANY[0])]
    refused = await site.client.post(
        "/bulk",
        content=urllib.parse.urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 400
    assert f"{MANY[0]}: {NEEDED}" in refused.text
    assert site.state() == before


async def test_MAIL_4a_flow5_a_number_stored_with_the_condition_and_no_numbers_is_warned(
    site: Site,
) -> None:
    """Data from before the rule (or the database's own hand): (a) on and nothing ticked.

    No mail goes out for such a number; its number page and its conditions page
    say so, and how to mend it, and the pages change nothing."""
    with db.transaction(site.sessions) as s:
        service.get_number(s, EXTRA).notification.designated_only = True
    await logged_in(site)
    before = site.state()
    for path in (f"{N}/mail", f"{N}/conditions"):
        shown = await site.client.get(path)
        assert shown.status_code == 200
        assert WARNED in shown.text, path
        assert f'href="{N}/designated"' in shown.text, path
    assert site.state() == before
    # Once a number is ticked the warning goes.
    await site.post(
        f"{N}/designated", {"rows": "1", "caller_number_1": "0398765432", "designated_1": "1"}
    )
    for path in (f"{N}/mail", f"{N}/conditions"):
        assert WARNED not in (await site.client.get(path)).text, path


# --- flow 7: many numbers --------------------------------------------------------------------


async def test_MAIL_5_flow7_all_30_designated_rows_in_one_visit(site: Site) -> None:
    await logged_in(site)
    page = await site.client.get(f"{N}/designated")
    assert len(re.findall(r'name="caller_number_\d+"', page.text)) == 30
    assert 'name="rows" value="30"' in page.text
    thirty = {"rows": "30"} | {f"caller_number_{i}": f"03{i:08d}" for i in range(1, 31)}
    saved = await site.post(f"{N}/designated", thirty | {"designated_30": "1"})
    assert saved.status_code == 303
    assert len(designated(site)) == 30 and designated(site)[-1] == ("0300000030", True)
    again = await site.client.get(f"{N}/designated")
    assert len(re.findall(r'name="caller_number_\d+"', again.text)) == 30
    assert 'value="0300000030"' in again.text


async def test_MAIL_5_flow7_each_designated_number_stays_in_its_row(site: Site) -> None:
    await logged_in(site)
    await site.post(
        f"{N}/designated", {"rows": "30", "caller_number_7": "0398765432", "designated_7": "1"}
    )
    page = await site.client.get(f"{N}/designated")
    assert 'name="caller_number_7" type="tel" inputmode="numeric" value="0398765432"' in page.text
    assert 'name="caller_number_1" type="tel" inputmode="numeric" value=""' in page.text


async def test_SITE_7_flow7_bulk_select_all_works_without_javascript(site: Site) -> None:
    await many_numbers(site)
    page = await site.client.get("/bulk")
    # A plain GET form with a submit button: a phone browser without script can use it.
    assert re.search(
        r'<form[^>]*method="get"[^>]*action="/bulk"[^>]*>.*?'
        r'<button[^>]*name="select" value="all"[^>]*>すべて選択</button>',
        page.text,
        re.DOTALL,
    ), page.text
    assert re.findall(r'name="number" value="(\d+)" checked', page.text) == []
    everything = await site.client.get("/bulk", params={"select": "all"})
    ticked = re.findall(r'name="number" value="(\d+)" checked', everything.text)
    assert sorted(ticked) == sorted([CONTRACT, EXTRA, *MANY])
    found = await site.client.get("/bulk", params={"select": "all", "q": "06*"})
    ticked = re.findall(r'name="number" value="(\d+)" checked', found.text)
    assert sorted(ticked) == [n for n in MANY if n.startswith("06")]  # what the search shows
    cleared = await site.client.get("/bulk", params={"select": "none"})
    assert re.findall(r'name="number" value="(\d+)" checked', cleared.text) == []


# --- flow 8: numbers as people type them --------------------------------------------------------


TYPED = [
    "０３９８７６５４３２",
    "03-9876-5432",
    "０３－９８７６－５４３２",
    "03 9876 5432",
    "03ー9876ー5432",
]


@pytest.mark.parametrize("typed", TYPED)
async def test_MAIL_5_flow8_designated_numbers_are_taken_as_typed(site: Site, typed: str) -> None:
    await logged_in(site)
    saved = await site.post(
        f"{N}/designated", {"rows": "30", "caller_number_1": typed, "designated_1": "1"}
    )
    assert saved.status_code == 303, saved.text
    assert designated(site) == [("0398765432", True)]


@pytest.mark.parametrize(
    "typed", ["０３１２３４５６７９", "03-1234-5679", "０３－１２３４－５６７９"]
)
async def test_SITE_1_flow8_login_takes_the_number_as_typed(site: Site, typed: str) -> None:
    await logged_in(site)
    again = await site.login(typed, GOOD)
    assert again.status_code == 303 and again.headers["location"] == "/", again.text


@pytest.mark.parametrize(("typed", "wanted"), [("０６＊", "06*"), ("＊４７４７", "*4747")])
async def test_SITE_7_flow8_the_number_search_takes_full_width_digits_and_star(
    site: Site, typed: str, wanted: str
) -> None:
    await many_numbers(site)
    found = await site.client.get("/numbers", params={"q": typed})
    assert found.status_code == 200, found.text
    listed = re.findall(r'<td><a href="/numbers/(\d+)">', found.text)
    expected = await site.client.get("/numbers", params={"q": wanted})
    assert listed == re.findall(r'<td><a href="/numbers/(\d+)">', expected.text) and listed
    hyphen = await site.client.get("/numbers", params={"q": "03-1234-0017"})
    assert re.findall(r'<td><a href="/numbers/(\d+)">', hyphen.text) == ["0312340017"]


# --- flow 10: the seeds' words ----------------------------------------------------------------


async def test_MAIL_4_flow10_the_pages_use_the_seeds_words_and_order(site: Site) -> None:
    await logged_in(site)
    menu = (await site.client.get(f"{N}/mail")).text
    items = ["送信先メールアドレス設定", "メール送信条件設定", "お知らせ対象電話番号設定"]
    at = [menu.index(f">{item}</a>") for item in items]
    assert at == sorted(at)
    conditions = (await site.client.get(f"{N}/conditions")).text
    assert "<h1>" in conditions and "メール送信条件設定" in conditions
    a = conditions.index("お知らせ対象電話番号からの着信のみお知らせする")
    b = conditions.index("応答できなかった着信のみお知らせする")
    assert a < b  # seeds P.10: (a) then (b)
    assert "不在時の呼びきり、転送など" in conditions
    page = (await site.client.get(f"{N}/designated")).text
    assert "お知らせ対象電話番号設定" in page and "30件まで" in page
    assert "発信者電話番号1" in page and "> 指定</label>" in page
    assert "発信者番号非通知" in page  # the seeds' caution
    for old in ("指定番号設定", "通知条件設定", "不在着信のみ通知", "指定番号からの着信のみ通知"):
        for text in (menu, conditions, page):
            assert old not in text, old


async def test_MAIL_10_flow10_the_history_says_why_in_words_without_rule_ids(site: Site) -> None:
    start = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    refused = [
        ("nuisance_list", "MAIL-7", CallOutcome.REJECTED_NUISANCE),
        ("not_designated", "MAIL-4", CallOutcome.UNANSWERED),
        ("answered", "MAIL-4", CallOutcome.ANSWERED),
        ("malformed_route", "MAIL-10", CallOutcome.UNANSWERED),
    ]
    with db.transaction(site.sessions) as s:
        for i, (reason, rule, outcome) in enumerate(refused):
            service.record_call_decision(
                s,
                now=start + dt.timedelta(minutes=i, seconds=31),
                linkedid=f"c{i}",
                subscriber_number=EXTRA,
                caller_number="0398765432",
                presentation=Presentation.ALLOWED,
                outcome=outcome,
                dial_status="",
                forward_dial_status="",
                started_at=start + dt.timedelta(minutes=i),
                ended_at=start + dt.timedelta(minutes=i, seconds=30),
                mailed=False,
                reason=reason,
                rule=rule,
                mails=[],
            )
    await logged_in(site)
    text = (await site.client.get(f"{N}/history")).text
    assert re.search(r"MAIL-\d", text) is None, re.findall(r".{40}MAIL-\d+", text)
    assert "迷惑電話おことわりで着信を拒否しました" in text
    assert "「お知らせ対象電話番号からの着信のみお知らせする」" in text
    assert "「応答できなかった着信のみお知らせする」" in text
    assert "malformed_route" not in text
