"""SITE-7 number search and bulk settings, SITE-9 OTP CSV, and the call history page, over HTTP."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import pytest

from store import db, service
from store.models import AuthUnit, CallOutcome, MailKind, Presentation
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

# 40 more numbers on the line: 0312340000 …, some in 06, some ending in 4747.
MANY = [f"031234{i:04d}" for i in range(30)] + [f"06{i:04d}4747" for i in range(10)]


async def post_form(site: Site, path: str, items: list[tuple[str, str]]) -> Any:
    """A form with repeated fields (several ``number`` checkboxes), urlencoded as a browser does."""
    return await site.client.post(
        path,
        content=urllib.parse.urlencode(items),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def admin_with_many_numbers(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        for number in MANY:
            service.add_number(s, CONTRACT, number, timezone="Asia/Tokyo")
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)


def listed(html: str) -> list[str]:
    import re

    return re.findall(r'<td><a href="/numbers/(\d+)">', html)


async def test_SITE_7_search_with_wildcards_over_40_numbers(site: Site) -> None:
    await admin_with_many_numbers(site)
    page = await site.client.get("/numbers")
    assert "電話番号検索" in page.text and len(listed(page.text)) == 42
    assert set(listed((await site.client.get("/numbers?q=06*")).text)) == {
        n for n in MANY if n.startswith("06")
    }
    assert set(listed((await site.client.get("/numbers?q=*4747")).text)) == {
        n for n in MANY if n.endswith("4747")
    }
    assert listed((await site.client.get("/numbers?q=0312340017")).text) == ["0312340017"]
    assert set(listed((await site.client.get("/numbers?q=03*5678")).text)) == {CONTRACT}
    bad = await site.client.get("/numbers?q=03?1234")  # hyphens are taken (issue 14)
    assert bad.status_code == 400 and "半角数字と「*」" in bad.text


async def test_SITE_7_search_appears_only_from_33_numbers(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    page = await site.client.get("/numbers")
    assert "電話番号検索" not in page.text and len(listed(page.text)) == 2


async def test_SITE_7_bulk_settings_in_one_transaction(site: Site) -> None:
    await admin_with_many_numbers(site)
    chosen = [n for n in MANY if n.startswith("06")]
    token_page = "/bulk"
    done = await site.post(
        "/bulk",
        {"add_address": "desk@example.jp", "add_address_send": "1", "mail_started": "on"}
        | {"number": chosen[0]},
        page=token_page,
    )
    assert done.status_code == 200 and "1件の電話番号に設定しました。" in done.text
    # Many at once: multi-valued form fields.
    token = await site.csrf("/bulk")
    form = [("csrf_token", token), ("unanswered_only", "on")] + [("number", n) for n in chosen]
    applied = await post_form(site, "/bulk", form)
    assert (
        applied.status_code == 200 and f"{len(chosen)}件の電話番号に設定しました。" in applied.text
    )
    with db.transaction(site.sessions, read_only=True) as s:
        for n in chosen:
            assert service.get_number(s, n).notification.unanswered_only is True
        assert service.get_number(s, chosen[0]).notification.started is True


async def test_SITE_7_bulk_rolled_back_when_one_number_fails(site: Site) -> None:
    await admin_with_many_numbers(site)
    chosen = [n for n in MANY if n.startswith("06")]
    with db.transaction(site.sessions) as s:  # one number already has five addresses
        for i in range(5):
            service.add_address(s, chosen[3], f"full{i}@example.jp")
    before = site.state()
    token = await site.csrf("/bulk")
    form = [
        ("csrf_token", token),
        ("add_address", "desk@example.jp"),
        ("add_address_send", "1"),
        ("mail_started", "on"),
    ] + [("number", n) for n in chosen]
    refused = await post_form(site, "/bulk", form)
    assert refused.status_code == 400
    assert chosen[3] in refused.text and "5件まで" in refused.text
    assert site.state() == before  # no number changed


async def test_SITE_1_bulk_cannot_reach_numbers_outside_the_scope(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.add_number(s, CONTRACT, "0399990000", timezone="Asia/Tokyo")
    await site.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
    with db.transaction(site.sessions) as s:
        service.add_line(s, "0611112222", timezone="Asia/Tokyo")  # another customer
    before = site.state()
    token = await site.csrf("/bulk")
    form = [("csrf_token", token), ("mail_started", "off"), ("number", "0611112222")]
    refused = await post_form(site, "/bulk", form)
    assert refused.status_code == 403
    assert site.state() == before


CSV_OK = (
    f'"{CONTRACT}","1","me@example.jp","abcDEF12","pass1234word"\r\n"{EXTRA}","0","","",""\r\n'
).encode()


async def upload(site: Site, data: bytes) -> Any:
    token = await site.csrf("/otp/csv")
    return await site.client.post(
        "/otp/csv",
        data={"csrf_token": token},
        files={"csv_file": ("settings.csv", data, "text/csv")},
    )


async def test_SITE_9_csv_download_is_the_seeds_format(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    got = await site.client.get("/otp/csv/download")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = got.content.split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 3  # CRLF after each line
    assert all(line.count(b'"') == 10 for line in lines[:-1])  # five quoted fields
    assert lines[0].startswith(f'"{CONTRACT}","0"'.encode())


async def test_SITE_9_csv_upload_applies_and_mails_verification_links(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    done = await upload(site, CSV_OK)
    assert done.status_code == 200, done.text
    assert "本登録のメールを送りました" in done.text and CONTRACT in done.text
    assert [to for to, _ in site.mails(MailKind.ADDRESS_VERIFICATION)] == ["me@example.jp"]


async def test_SITE_9_a_bad_row_changes_nothing_and_every_bad_row_is_reported(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    before = site.state()
    bad = (
        f'"{CONTRACT}","1","me@example.jp","abcDEF12","pass1234word"\r\n'
        f'"{EXTRA}","2","","",""\r\n'
        f'"0399999999","0","","",""\r\n'
        f'"{CONTRACT}","1","a@@b","abcdefgh","x"\r\n'
    ).encode()
    refused = await upload(site, bad)
    assert refused.status_code == 400
    assert "設定は変更していません" in refused.text
    for line in ("2行目", "3行目", "4行目"):
        assert line in refused.text
    assert "<li>1行目:" not in refused.text
    assert site.state() == before
    assert site.mails(MailKind.ADDRESS_VERIFICATION) == []
    lf_only = await upload(site, CSV_OK.replace(b"\r\n", b"\n"))
    assert lf_only.status_code == 400 and site.state() == before


async def test_SITE_7_call_history_shows_each_decision(site: Site) -> None:
    start = dt.datetime(2026, 11, 21, 9, 4, 5, tzinfo=dt.UTC)
    calls = [
        (
            "c1",
            "0398765432",
            Presentation.ALLOWED,
            CallOutcome.UNANSWERED,
            True,
            "notify",
            "",
            ["me@example.jp"],
        ),
        (
            "c2",
            "0398765432",
            Presentation.ALLOWED,
            CallOutcome.ANSWERED,
            False,
            "answered",
            "MAIL-4",
            [],
        ),
        (
            "c3",
            "0311112222",
            Presentation.WITHHELD,
            CallOutcome.REJECTED_ANONYMOUS,
            False,
            "number_request",
            "MAIL-6",
            [],
        ),
    ]
    with db.transaction(site.sessions) as s:
        for i, (linkedid, caller, pres, outcome, mailed, reason, rule, to) in enumerate(calls):
            service.record_call_decision(
                s,
                now=start + dt.timedelta(minutes=i, seconds=31),
                linkedid=linkedid,
                subscriber_number=EXTRA,
                caller_number=caller,
                presentation=pres,
                outcome=outcome,
                dial_status="",
                forward_dial_status="",
                started_at=start + dt.timedelta(minutes=i),
                ended_at=start + dt.timedelta(minutes=i, seconds=30),
                mailed=mailed,
                reason=reason,
                rule=rule,
                mails=[service.QueuedMail(a, "s", "b", f"<{linkedid}@x>") for a in to],
            )
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    page = await site.client.get(f"/numbers/{EXTRA}/history")
    text = page.text
    assert page.status_code == 200
    assert text.index("2026/11/21 18:06:05") < text.index("2026/11/21 18:04:05")  # newest first
    assert "通知: 送信 → me@example.jp" in text
    assert "「応答できなかった着信のみお知らせする」の設定中に、応答した着信でした" in text
    assert "ナンバー・リクエストで非通知の着信をお断りしました" in text
    assert "非通知" in text and "0311112222" not in text  # a withheld number never shows


async def test_SITE_7_what_was_typed_comes_back_escaped(site: Site) -> None:
    await admin_with_many_numbers(site)
    hostile = '"><script>alert(1)</script>'
    page = await site.client.get("/numbers", params={"q": hostile})
    assert page.status_code == 400
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    typed = await site.post(f"/numbers/{EXTRA}/addresses", {"address_1": hostile + "@x.jp"})
    assert typed.status_code == 400 and "<script>alert(1)" not in typed.text
