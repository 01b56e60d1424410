"""Issue 19 (CHAT-3, BOOK-2, MAIL-10): a call's chat notices beside its mails, and the
caller's phonebook name, in the history's rows, on both databases.

The chat rows are queued as the notifier queues them and their attempts
recorded as the delivery worker records them (``tests.delivery_chat``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from notifier.outbox import SendResult
from store import bulk, db, delivery, service
from store.delivery import DeliveryStatus, FailureKind
from store.models import CallOutcome, ChatDestination, ChatKind, Presentation
from tests.builders import E1, TZ, C
from tests.delivery_chat import (
    POLICY,
    a_call_with_chats,
    add_destination,
    add_name,
    chat_attempt,
)

T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo
A = "a@example.jp"
OK = SendResult(True, reply="HTTP 200 OK: ok")
GONE = SendResult(False, permanent=True, reply="HTTP 404 Not Found: no_service")
LATER = SendResult(False, reply="HTTP 503 Service Unavailable: busy")


@pytest.fixture
def small(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C with the mail service and the address A; E1 beside it."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_address(s, C, A)
    return sessions


def read(sessions: sessionmaker[Session], number: str = C) -> list[delivery.CallDeliveries]:
    with db.transaction(sessions, read_only=True) as s:
        return delivery.call_deliveries(s, number)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("HTTP 404 Not Found: no_service", FailureKind.GONE),
        ("HTTP 410 Gone: channel_is_archived", FailureKind.GONE),
        ("HTTP 401 Unauthorized: Invalid API token", FailureKind.NOT_AUTHORIZED),
        ("HTTP 403 Forbidden: action_prohibited", FailureKind.NOT_AUTHORIZED),
        ("HTTP 400 Bad Request: invalid_payload", FailureKind.REFUSED),
        ("HTTP 413 Payload Too Large: ", FailureKind.REFUSED),
        ("HTTP 302 Found: ", FailureKind.REDIRECTED),
        ("HTTP 429 Too Many Requests: slow down", FailureKind.DEFERRED),
        ("HTTP 408 Request Timeout: ", FailureKind.DEFERRED),
        ("HTTP 500 Internal Server Error: oops", FailureKind.DEFERRED),
        ("HTTP 503 Service Unavailable: HTTP 404 in the body", FailureKind.DEFERRED),
        ("ConnectTimeout: timed out", FailureKind.UNREACHABLE),
        ("ConnectError: [Errno 111] Connection refused (HTTP 404)", FailureKind.UNREACHABLE),
        ("refused: 10.0.0.5 is not a public address", FailureKind.BLOCKED),
        ("destination removed", FailureKind.DESTINATION_REMOVED),
        ("HTTP 4040 nonsense", FailureKind.UNREACHABLE),
        ("550 5.1.1 an SMTP reply is no HTTP answer", FailureKind.UNREACHABLE),
        ("", FailureKind.UNREACHABLE),
        (None, FailureKind.UNREACHABLE),
    ],
)
def test_issue19_CHAT_3_a_chat_failure_kind_comes_from_the_stored_http_reply(
    reply: str | None, kind: FailureKind
) -> None:
    assert delivery.chat_failure_kind(reply) is kind


def test_issue19_CHAT_3_a_call_lists_its_mails_then_each_destination_with_its_status(
    small: sessionmaker[Session],
) -> None:
    slack = add_destination(small, C, ChatKind.SLACK, position=1, label="営業", now=T0)
    hook = add_destination(small, C, ChatKind.WEBHOOK, position=2, now=T0)
    teams = add_destination(small, C, ChatKind.TEAMS, position=3, now=T0)
    a_call_with_chats(
        small,
        number=C,
        linkedid="c.1",
        at=T0,
        mails=[A],
        chats=[
            (slack, ChatKind.SLACK, "営業"),
            (hook, ChatKind.WEBHOOK, "Webhook"),
            (teams, ChatKind.TEAMS, "Microsoft Teams"),
        ],
    )
    later = T0 + dt.timedelta(seconds=4)
    chat_attempt(small, {"営業": OK, "Webhook": GONE, "Microsoft Teams": LATER}, at=later)
    (row,) = read(small)
    assert [(d.channel, d.address) for d in row.deliveries] == [
        ("mail", A),
        ("slack", "営業"),
        ("webhook", "Webhook"),
        ("teams", "Microsoft Teams"),
    ]
    mail, sent, gone, retrying = row.deliveries
    assert not mail.is_chat and mail.destination_id is None and mail.destination_position is None
    assert (mail.status, mail.attempts) == (DeliveryStatus.QUEUED, 0)
    assert sent.is_chat and (sent.destination_id, sent.destination_position) == (slack, 1)
    assert (sent.status, sent.attempts, sent.failure) == (DeliveryStatus.SENT, 1, None)
    assert sent.sent_at == later and sent.sent_at.tzinfo == zoneinfo.ZoneInfo(TZ)
    assert (gone.status, gone.failure, gone.reply) == (
        DeliveryStatus.FAILED,
        FailureKind.GONE,
        GONE.reply,
    )
    assert (retrying.status, retrying.attempts, retrying.failure) == (
        DeliveryStatus.RETRYING,
        1,
        None,
    )
    assert retrying.next_attempt_at is not None and retrying.next_attempt_at > later
    # Given up at the deadline: deferred, as a mail's 4xx is.
    chat_attempt(small, {"Microsoft Teams": LATER}, at=T0 + POLICY.deadline)
    assert read(small)[0].deliveries[3].failure is FailureKind.DEFERRED


def test_issue19_CHAT_3_a_removed_destination_keeps_its_history_without_its_slot(
    small: sessionmaker[Session],
) -> None:
    slack = add_destination(small, C, ChatKind.DISCORD, position=2, now=T0)
    a_call_with_chats(
        small, number=C, linkedid="c.2", at=T0, chats=[(slack, ChatKind.DISCORD, "Discord")]
    )
    chat_attempt(small, {"Discord": OK}, at=T0)
    with db.transaction(small) as s:
        found = s.get(ChatDestination, slack)
        assert found is not None
        s.delete(found)
    (row,) = read(small)
    (only,) = row.deliveries
    assert (only.channel, only.address, only.status) == ("discord", "Discord", DeliveryStatus.SENT)
    assert (only.destination_id, only.destination_position) == (None, None)


def test_issue19_CHAT_3_MAIL_10_the_history_still_reads_its_deliveries_in_one_query(
    small: sessionmaker[Session],
) -> None:
    """Chat notices ride in the same query as the mails: the outbox is read once a page."""
    hook = add_destination(small, C, ChatKind.WEBHOOK, position=1, now=T0)
    for i in range(6):
        a_call_with_chats(
            small,
            number=C,
            linkedid=f"q.{i}",
            at=T0 + dt.timedelta(minutes=i),
            mails=[A],
            chats=[(hook, ChatKind.WEBHOOK, "Webhook")],
        )
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    engine = small.kw["bind"]
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = read(small)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(rows) == 6 and all(len(r.deliveries) == 2 for r in rows)
    assert sum("outbox_mail" in s for s in statements) == 1
    assert sum("phonebook_entry" in s for s in statements) == 1


@pytest.mark.parametrize(
    "presentation", [Presentation.WITHHELD, Presentation.PAYPHONE, Presentation.UNAVAILABLE]
)
def test_issue19_BOOK_2_the_history_names_presented_callers_only(
    small: sessionmaker[Session], presentation: Presentation
) -> None:
    """The phonebook holds the digits the record (wrongly) kept of a withheld caller: still
    no name, and no digits, in the history's row."""
    add_name(small, C, "0398765432", "山田商事")
    a_call_with_chats(small, number=C, linkedid="n.1", at=T0, mails=[A])
    a_call_with_chats(
        small,
        number=C,
        linkedid="n.2",
        at=T0 + dt.timedelta(minutes=1),
        mails=[A],
        presentation=presentation,
    )
    a_call_with_chats(
        small,
        number=C,
        linkedid="n.3",
        at=T0 + dt.timedelta(minutes=2),
        mails=[A],
        caller="0311112222",
    )
    unknown, withheld, named = read(small)
    assert (named.call.caller, named.call.caller_name) == ("0398765432", "山田商事")
    assert withheld.call.caller_name == "" and "0398765432" not in withheld.call.caller
    assert (unknown.call.caller, unknown.call.caller_name) == ("0311112222", "")
    with db.transaction(small, read_only=True) as s:
        rows = bulk.call_history(s, C)
    assert [r.caller_name for r in rows] == ["", "", "山田商事"]


def test_issue19_BOOK_2_a_name_is_the_called_numbers_own_and_current(
    small: sessionmaker[Session],
) -> None:
    """E1's phonebook names nobody for C's calls; a renamed entry shows its new name."""
    add_name(small, E1, "0398765432", "E1の取引先")
    a_call_with_chats(small, number=C, linkedid="o.1", at=T0, mails=[A])
    assert read(small)[0].call.caller_name == ""
    add_name(small, C, "0398765432", "山田商事")
    assert read(small)[0].call.caller_name == "山田商事"
    with db.transaction(small) as s:
        found = service.get_number(s, C)
        found.phonebook[0].name = "山田商事株式会社"
    assert read(small)[0].call.caller_name == "山田商事株式会社"


def test_issue19_CHAT_3_a_failed_destination_is_flagged_until_a_later_notice_is_sent(
    small: sessionmaker[Session],
) -> None:
    slack = add_destination(small, C, ChatKind.SLACK, position=1, now=T0)
    hook = add_destination(small, C, ChatKind.WEBHOOK, position=3, now=T0)
    chats = [(slack, ChatKind.SLACK, "Slack"), (hook, ChatKind.WEBHOOK, "Webhook")]
    a_call_with_chats(small, number=C, linkedid="f.1", at=T0, chats=chats)
    chat_attempt(small, {"Slack": GONE, "Webhook": OK}, at=T0)

    def flagged(**since: dt.datetime) -> dict[int, FailureKind]:
        with db.transaction(small, read_only=True) as s:
            found = delivery.recently_failed_destinations(s, C, **since)
            return {p: f.failure for p, f in found.items()}

    assert flagged() == {1: FailureKind.GONE}
    with db.transaction(small, read_only=True) as s:
        (failed,) = delivery.recently_failed_destinations(s, C).values()
    assert (failed.kind, failed.reply, failed.queued_at) == (ChatKind.SLACK, GONE.reply, T0)
    assert flagged(since=T0) == {}  # queued before the window
    # A later notice still pending clears nothing; once sent, the flag goes.
    later = T0 + dt.timedelta(hours=2)
    a_call_with_chats(small, number=C, linkedid="f.2", at=later, chats=chats[:1])
    assert flagged() == {1: FailureKind.GONE}
    chat_attempt(small, {"Slack": OK}, at=later)
    assert flagged() == {}
    # A failure again, then an accepted 送信テスト after it clears it (test_sent_at).
    again = later + dt.timedelta(hours=1)
    a_call_with_chats(small, number=C, linkedid="f.3", at=again, chats=chats[:1])
    chat_attempt(small, {"Slack": SendResult(False, permanent=True, reply="HTTP 403 x")}, at=again)
    assert flagged() == {1: FailureKind.NOT_AUTHORIZED}
    with db.transaction(small) as s:
        found = s.get(ChatDestination, slack)
        assert found is not None
        found.test_sent_at = again + dt.timedelta(minutes=1)
    assert flagged() == {}
    # Mails do not count for destinations, nor destinations for addresses.
    with db.transaction(small, read_only=True) as s:
        assert delivery.recently_failed(s, C) == {}
        assert delivery.recently_failed_destinations(s, E1) == {}


def test_issue19_CHAT_1_MAIL_10_notices_queued_by_the_notifiers_store_call_read_back(
    small: sessionmaker[Session],
) -> None:
    """The rows ``service.record_call_decisions`` queues (B's engine path) are read as the
    history's chat deliveries: kind, shown name, slot."""
    hook = add_destination(small, C, ChatKind.WEBHOOK, position=2, label="基幹", now=T0)
    decided = service.CallDecision(
        linkedid="r.1",
        subscriber_number=C,
        caller_number="0398765432",
        presentation=Presentation.ALLOWED,
        outcome=CallOutcome.UNANSWERED,
        dial_status="NOANSWER",
        forward_dial_status="",
        started_at=T0,
        ended_at=T0,
        mailed=True,
        reason="notify",
        rule="",
        mails=[service.QueuedMail(A, "s", "b", "<r.1@x>")],
        chats=[service.QueuedChat(hook, ChatKind.WEBHOOK, "基幹", "着信", '{"type": "x"}', "json")],
    )
    with db.transaction(small) as s:
        assert service.record_call_decisions(s, [decided], now=T0) == {"r.1"}
    (row,) = read(small)
    mail, chat = row.deliveries
    assert (mail.channel, mail.address) == ("mail", A)
    assert (chat.channel, chat.address, chat.destination_position) == ("webhook", "基幹", 2)
    assert (chat.status, chat.attempts) == (DeliveryStatus.QUEUED, 0)
