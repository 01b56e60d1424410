"""Issue 19, CHAT-1 and CHAT-2: a number's chat/webhook destinations, on both databases."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from store import db, destinations, service
from store.errors import (
    AlreadyExists,
    InvalidInput,
    LimitExceeded,
    NotFound,
    NotSubscribed,
    RuleViolation,
)
from store.models import ChatDestination, ChatKind, MailKind, MailStatus, OutboxMail
from tests.builders import E1, E2, N, unchanged_after

NOW = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
SLACK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/SlackS3cr3tToken0123"
DISCORD = "https://discord.com/api/webhooks/123456789012345678/DiscordS3cr3tToken"
TEAMS = (
    "https://prod-12.japaneast.logic.azure.com:443/workflows/0123/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sig=TeamsS3cr3tSig"
)
HOOK = "https://hooks.example.com/in/HookS3cr3tPath"
TOKEN = "0123456789abcdefCHATWORKs3cr3t99"
SECRETS = ("S3cr3t", "s3cr3t")


def add(
    s: Session, number: str = E1, kind: ChatKind | str = ChatKind.SLACK, **kw: Any
) -> tuple[destinations.Shown, str | None]:
    kw.setdefault("url", SLACK if kind == ChatKind.SLACK else None)
    return destinations.add_destination(s, number, kind, now=NOW, **kw)


def test_CHAT_1_every_kind_added_listed_masked(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        slack, none = add(s, label="営業部")
        discord, _ = add(s, kind=ChatKind.DISCORD, url=DISCORD, send=False)
        chatwork, _ = add(s, kind="Chatwork", room_id="12345", token=TOKEN)
        add(s, number=E2, kind=ChatKind.TEAMS, url=TEAMS)
        add(s, number=E2, kind=ChatKind.WEBHOOK, url=HOOK)
    assert none is None
    assert (slack.position, discord.position, chatwork.position) == (1, 2, 3)
    with db.transaction(line) as s:
        shown = destinations.destinations(s, E1)
        other = destinations.destinations(s, E2)
    assert [(d.position, d.kind, d.name, d.send) for d in shown] == [
        (1, ChatKind.SLACK, "営業部", True),
        (2, ChatKind.DISCORD, "Discord", False),
        (3, ChatKind.CHATWORK, "Chatwork", True),
    ]
    assert shown[0].shown_url == "https://hooks.slack.com/services/T0…/••••"
    assert shown[1].shown_url == "https://discord.com/api/webhooks/12…/••••"
    assert shown[2].shown_url == "chatwork room 12345" and shown[2].room_id == "12345"
    assert [(d.name, d.shown_url, d.signed) for d in other] == [
        ("Microsoft Teams", "https://prod-12.japaneast.logic.azure.com:443/••••", False),
        ("Webhook", "https://hooks.example.com/••••", True),
    ]
    # CHAT-1: nothing shown holds a URL's secret part, a token or a signing secret.
    text = repr(shown + other)
    assert not any(secret in text for secret in SECRETS) and TOKEN not in text
    assert "whsec_" not in text
    with db.transaction(line) as s:
        row = destinations.destination_row(s, E1, 3)
        assert (row.url, row.room_id, row.secret) == (None, "12345", TOKEN)
        assert destinations.destination_row(s, E1, 1).url == SLACK
        assert row.created_at == NOW


def test_CHAT_2_webhook_secret_made_returned_once_and_signs(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        hook, secret = add(s, kind=ChatKind.WEBHOOK, url=HOOK)
        _, second = add(s, kind=ChatKind.WEBHOOK, url=HOOK + "2")
    assert secret is not None and second is not None and secret != second
    assert secret.startswith("whsec_") and len(secret) == 50
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    with db.transaction(line) as s:
        assert destinations.destination_row(s, E1, hook.position).secret == secret
    # What a receiver computes from the secret it was shown (the Standard Webhooks
    # scheme: HMAC-SHA256 of "id.timestamp.body" under the base64-decoded key) is what
    # the Standard Webhooks library signs with it.
    body = json.dumps({"type": "test"})
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"msg_1.{int(NOW.timestamp())}.{body}".encode(), hashlib.sha256)
    assert Webhook(secret).sign("msg_1", NOW, body) == "v1," + base64.b64encode(
        mac.digest()
    ).decode("ascii")


def test_CHAT_2_rotate_secret_webhook_only(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        add(s)
        _, first = add(s, kind=ChatKind.WEBHOOK, url=HOOK)
    with db.transaction(line) as s:
        again = destinations.rotate_secret(s, E1, 2)
    assert again != first and again.startswith("whsec_")
    with db.transaction(line) as s:
        assert destinations.destination_row(s, E1, 2).secret == again
    err = unchanged_after(line, lambda s: destinations.rotate_secret(s, E1, 1), RuleViolation)
    assert err.code == "destination_not_webhook"
    err = unchanged_after(line, lambda s: destinations.rotate_secret(s, E1, 3), NotFound)
    assert err.code == "destination_not_found"


def test_CHAT_1_a_fourth_destination_is_refused(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        add(s)
        add(s, kind=ChatKind.DISCORD, url=DISCORD)
        add(s, kind=ChatKind.WEBHOOK, url=HOOK)
    err = unchanged_after(line, lambda s: add(s, kind=ChatKind.TEAMS, url=TEAMS), LimitExceeded)
    assert err.code == "destinations_full" and err.params == {"limit": 3}


def test_CHAT_1_freed_slot_reused_and_queued_rows_keep_their_history(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        add(s)
        add(s, kind=ChatKind.DISCORD, url=DISCORD)
        row = destinations.destination_row(s, E1, 1)
        s.add(
            OutboxMail(
                dedup_key="msg_x",
                kind=MailKind.CALL_CHAT,
                recipient="Slack",
                destination_id=row.id,
                subject="s",
                body="{}",
                headers={},
                status=MailStatus.PENDING,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
    with db.transaction(line) as s:
        destinations.remove_destination(s, E1, 1)
    with db.transaction(line) as s:
        assert [d.position for d in destinations.destinations(s, E1)] == [2]
        queued = s.scalars(sa.select(OutboxMail)).one()
        assert queued.destination_id is None and queued.recipient == "Slack"
        again, _ = add(s, kind=ChatKind.WEBHOOK, url=HOOK)
    assert again.position == 1
    err = unchanged_after(line, lambda s: destinations.remove_destination(s, E1, 3), NotFound)
    assert err.code == "destination_not_found" and err.params == {"position": 3}


def test_CHAT_1_the_same_url_or_room_twice_is_refused(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        add(s)
        add(s, kind=ChatKind.CHATWORK, room_id="777", token=TOKEN)
    loud = SLACK.replace("https://hooks.slack.com", "HTTPS://Hooks.Slack.COM")
    err = unchanged_after(line, lambda s: add(s, url=f" {loud} "), AlreadyExists)
    assert err.code == "destination_duplicate" and err.field == "url"
    err = unchanged_after(
        line, lambda s: add(s, kind=ChatKind.CHATWORK, room_id="777", token=TOKEN), AlreadyExists
    )
    assert err.code == "destination_duplicate" and err.field == "room_id"
    with db.transaction(line) as s:
        add(s, number=E2)  # another number may post to the same channel


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"url": "https://user:pass@hooks.slack.com/services/T0/B0/x"}, "chat_url_userinfo"),
        ({"url": SLACK + "#x"}, "chat_url_fragment"),
        ({"url": SLACK + " x"}, "chat_url_chars"),
        ({"url": SLACK + "\r\nX-Evil: 1"}, "chat_url_chars"),
        ({"url": SLACK + "é"}, "chat_url_not_ascii"),
        ({"url": SLACK + "a" * (501 - len(SLACK))}, "chat_url_too_long"),
        ({"url": "http://hooks.slack.com/services/T0/B0/x"}, "chat_url_http"),
        ({"url": "https://evil.example/services/T0/B0/x"}, "chat_url_slack"),
        ({"url": None}, "chat_url_empty"),
        ({"url": SLACK, "token": TOKEN}, "destination_chatwork_only"),
        ({"kind": "webhook", "url": "https://127.0.0.1/"}, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://[::1]/"}, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://10.0.0.1/"}, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://169.254.169.254/"}, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://localhost/"}, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://2130706433/"}, "chat_url_ip_form"),
        ({"kind": "webhook", "url": "https://0177.0.0.1/"}, "chat_url_ip_form"),
        ({"kind": "discord", "url": "https://discord.com/api/webhooks/123"}, "chat_url_discord"),
        (
            {
                "kind": "teams",
                "url": "https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b",
            },
            "chat_url_teams_connector",
        ),
        ({"kind": "chatwork", "room_id": "12ab", "token": TOKEN}, "chatwork_room_format"),
        (
            {"kind": "chatwork", "room_id": "12", "token": "0123456789 abcdef"},
            "chatwork_token_format",
        ),
        ({"kind": "chatwork", "room_id": "12", "token": None}, "chatwork_token_format"),
        ({"kind": "chatwork", "url": SLACK, "room_id": "1", "token": TOKEN}, "chat_url_not_wanted"),
        ({"kind": "line", "url": SLACK}, "destination_kind"),
        ({"label": "a\nb"}, "destination_label_format"),
        ({"label": "x" * 21}, "destination_label_format"),
    ],
)
def test_CHAT_1_hostile_input_writes_nothing(
    line: sessionmaker[Session], kw: dict[str, Any], code: str
) -> None:
    with db.transaction(line) as s:
        add(s, kind=ChatKind.WEBHOOK, url=HOOK)
    err = unchanged_after(line, lambda s: add(s, **kw), InvalidInput)
    assert err.code == code
    assert not any(secret in err.message for secret in SECRETS) and TOKEN not in err.message


def test_CHAT_3_allowed_hosts_take_http_to_loopback(line: sessionmaker[Session]) -> None:
    url = "http://127.0.0.1:8123/slack"
    with db.transaction(line) as s:
        d, _ = add(s, url=url, allow_hosts=("127.0.0.1",))
    assert d.shown_url == "http://127.0.0.1:8123/••••"
    err = unchanged_after(line, lambda s: add(s, url=url + "2"), InvalidInput)
    assert err.code == "chat_url_http"


def test_CHAT_1_destinations_need_the_mail_service(line: sessionmaker[Session]) -> None:
    err = unchanged_after(line, lambda s: add(s, number=N), NotSubscribed)
    assert err.code == "not_subscribed"
    with pytest.raises(NotFound), db.transaction(line) as s:
        destinations.destinations(s, "0399999999")
    with db.transaction(line) as s:
        assert destinations.destinations(s, N) == []


def test_MAIL_2_send_flag_label_and_test_stamp(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        add(s)
    later = NOW + dt.timedelta(hours=1)
    with db.transaction(line) as s:
        off = destinations.set_destination_send(s, E1, 1, False)
        named = destinations.set_destination_label(s, E1, 1, " 受付 ")
        destinations.note_test_sent(s, E1, 1, now=later)
    assert not off.send and named.label == "受付" and named.name == "受付"
    with db.transaction(line) as s:
        (d,) = destinations.destinations(s, E1)
    assert (d.send, d.label, d.test_sent_at) == (False, "受付", later)
    with db.transaction(line) as s:
        assert destinations.set_destination_label(s, E1, 1, "").name == "Slack"
    err = unchanged_after(
        line, lambda s: destinations.set_destination_label(s, E1, 1, "\x1b[31m"), InvalidInput
    )
    assert err.code == "destination_label_format"
    err = unchanged_after(
        line, lambda s: destinations.set_destination_send(s, E1, 2, True), NotFound
    )
    assert err.code == "destination_not_found"


def test_CHAT_1_logs_name_no_url_token_or_secret(line: sessionmaker[Session]) -> None:
    with capture_logs() as logs, db.transaction(line) as s:
        add(s)
        _, secret = add(s, kind=ChatKind.WEBHOOK, url=HOOK)
        add(s, kind=ChatKind.CHATWORK, room_id="9", token=TOKEN)
        rotated = destinations.rotate_secret(s, E1, 2)
        destinations.remove_destination(s, E1, 1)
    text = repr(logs)
    assert [e["event"] for e in logs] == [
        "destination_added",
        "destination_added",
        "destination_added",
        "destination_secret_rotated",
        "destination_removed",
    ]
    assert secret and secret not in text and rotated not in text and TOKEN not in text
    assert "hooks" not in text and not any(x in text for x in SECRETS)


def test_CHAT_1_removing_a_number_removes_its_destinations(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        add(s)
    with db.transaction(line) as s:
        service.remove_number(s, E1)
    with db.transaction(line) as s:
        assert s.scalars(sa.select(ChatDestination)).all() == []


@pytest.mark.parametrize("port", [":443", ":", ":0443"])
def test_CHAT_1_a_default_port_names_the_same_destination(
    line: sessionmaker[Session], port: str
) -> None:
    """https://hooks.slack.com:443/... is the URL without its port: one destination, not two."""
    with db.transaction(line) as s:
        add(s)
    same = SLACK.replace("hooks.slack.com", "hooks.slack.com" + port)
    refused = unchanged_after(line, lambda s: add(s, url=same), AlreadyExists)
    assert refused.code == "destination_duplicate"
