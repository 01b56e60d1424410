"""The destinations page over HTTP (issue 19, CHAT-1, CHAT-2, SITE-1).

A subscriber adds a Slack, Teams, Discord, Chatwork or generic webhook
destination to a number, sets its 送信 flag and label, removes it. The page
says what each kind sends and that chat notices follow the mail's
conditions; URLs are shown masked, tokens never. Every form is CSRF-checked
and scoped to the login's numbers; a forged or stale form changes nothing;
a refusal is said in Japanese by its field and leaves the stored data as it
was. (送信テスト and the signing secret: test_site_destinations_send_test.py.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from chakushin.config import SiteConfig
from store import db, service
from store.models import AuthUnit, ChatKind, Service
from tests.notifier.smtp_server import SmtpServer
from tests.web.chat_receiver import Receiver, receiving
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.destinations_site import (
    CHANGE,
    PAGE,
    SECRET_PATH,
    a_slack,
    add,
    card,
    change,
    chat_site,
    handle_of,
    logged_in,
    stored,
)
from tests.web.steps import EXTRA_PW, GOOD
from web.texts import page

pytestmark = pytest.mark.asyncio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest_asyncio.fixture
async def site(
    site_line: sessionmaker[Session], smtp: SmtpServer, site_config: SiteConfig
) -> AsyncIterator[Site]:
    async with chat_site(site_line, smtp, site_config) as found:
        yield found


# --- what the page says ------------------------------------------------------------------


async def test_CHAT_1_the_page_says_what_each_kind_sends_and_that_chat_follows_the_mail(
    site: Site,
) -> None:
    await logged_in(site)
    menu = await site.client.get(f"/numbers/{EXTRA}/mail")
    assert f'href="{PAGE}"' in menu.text  # reached from the number's mail menu
    shown = await site.client.get(PAGE)
    assert shown.status_code == 200
    text = shown.text
    assert page("destinations.title") in text
    for code in (
        "destinations.follows_mail",
        "destinations.needs_address",
        "destinations.withheld",
        "destinations.sends_text",
        "destinations.sends_slack",
        "destinations.sends_teams",
        "destinations.sends_discord",
        "destinations.sends_chatwork",
        "destinations.sends_webhook",
        "destinations.webhook_signed",
    ):
        assert page(code) in text, code
    assert "お知らせメールを送らない着信" in text and "チャットにも送りません" in text
    assert "HMAC-SHA256" in text and "JSON" in text
    assert page("destinations.none") in text
    # The mail service is stopped here: the page says nothing is sent now.
    assert page("destinations.warning_stopped") in text
    for kind in ChatKind:
        assert f'name="kind" value="{kind.value}"' in text


# --- adding, masked, the send flag, removing ---------------------------------------------


async def test_CHAT_1_a_slack_destination_is_added_and_shown_masked(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    [row] = stored(site)
    assert (row.kind, row.position, row.label, row.send) == (ChatKind.SLACK, 1, "営業部", False)
    assert row.url == receiver.url(SECRET_PATH)
    shown = await site.client.get(f"{PAGE}?added=1")
    assert page("destinations.added", position=1) in shown.text
    own = card(shown.text, 1)
    assert page("destinations.heading", position=1, name="営業部") in own
    assert "Slack" in own
    # The URL's path is its credential: never on the page.
    assert "abcdefSECRETpart" not in shown.text and SECRET_PATH not in shown.text
    assert receiver.received == []  # adding posts nothing


async def test_CHAT_1_the_send_flag_and_label_are_saved_and_a_destination_removed(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    saved = await change(site, 1, "save", send="1", label="受付")
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?saved=1"
    [row] = stored(site)
    assert (row.send, row.label) == (True, "受付")
    off = await change(site, 1, "save", label="受付")
    assert off.status_code == 303 and not stored(site)[0].send
    removed = await change(site, 1, "remove")
    assert removed.status_code == 303 and removed.headers["location"] == f"{PAGE}?removed=1"
    assert stored(site) == []


async def test_CHAT_1_chatwork_takes_a_room_and_a_token_that_is_never_shown(
    site: Site,
) -> None:
    await logged_in(site)
    token = "a1B2c3D4e5F6g7H8i9J0"
    done = await add(site, kind="chatwork", room_id="123456", token=token)
    assert done.status_code == 303, done.text
    [row] = stored(site)
    assert (row.kind, row.room_id, row.secret, row.url) == (
        ChatKind.CHATWORK,
        "123456",
        token,
        None,
    )
    shown = await site.client.get(PAGE)
    assert page("destinations.chatwork_room", room="123456") in card(shown.text, 1)
    assert token not in shown.text


# --- refusals: Japanese, by the field, nothing changed -------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "slack", "url": "https://example.com/services/T/B/x"}, "url"),
        ({"kind": "slack", "url": "http://hooks.slack.com/services/T/B/x"}, "url"),
        ({"kind": "teams", "url": "https://x.webhook.office.com/webhookb2/abc"}, "url"),
        ({"kind": "slack", "url": ""}, "url"),
        ({"kind": "chatwork", "room_id": "12a", "token": "a1B2c3D4e5F6g7H8i9J0"}, "room_id"),
        ({"kind": "chatwork", "room_id": "123", "token": "short"}, "token"),
        (
            {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/x", "label": "x" * 21},
            "label",
        ),
    ],
)
async def test_issue19_a_refused_destination_is_said_by_its_field_and_nothing_is_stored(
    site: Site, fields: dict[str, str], field: str
) -> None:
    await logged_in(site)
    before = site.state()
    refused = await add(site, **fields)
    assert refused.status_code == 400, refused.text
    error = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', refused.text)
    assert error, refused.text
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", error.group(1)), error.group(1)
    assert f'aria-describedby="{field}-error"' in refused.text
    if fields.get("url"):
        assert f'value="{fields["url"]}"' in refused.text  # kept as typed
    if fields.get("token"):
        assert fields["token"] not in refused.text  # never shown again
    assert site.state() == before


async def test_CHAT_1_a_fourth_destination_and_the_same_url_twice_are_refused(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    twice = await add(site, kind="slack", url=receiver.url(SECRET_PATH))
    assert twice.status_code == 400
    assert page("destinations.duplicate") in twice.text
    for path in ("/services/T1/B1/a", "/services/T2/B2/b"):
        assert (await add(site, kind="slack", url=receiver.url(path))).status_code == 303
    assert page("destinations.full", limit=3) in (await site.client.get(PAGE)).text
    before = site.state()
    fourth = await add(site, kind="slack", url=receiver.url("/services/T3/B3/c"))
    assert fourth.status_code == 400
    assert page("destinations.too_many", limit=3) in fourth.text
    assert site.state() == before


async def test_issue19_a_label_refused_on_save_keeps_the_stored_one(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    before = site.state()
    refused = await change(site, 1, "save", send="1", label="a\u0007b")
    assert refused.status_code == 400
    assert 'id="destination_1-error"' in card(refused.text, 1)
    assert site.state() == before


# --- SITE-1, CSRF, forged and stale forms ---------------------------------------------------


async def test_SITE_1_issue19_forms_need_the_csrf_token_and_the_number_in_scope(
    site: Site, receiver: Receiver
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.NUMBER, GOOD)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, EXTRA_PW)  # EXTRA logged in, alone
    await a_slack(site, receiver)
    before = site.state()
    forged = await site.client.post(
        PAGE, data={"csrf_token": "forged", "kind": "slack", "url": receiver.url("/services/a/b/c")}
    )
    assert forged.status_code == 403
    other = f"/numbers/{CONTRACT}/destinations"
    assert (await site.client.get(other)).status_code == 403
    token = await site.csrf(PAGE)
    reached = await site.client.post(
        other, data={"csrf_token": token, "kind": "slack", "url": receiver.url("/services/a/b/c")}
    )
    assert reached.status_code == 403
    changed = await site.client.post(
        f"{other}/change",
        data={"csrf_token": token, "position": "1", "handle": "x", "action": "remove"},
    )
    assert changed.status_code == 403
    assert site.state() == before


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "explode"},
        {"position": "4"},
        {"position": "0"},
        {"send": "yes"},
    ],
)
async def test_issue19_a_forged_change_form_is_refused_whole(
    site: Site, receiver: Receiver, fields: dict[str, str]
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    before = site.state()
    shown = await site.client.get(PAGE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)
    assert token
    data: dict[str, Any] = {
        "csrf_token": token.group(1),
        "position": "1",
        "handle": handle_of(shown.text, 1),
        "action": "remove",
        **fields,
    }
    refused = await site.client.post(CHANGE, data=data)
    assert refused.status_code == 400
    assert site.state() == before
    forged_kind = await add(site, kind="telegram", url=receiver.url("/x"))
    assert forged_kind.status_code == 400 and site.state() == before


async def test_issue19_a_stale_page_removes_nothing_after_its_slot_was_filled_again(
    site: Site, receiver: Receiver
) -> None:
    await logged_in(site)
    await a_slack(site, receiver)
    stale = await site.client.get(PAGE)
    old = handle_of(stale.text, 1)
    assert (await change(site, 1, "remove")).status_code == 303
    assert (await add(site, kind="slack", url=receiver.url("/services/N/E/w"))).status_code == 303
    before = site.state()
    token = await site.csrf(PAGE)
    refused = await site.client.post(
        CHANGE,
        data={"csrf_token": token, "position": "1", "handle": old, "action": "remove"},
    )
    assert refused.status_code == 409
    assert page("destinations.gone") in refused.text
    assert site.state() == before


async def test_CHAT_1_a_number_without_the_mail_service_offers_no_destination(
    site: Site, receiver: Receiver
) -> None:
    """CHAT-1: destinations go with the mail service (store.destinations); the page says so."""
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)  # the line: EXTRA too
    with db.transaction(site.sessions) as s:
        service.set_services(s, EXTRA, disable=[Service.MAIL])
    before = site.state()
    shown = await site.client.get(PAGE)
    assert shown.status_code == 200
    assert page("destinations.not_subscribed") in shown.text
    assert 'action="/numbers/' + EXTRA + '/destinations"' not in shown.text  # no add form
    token = await site.csrf(f"/numbers/{CONTRACT}/mail")
    refused = await site.client.post(
        PAGE, data={"csrf_token": token, "kind": "slack", "url": receiver.url(SECRET_PATH)}
    )
    assert refused.status_code == 400
    assert site.state() == before


async def test_MAIL_2_without_a_sender_the_send_test_says_it_is_unavailable(
    site: Site, receiver: Receiver
) -> None:
    """This module's site has no ``chat_send_test``: nothing is counted or posted."""
    await logged_in(site)
    await a_slack(site, receiver)
    before = site.state()
    refused = await change(site, 1, "test")
    assert refused.status_code == 503
    assert page("destinations.test_unavailable") in card(refused.text, 1)
    assert site.state() == before and receiver.received == []
