"""Issue 16 (MAIL-2, MAIL-10, SITE-1): what became of every mail, on the site, over HTTP.

The mails go through the real delivery worker (``notifier.outbox``) to an
aiosmtpd server that refuses one recipient with 550 and accepts the others;
the pages then say, in words and on both databases, which address got its
mail and which did not, and never the server's reply.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from store import db, service
from store.models import AuthUnit, CallOutcome, Presentation
from tests.builders import a_mailed_call
from tests.notifier.smtp_server import Inbox, SmtpServer
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD
from web.texts import page

pytestmark = pytest.mark.asyncio

GONE, OK = "gone@example.jp", "ok@example.jp"
REFUSAL = f"550 5.1.1 <{GONE}>: Recipient address rejected: User unknown"
HISTORY, ADDRESSES = f"/numbers/{EXTRA}/history", f"/numbers/{EXTRA}/addresses"


@dataclass
class RefusingInbox(Inbox):
    """Refuses the listed recipients at RCPT TO (where a real server says 5.1.1)."""

    refused: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            refusal = self.refused.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing() -> Any:
    server = SmtpServer(inbox=RefusingInbox(refused={GONE: REFUSAL})).start()
    yield server
    server.stop()


def a_call(site: Site, linkedid: str, recipients: list[str], *, minutes: int = 0) -> None:
    """A mailed call to EXTRA, its mails queued then, as the notifier records it."""
    at = site.clock() + dt.timedelta(minutes=minutes)
    a_mailed_call(
        site.sessions,
        number=EXTRA,
        linkedid=linkedid,
        recipients=recipients,
        at=at,
        caller="0398765432",
    )


async def deliver(site: Site, server: SmtpServer) -> None:
    """The real delivery worker, on the site's clock, until nothing is due."""
    worker = DeliveryWorker(
        site.sessions,
        [SmtpSender(SmtpSettings("127.0.0.1", server.port, timeout=10))],
        "chakushin@example.jp",
        clock=site.clock,
    )
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()


def lines_of(html: str, address: str) -> list[str]:
    """The history's delivery lines (``<li>``) of ``address``, tags removed."""
    items = re.findall(r"<li class=\"delivery[^\"]*\">(.*?)</li>", html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", i)).strip() for i in items if address in i]


def flag_of(html: str, row: int) -> str | None:
    found = re.search(rf'<p class="alert" id="address_{row}-failed">(.*?)</p>', html, re.S)
    return found.group(1) if found else None


async def logged_in_with_two_addresses(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.add_address(s, EXTRA, GONE)
        service.add_address(s, EXTRA, OK)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)


async def test_issue16_MAIL_10_wire_a_refused_address_and_a_delivered_one_in_words(
    site: Site, refusing: SmtpServer
) -> None:
    await logged_in_with_two_addresses(site)
    a_call(site, "d.1", [GONE, OK])
    site.clock.advance(3)
    await deliver(site, refusing)
    assert [m["To"] for m in refusing.inbox.messages] == [OK]

    history = await site.client.get(HISTORY)
    assert history.status_code == 200
    assert f"通知: 送信 → {GONE}、{OK}" in history.text  # the line the page had before
    (gone,) = lines_of(history.text, GONE)
    assert page("delivery.failed") in gone and page("delivery.address_refused") in gone
    (ok,) = lines_of(history.text, OK)
    assert ok == f"{OK} " + page("delivery.sent", time="2026/11/22 10:00:03")
    # The server's reply is the operator's (chakushin number show --calls), never the page's.
    for raw in ("550", "5.1.1", "Recipient address rejected", "User unknown"):
        assert raw not in history.text, raw

    addresses = await site.client.get(ADDRESSES)
    flag = flag_of(addresses.text, 1)
    assert flag == page("addresses.recently_failed", reason=page("delivery.address_refused"))
    assert "最近このアドレスに送信できませんでした" in flag
    assert 'aria-describedby="address_1-saved address_1-failed"' in addresses.text
    assert 'aria-describedby="address_2-saved"' in addresses.text
    assert flag_of(addresses.text, 2) is None
    assert "550" not in addresses.text


async def test_issue16_MAIL_2_the_flag_clears_once_a_later_mail_to_the_address_is_sent(
    site: Site, refusing: SmtpServer
) -> None:
    await logged_in_with_two_addresses(site)
    a_call(site, "d.2", [GONE, OK])
    await deliver(site, refusing)
    assert flag_of((await site.client.get(ADDRESSES)).text, 1) is not None
    # The subscriber's mailbox exists again; the next call's mail reaches it.
    assert isinstance(refusing.inbox, RefusingInbox)
    with refusing.inbox.lock:
        refusing.inbox.refused.clear()
    site.clock.advance(minutes=5)  # within the session's idle time (SITE-6)
    a_call(site, "d.3", [GONE])
    site.clock.advance(2)
    await deliver(site, refusing)
    assert flag_of((await site.client.get(ADDRESSES)).text, 1) is None
    history = (await site.client.get(HISTORY)).text
    newer, older = lines_of(history, GONE)
    assert newer == f"{GONE} " + page("delivery.sent", time="2026/11/22 10:05:02")
    assert page("delivery.failed") in older  # what happened then stays in the history


async def test_issue16_MAIL_10_a_deferred_mail_is_shown_as_being_sent_again(
    site: Site,
) -> None:
    await logged_in_with_two_addresses(site)
    site.smtp.inbox.refusals = ["451 4.3.0 try again later"]
    a_call(site, "d.4", [OK])
    await deliver(site, site.smtp)
    (line,) = lines_of((await site.client.get(HISTORY)).text, OK)
    # The first retry comes within RetryPolicy.base_delay (5 s): 10:00 still.
    assert line == f"{OK} " + page("delivery.retrying", next="2026/11/22 10:00", attempts=1)
    assert flag_of((await site.client.get(ADDRESSES)).text, 2) is None  # not given up


async def test_SITE_1_issue16_a_user_cannot_read_another_numbers_history(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        service.record_call_decision(
            s,
            now=site.clock(),
            linkedid="other",
            subscriber_number=CONTRACT,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=site.clock(),
            ended_at=site.clock(),
            mailed=True,
            reason="notify",
            mails=[service.QueuedMail("boss@example.jp", "s", "b", "<other@example.jp>")],
        )
    # admin/user unit: the additional number (a user) manages itself only.
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, GOOD)
    assert (await site.client.get(HISTORY)).status_code == 200
    for path in (f"/numbers/{CONTRACT}/history", f"/numbers/{CONTRACT}/addresses"):
        other = await site.client.get(path)
        assert other.status_code == 403, path
        assert "boss@example.jp" not in other.text and "0398765432" not in other.text


async def test_issue16_MAIL_2_an_accepted_send_test_clears_the_flag(
    site: Site, refusing: SmtpServer
) -> None:
    """A 送信テスト the mail server accepts is a mail to the address that succeeded: the
    flag goes (the site stamps the saved address, ``store.delivery.note_test_sent``)."""
    await logged_in_with_two_addresses(site)
    a_call(site, "d.5", [GONE])
    await deliver(site, refusing)
    assert flag_of((await site.client.get(ADDRESSES)).text, 1) is not None
    site.clock.advance(seconds=60)
    tested = await site.post(
        f"{ADDRESSES}/test",
        {"address_1": GONE, "send_1": "1", "address_2": OK, "send_2": "1", "test_row": "1"},
        page=ADDRESSES,
    )
    assert tested.status_code == 200
    assert page("send_test.sent", address=GONE) in tested.text  # the site's own server took it
    assert flag_of(tested.text, 1) is None
    assert flag_of((await site.client.get(ADDRESSES)).text, 1) is None
