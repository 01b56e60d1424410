"""Issue 19 (CHAT-3, BOOK-2, SITE-1): the call history on the site shows each destination's
chat or webhook notice in words beside the mails, and the caller's phonebook name beside a
presented number only; on both databases, over HTTP.

The notices are posted by the real ``notifier.webhooks.HttpSender`` to a real HTTP server
on 127.0.0.1 (one webhook answers 404, the other 200), the results recorded as the
delivery worker records them (``tests.delivery_chat.post_due_chats``).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from notifier.webhooks import HttpSender, WebhookSettings
from store import db, service
from store.models import AuthUnit, ChatDestination, ChatKind, Presentation
from tests.delivery_chat import a_call_with_chats, add_destination, add_name, post_due_chats
from tests.notifier.http_server import HttpServer, Reply
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD
from web.texts import page

pytestmark = pytest.mark.asyncio

OK_MAIL = "ok@example.jp"
HISTORY = f"/numbers/{EXTRA}/history"


def chat_lines(html: str) -> list[str]:
    """The history's chat notice lines (``<li class="delivery chat ...">``), tags removed."""
    items = re.findall(r"<li class=\"delivery chat[^\"]*\">(.*?)</li>", html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", i)).strip() for i in items]


async def test_issue19_CHAT_3_BOOK_2_wire_each_destination_in_words_and_the_callers_name(
    site: Site,
) -> None:
    gone = HttpServer(default=Reply(404, b"no_service"))
    ok = HttpServer(default=Reply(200, b"ok"))
    with gone, ok:
        with db.transaction(site.sessions) as s:
            service.add_address(s, EXTRA, OK_MAIL)
        await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
        now = site.clock()
        slack = add_destination(
            site.sessions, EXTRA, ChatKind.SLACK, position=1, label="営業", url=gone.url(), now=now
        )
        hook = add_destination(
            site.sessions, EXTRA, ChatKind.WEBHOOK, position=2, url=ok.url(), now=now
        )
        add_name(site.sessions, EXTRA, "0398765432", "山田商事")
        chats = [(slack, ChatKind.SLACK, "営業"), (hook, ChatKind.WEBHOOK, "Webhook")]
        a_call_with_chats(
            site.sessions, number=EXTRA, linkedid="h.1", at=now, mails=[OK_MAIL], chats=chats
        )
        a_call_with_chats(
            site.sessions,
            number=EXTRA,
            linkedid="h.2",
            at=now + dt.timedelta(minutes=1),
            mails=[OK_MAIL],
            chats=chats[1:],
            presentation=Presentation.WITHHELD,
        )
        site.clock.advance(minutes=1, seconds=3)
        sender = HttpSender(WebhookSettings(allow_hosts=frozenset({"127.0.0.1"})), clock=site.clock)
        try:
            assert await post_due_chats(site.sessions, sender, at=site.clock()) == 3
        finally:
            await sender.close()
        # The receivers got the notices as queued (the webhook's signed with its id).
        assert [r.path for r in gone.requests] == ["/hook"]
        assert len(ok.requests) == 2
        assert all(json.loads(r.body) == {"text": "着信"} for r in ok.requests)
        assert all(r.headers["webhook-id"].startswith("msg_") for r in ok.requests)

    history = await site.client.get(HISTORY)
    assert history.status_code == 200
    text = history.text
    # The named caller: name beside the number; the withheld one: neither digits nor name.
    assert "山田商事（0398765432）" in re.sub(r"<[^>]+>", "", text)
    withheld_card, named_card = re.findall(r'<section class="card">(.*?)</section>', text, re.S)
    assert "非通知" in withheld_card
    assert "山田商事" not in withheld_card and "0398765432" not in withheld_card
    assert page("delivery.chat_heading") in named_card
    lines = chat_lines(text)
    sent = page("delivery.sent", time="2026/11/22 10:01:03")
    attempts = f"({page('delivery.attempts', attempts=1)})"
    assert lines == [
        f"Webhook Webhook {sent}{attempts}",
        f"Slack 営業 {page('delivery.failed')}{attempts} {page('delivery.chat_gone')}",
        f"Webhook Webhook {sent}{attempts}",
    ]
    # The mail lines are as before, and the receiver's reply is never the page's.
    assert f"通知: 送信 → {OK_MAIL}" in text
    for raw in ("404", "no_service", "HTTP", "127.0.0.1", "/hook"):
        assert raw not in text, raw

    # A removed destination: its notices stay, said to be of a removed destination.
    with db.transaction(site.sessions) as s:
        found = s.get(ChatDestination, slack)
        assert found is not None
        s.delete(found)
    lines = chat_lines((await site.client.get(HISTORY)).text)
    assert lines[1].startswith(f"Slack 営業 {page('delivery.chat_removed')} ")


async def test_SITE_1_issue19_another_numbers_chat_notices_and_names_stay_hidden(
    site: Site,
) -> None:
    now = site.clock()
    hook = add_destination(
        site.sessions, CONTRACT, ChatKind.DISCORD, position=1, label="本社", now=now
    )
    add_name(site.sessions, CONTRACT, "0398765432", "本社の取引先")
    a_call_with_chats(
        site.sessions,
        number=CONTRACT,
        linkedid="o.1",
        at=now,
        chats=[(hook, ChatKind.DISCORD, "本社")],
    )
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, GOOD)
    other = await site.client.get(f"/numbers/{CONTRACT}/history")
    assert other.status_code == 403
    assert "本社" not in other.text and "0398765432" not in other.text
    mine = await site.client.get(HISTORY)
    assert mine.status_code == 200 and "本社" not in mine.text
