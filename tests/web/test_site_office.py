"""Issue 17 (CALL-1, MAIL-9): office numbers on the settings site, over HTTP, both databases.

The サービス選択 says where the number's calls ring (its devices, each by the
name the operator gave it, or its queue); the call history says who answered
an answered call, as the mail does (「応答：受付（PJSIP/201）」). Names come
from the operator and from Asterisk: they are text, escaped like any other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from store import db, service
from store.models import AuthUnit, CallOutcome, Presentation
from tests.builders import a_mailed_call
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

N = f"/numbers/{EXTRA}"
HISTORY = f"{N}/history"
RINGS = "着信する電話機："
HOSTILE = "<script>x</script>"  # printable: store.validation.device_label takes it


def rings_line(html: str) -> str | None:
    found = re.search(r'<p class="rings">(.*?)</p>', html, re.S)
    return found.group(1) if found else None


def cards(html: str) -> list[str]:
    """The history's calls, newest first, each as its text without tags."""
    found = re.findall(r'<section class="card">(.*?)</section>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in found]


def answered_call(
    site: Site,
    linkedid: str,
    *,
    minutes: int,
    answered_by: str,
    answered_name: str = "",
    outcome: CallOutcome = CallOutcome.ANSWERED,
) -> None:
    """A call to EXTRA as the notifier records it (not mailed: answered)."""
    at = site.clock() + dt.timedelta(minutes=minutes)
    with db.transaction(site.sessions) as s:
        assert service.record_call_decision(
            s,
            now=at,
            linkedid=linkedid,
            subscriber_number=EXTRA,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=outcome,
            dial_status="ANSWER" if outcome is CallOutcome.ANSWERED else "NOANSWER",
            forward_dial_status="",
            started_at=at,
            ended_at=at,
            mailed=False,
            reason="answered",
            mails=[],
            answered_by=answered_by,
            answered_name=answered_name,
        )


def names(site: Site, **labels: str) -> None:
    with db.transaction(site.sessions) as s:
        for interface, label in labels.items():
            service.name_device(s, interface, label)


@contextmanager
def statements(site: Site) -> Iterator[list[str]]:
    """Every SQL statement the site runs meanwhile."""
    engine = site.sessions.kw["bind"]
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


# --- the service menu: where the calls ring ------------------------------------------------


async def test_issue17_CALL_1_the_menu_lists_the_devices_in_order_named_or_not(
    site: Site,
) -> None:
    with db.transaction(site.sessions) as s:
        service.update_number(s, EXTRA, endpoint="PJSIP/202&PJSIP/201&Local/answer@phones")
    names(site, **{"PJSIP/201": "受付", "PJSIP/299": "倉庫"})  # 倉庫: another number's
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    menu = await site.client.get(N)
    assert menu.status_code == 200
    assert rings_line(menu.text) == f"{RINGS}PJSIP/202、受付（PJSIP/201）、Local/answer@phones"
    assert "倉庫" not in menu.text


async def test_issue17_CALL_1_a_queue_number_says_it_rings_a_group(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.update_number(s, EXTRA, queue="sales", queue_seconds=40)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    line = rings_line((await site.client.get(N)).text)
    assert line == f"{RINGS}順番待ちの着信グループ（sales）"


async def test_issue17_CALL_1_a_number_without_devices_or_queue_says_nothing_of_them(
    site: Site,
) -> None:
    """It rings the PBX's default device for the number (call.fallback_endpoint), which
    the site does not know: the menu stays as it was."""
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    menu = await site.client.get(N)
    assert rings_line(menu.text) is None and RINGS not in menu.text


async def test_issue17_CALL_1_a_hostile_device_name_is_text_on_the_menu(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.update_number(s, EXTRA, endpoint="PJSIP/201&PJSIP/202")
    names(site, **{"PJSIP/201": HOSTILE, "PJSIP/202": "A&B \"'"})
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    menu = (await site.client.get(N)).text
    assert HOSTILE not in menu and "<script" not in menu
    assert rings_line(menu) == (
        f"{RINGS}&lt;script&gt;x&lt;/script&gt;（PJSIP/201）、A&amp;B &#34;&#39;（PJSIP/202）"
    )


# --- the call history: who answered ----------------------------------------------------------


async def test_issue17_MAIL_9_the_history_says_who_answered_an_answered_call(site: Site) -> None:
    names(site, **{"PJSIP/201": "受付", "Local/desk@phones/n": "総務"})
    answered_call(site, "o.1", minutes=1, answered_by="PJSIP/201")
    # A queue member: the operator's name wins over Asterisk's (queues.conf) member name.
    answered_call(site, "o.2", minutes=2, answered_by="Local/desk@phones/n", answered_name="desk")
    answered_call(site, "o.3", minutes=3, answered_by="Local/sales@phones", answered_name="営業")
    answered_call(site, "o.4", minutes=4, answered_by="PJSIP/203")
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    history = await site.client.get(HISTORY)
    assert history.status_code == 200
    newest, queued, member, first = cards(history.text)
    assert "応答：PJSIP/203" in newest
    assert "応答：営業（Local/sales@phones）" in queued
    assert "応答：総務（Local/desk@phones/n）" in member and "desk）" not in member
    assert "応答：受付（PJSIP/201）" in first
    assert "着信結果: 応答" in first  # the line the page had before


async def test_issue17_MAIL_9_no_answer_line_for_an_unanswered_call(site: Site) -> None:
    names(site, **{"PJSIP/201": "受付"})
    a_mailed_call(
        site.sessions, number=EXTRA, linkedid="o.5", recipients=["boss@example.jp"], at=site.clock()
    )
    # Stored with an interface though unanswered (an older notifier): still no line.
    answered_call(site, "o.6", minutes=1, answered_by="PJSIP/201", outcome=CallOutcome.UNANSWERED)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    history = (await site.client.get(HISTORY)).text
    assert len(cards(history)) == 2
    assert "応答：" not in history and "受付" not in history


async def test_issue17_MAIL_9_a_hostile_name_of_who_answered_is_text_in_the_history(
    site: Site,
) -> None:
    names(site, **{"PJSIP/201": HOSTILE})
    answered_call(site, "o.7", minutes=1, answered_by="PJSIP/201")
    answered_call(site, "o.8", minutes=2, answered_by="PJSIP/202", answered_name="<b>受付</b>")
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    history = (await site.client.get(HISTORY)).text
    assert HOSTILE not in history and "<b>" not in history
    assert "応答：&lt;script&gt;x&lt;/script&gt;（PJSIP/201）" in history
    assert "応答：&lt;b&gt;受付&lt;/b&gt;（PJSIP/202）" in history


async def test_issue17_MAIL_9_the_history_reads_the_names_once_whatever_the_calls(
    site: Site,
) -> None:
    """The names are loaded once per page, not once per call: the page runs as many
    statements for one answered call as for six, each answered by another device."""
    names(site, **{f"PJSIP/20{i}": f"電話{i}" for i in range(6)})
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    answered_call(site, "q.0", minutes=1, answered_by="PJSIP/200")
    with statements(site) as one:
        first = await site.client.get(HISTORY)
    for i in range(1, 6):
        answered_call(site, f"q.{i}", minutes=1 + i, answered_by=f"PJSIP/20{i}")
    with statements(site) as six:
        second = await site.client.get(HISTORY)
    assert "応答：電話0（PJSIP/200）" in first.text
    assert all(f"応答：電話{i}（PJSIP/20{i}）" in second.text for i in range(6))
    assert len(six) == len(one), six


# --- nothing else on the site minds several devices ------------------------------------------


async def test_issue17_CALL_1_every_page_of_a_number_with_several_devices_works(
    site: Site,
) -> None:
    with db.transaction(site.sessions) as s:
        service.update_number(s, EXTRA, endpoint="PJSIP/201&PJSIP/202&Local/answer@phones")
        service.update_number(s, CONTRACT, queue="sales")
    names(site, **{"PJSIP/201": "受付"})
    answered_call(site, "w.1", minutes=1, answered_by="PJSIP/202")
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)  # manages both numbers
    pages = ["/", "/numbers", "/bulk", "/otp/csv", "/help"]
    for number in (EXTRA, CONTRACT):
        base = f"/numbers/{number}"
        pages += [base, f"{base}/history", f"{base}/mail", f"{base}/addresses"]
        pages += [f"{base}/conditions", f"{base}/designated", f"{base}/nuisance"]
        pages += [f"{base}/number-request", f"{base}/voice-warp"]
    for path in pages:
        shown = await site.client.get(path)
        assert shown.status_code == 200, (path, shown.text[:300])
    saved = await site.post(
        f"{N}/voice-warp",
        {
            "enabled": "on",
            "mode": "unconditional",
            "destination": "0312349999",
            "ring_seconds": "20",
        },
    )
    assert saved.status_code == 303, saved.text
    added = await site.post(f"{N}/nuisance", {"action": "add", "caller_number": "0311110000"})
    assert added.status_code == 303, added.text
    with db.transaction(site.sessions, read_only=True) as s:
        found = service.describe_number(service.get_number(s, EXTRA))
    assert found["endpoint"] == "PJSIP/201&PJSIP/202&Local/answer@phones"
    assert found["voice_warp"]["enabled"] and found["nuisance_list"]
