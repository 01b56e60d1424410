"""Issue 19 (CHAT-1, CHAT-2, BOOK-2, MAIL-9, MAIL-10): the engine names callers and queues chats.

On both databases: ``Notifier.decide`` reads the batch's phonebook names in
its read, mails a named caller by name, and queues one CALL_CHAT outbox row
per destination whose send flag is on, keyed ``chat_key`` (the webhook-id),
only for a call it mails; a replayed call queues nothing twice.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import urllib.parse
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from notifier import chat, mail
from notifier.engine import Notifier
from notifier.model import CallRecord
from store import db, destinations, phonebook, service
from store.models import (
    CallOutcome,
    ChatKind,
    MailKind,
    Number,
    OutboxMail,
    PhonebookEntry,
    Presentation,
    StoredCall,
)
from tests.builders import Clock
from tests.notifier.chat_calls import (
    CALLER,
    DECIDED,
    NAME,
    RECIPIENT,
    SENDER,
    SUBSCRIBER,
    body_of,
    record,
)

SLACK_URL = "https://hooks.slack.com/services/T000/B000/abcdefghijklmnop"
HOOK_URL = "https://hooks.example.com/chakushin"
DISCORD_URL = "https://discord.com/api/webhooks/123456/tokentokentoken"
OTHER = "0311112222"


@pytest.fixture
def office(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """SUBSCRIBER mails RECIPIENT; Slack and a webhook on, Discord off; YAMADA in its book."""
    with db.transaction(sessions) as s:
        service.add_line(s, SUBSCRIBER, timezone="Asia/Tokyo")
        service.add_address(s, SUBSCRIBER, RECIPIENT)
        service.start_mail(s, SUBSCRIBER)
        phonebook.add_entry(s, SUBSCRIBER, CALLER, NAME, "取引先")
        destinations.add_destination(s, SUBSCRIBER, ChatKind.SLACK, url=SLACK_URL, now=DECIDED)
        destinations.add_destination(
            s, SUBSCRIBER, ChatKind.WEBHOOK, url=HOOK_URL, label="基幹", now=DECIDED
        )
        destinations.add_destination(
            s, SUBSCRIBER, ChatKind.DISCORD, url=DISCORD_URL, send=False, now=DECIDED
        )
    return sessions


def notifier(sessions: sessionmaker[Session]) -> Notifier:
    return Notifier(
        sessions, templates=mail.Templates.load(), sender_address=SENDER, clock=Clock(DECIDED)
    )


def rows(sessions: sessionmaker[Session], kind: MailKind) -> list[OutboxMail]:
    with db.transaction(sessions, read_only=True) as s:
        found = s.scalars(
            sa.select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
        ).all()
        s.expunge_all()
        return list(found)


def destination_ids(sessions: sessionmaker[Session]) -> dict[ChatKind, int]:
    with db.transaction(sessions, read_only=True) as s:
        number = s.scalars(sa.select(Number).where(Number.number == SUBSCRIBER)).one()
        return {ChatKind(d.kind): d.id for d in number.destinations}


def the_mail(sessions: sessionmaker[Session]) -> EmailMessage:
    (row,) = rows(sessions, MailKind.CALL_NOTIFICATION)
    msg = email.message_from_string(row.body, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def webhook_event(sessions: sessionmaker[Session]) -> Any:
    (hook,) = [r for r in rows(sessions, MailKind.CALL_CHAT) if r.headers["chat_kind"] == "webhook"]
    return json.loads(hook.body)


# --- a named call: mail and chats -----------------------------------------------------------


def test_CHAT_1_BOOK_2_a_named_call_is_mailed_and_posted_by_name(
    office: sessionmaker[Session],
) -> None:
    engine = notifier(office)
    (decided,) = engine.decide([record()])
    assert decided.queued == 1 and decided.chats == 2 and decided.decision.mailed
    assert engine.chats_queued == 2
    msg = the_mail(office)
    assert msg["Subject"] == "【着信お知らせメール】山田商事（0398765432）からの着信"
    assert "発信者：山田商事（0398765432）" in body_of(msg).splitlines()
    ids = destination_ids(office)
    (mail_row,) = rows(office, MailKind.CALL_NOTIFICATION)
    chats = rows(office, MailKind.CALL_CHAT)
    assert [(r.destination_id, r.recipient) for r in chats] == [
        (ids[ChatKind.SLACK], "Slack"),
        (ids[ChatKind.WEBHOOK], "基幹"),
    ]  # Discord's send flag is off
    for row in chats:
        key = service.chat_key("1763715845.42", row.destination_id or 0)
        assert row.dedup_key == key and key.startswith("msg_") and len(key) == 36
        assert row.headers["message_id"] == key
        assert row.decision_id == mail_row.decision_id
        assert row.subject == msg["Subject"]
        assert row.status.value == "pending" and row.next_attempt_at == DECIDED
    slack, hook = chats
    assert slack.headers == {
        "content_type": "application/json",
        "chat_kind": "slack",
        "message_id": slack.dedup_key,
    }
    assert json.loads(slack.body)["text"].splitlines()[2] == "発信者：山田商事（0398765432）"
    assert hook.headers["chat_kind"] == "webhook"


def test_CHAT_1_MAIL_9_the_mail_and_the_chat_message_of_a_call_agree(
    office: sessionmaker[Session],
) -> None:
    with db.transaction(office) as s:
        service.name_device(s, "PJSIP/201", "受付")
    notifier(office).decide([record(outcome=CallOutcome.ANSWERED, answered_by="PJSIP/201")])
    msg = the_mail(office)
    lines = body_of(msg).splitlines()
    event = webhook_event(office)
    data = event["data"]
    assert data["caller"] == {
        "number": CALLER,
        "presentation": "allowed",
        "label": CALLER,
        "name": NAME,
    }
    assert data["answered_by"] == {"interface": "PJSIP/201", "name": "受付"}
    text = data["text"].splitlines()
    assert text[0] == msg["Subject"]
    assert all(line in lines for line in text[1:])
    for line in ("着信日時：2026/11/21 18:04:05", "着信結果：応答", "応答：受付（PJSIP/201）"):
        assert line in lines and line in text
    assert data["started_at"] == "2026-11-21T18:04:05+09:00"
    assert event["timestamp"] == "2026-11-21T09:04:35Z"
    assert data["decision"] == {"reason": "notify", "rule": "MAIL-4"}


def test_BOOK_2_names_are_per_number_and_an_unknown_caller_is_as_before(
    office: sessionmaker[Session],
) -> None:
    notifier(office).decide([record(caller_number=OTHER)])
    msg = the_mail(office)
    assert msg["Subject"] == f"【着信お知らせメール】{OTHER} からの着信"
    assert f"発信者番号：{OTHER}" in body_of(msg).splitlines()
    assert webhook_event(office)["data"]["caller"]["name"] is None


# --- never a withheld caller's name or digits -----------------------------------------------


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[set[tuple[str, str]]]]:
    """The pairs the engine asks the phonebook for (the real query still answers)."""
    seen: list[set[tuple[str, str]]] = []
    real = service.caller_names

    def recording(session: Session, pairs: Any) -> dict[tuple[str, str], str]:
        seen.append(set(pairs))
        return real(session, seen[-1])

    monkeypatch.setattr(service, "caller_names", recording)
    yield seen


@pytest.mark.parametrize(
    "presentation", [Presentation.WITHHELD, Presentation.PAYPHONE, Presentation.UNAVAILABLE]
)
def test_MAIL_9_BOOK_2_a_withheld_caller_reaches_no_destination_with_digits_or_a_name(
    office: sessionmaker[Session],
    asked: list[set[tuple[str, str]]],
    presentation: Presentation,
) -> None:
    # The phonebook holds the digits the record (wrongly) carries.
    call = record(presentation=presentation, linkedid="w.1")
    (decided,) = notifier(office).decide([call])
    assert decided.decision.mailed and decided.chats == 2
    assert asked == []  # nobody presented: the phonebook is not even asked
    (mail_row,) = rows(office, MailKind.CALL_NOTIFICATION)
    for row in [mail_row, *rows(office, MailKind.CALL_CHAT)]:
        for needle in (CALLER, NAME, urllib.parse.quote(NAME)):
            assert needle not in row.body and needle not in row.subject, (row.kind, needle)
    caller = webhook_event(office)["data"]["caller"]
    assert caller["number"] is None and caller["name"] is None
    assert caller["presentation"] == presentation.value


def test_BOOK_2_one_name_query_for_a_batch_and_only_presented_callers(
    office: sessionmaker[Session], asked: list[set[tuple[str, str]]]
) -> None:
    calls = [
        record(linkedid="b.1"),
        record(linkedid="b.2", caller_number=OTHER),
        record(linkedid="b.3", presentation=Presentation.WITHHELD),
        record(linkedid="b.4", caller_number=""),
    ]
    notifier(office).decide(calls)
    assert asked == [{(SUBSCRIBER, CALLER), (SUBSCRIBER, OTHER)}]
    subjects = {r.subject for r in rows(office, MailKind.CALL_NOTIFICATION)}
    assert "【着信お知らせメール】山田商事（0398765432）からの着信" in subjects
    assert len(rows(office, MailKind.CALL_CHAT)) == 2 * 4


def test_BOOK_2_a_name_written_around_the_store_never_reaches_a_header(
    office: sessionmaker[Session],
) -> None:
    with db.transaction(office) as s:
        s.execute(
            sa.update(PhonebookEntry)
            .where(PhonebookEntry.caller_number == CALLER)
            .values(name="山田\r\nBcc: evil@example.com")
        )
    notifier(office).decide([record()])
    msg = the_mail(office)
    assert msg["Bcc"] is None
    assert msg["Subject"] == f"【着信お知らせメール】{CALLER} からの着信"
    for row in rows(office, MailKind.CALL_CHAT):
        assert "evil" not in row.body and "山田" not in row.body
    assert webhook_event(office)["data"]["caller"]["name"] is None


def test_MAIL_10_names_that_cannot_be_read_do_not_lose_the_decision(
    office: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(session: Session, pairs: Any) -> dict[tuple[str, str], str]:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT no_such_column FROM phonebook_entry"))
        else:
            session.execute(sa.text("SELECT 1; SELECT 2"))
        return {}

    monkeypatch.setattr(service, "caller_names", refused)
    with capture_logs() as logs:
        (decided,) = notifier(office).decide([record()])
    assert decided.new and decided.decision.mailed and decided.chats == 2
    assert [e for e in logs if e["event"] == "caller_names_not_read"]
    assert the_mail(office)["Subject"] == f"【着信お知らせメール】{CALLER} からの着信"
    assert webhook_event(office)["data"]["caller"]["name"] is None


# --- no mail, no chat -----------------------------------------------------------------------


def _no_mail_case(sessions: sessionmaker[Session], case: str) -> CallRecord:
    call = record(linkedid=f"n.{case}")
    if case == "MAIL-7":
        return dataclasses.replace(call, outcome=CallOutcome.REJECTED_NUISANCE)
    if case == "MAIL-6":
        return dataclasses.replace(
            call, outcome=CallOutcome.REJECTED_ANONYMOUS, presentation=Presentation.WITHHELD
        )
    if case == "MAIL-8":
        return dataclasses.replace(call, outcome=CallOutcome.FORWARD_FAILED)
    with db.transaction(sessions) as s:
        if case == "MAIL-4":
            service.set_conditions(s, SUBSCRIBER, unanswered_only=True)
            return dataclasses.replace(call, outcome=CallOutcome.ANSWERED)
        assert case == "MAIL-1"
        service.stop_mail(s, SUBSCRIBER)
    return call


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("MAIL-7", "nuisance_list"),
        ("MAIL-6", "number_request"),
        ("MAIL-4", "answered"),
        ("MAIL-1", "service_stopped"),
        ("MAIL-8", "forward_failed"),
    ],
)
def test_CHAT_1_a_call_that_gets_no_mail_gets_no_chat(
    office: sessionmaker[Session], case: str, reason: str
) -> None:
    call = _no_mail_case(office, case)
    (decided,) = notifier(office).decide([call])
    assert decided.new and not decided.decision.mailed
    assert (decided.decision.reason, decided.decision.rule) == (reason, case)
    assert decided.chats == 0
    assert rows(office, MailKind.CALL_NOTIFICATION) == []
    assert rows(office, MailKind.CALL_CHAT) == []


def test_CHAT_1_no_chat_when_no_mail_could_be_composed(
    office: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsafe(*args: Any, **kwargs: Any) -> list[tuple[str, str, str, str]]:
        raise ValueError("recipient: cannot be put in a header")

    monkeypatch.setattr(mail, "compose_all", unsafe)
    (decided,) = notifier(office).decide([record()])
    assert decided.new and decided.chats == 0
    assert rows(office, MailKind.CALL_CHAT) == []
    with db.transaction(office, read_only=True) as s:
        assert s.scalars(sa.select(StoredCall.linkedid)).all() == ["1763715845.42"]


def test_CHAT_1_the_store_queues_no_chat_without_a_mail(office: sessionmaker[Session]) -> None:
    ids = destination_ids(office)
    notice = service.QueuedChat(ids[ChatKind.SLACK], ChatKind.SLACK, "Slack", "t", "{}", "x/y")
    base: dict[str, Any] = dict(
        subscriber_number=SUBSCRIBER,
        caller_number=CALLER,
        presentation=Presentation.ALLOWED,
        outcome=CallOutcome.UNANSWERED,
        dial_status="",
        forward_dial_status="",
        started_at=DECIDED,
        ended_at=DECIDED,
        rule="MAIL-2",
        chats=[notice, notice],
    )
    mailed = service.QueuedMail(RECIPIENT, "s", "m", "<m@x>")
    with db.transaction(office) as s:
        service.record_call_decisions(
            s,
            [
                service.CallDecision(
                    linkedid="s.1", mailed=True, reason="notify", mails=[], **base
                ),
                service.CallDecision(
                    linkedid="s.2", mailed=False, reason="answered", mails=[], **base
                ),
                service.CallDecision(
                    linkedid="s.3", mailed=True, reason="notify", mails=[mailed], **base
                ),
            ],
            now=DECIDED,
        )
    # Only s.3 has a mail; its notice twice over is queued once.
    assert [r.dedup_key for r in rows(office, MailKind.CALL_CHAT)] == [
        service.chat_key("s.3", ids[ChatKind.SLACK])
    ]


# --- MAIL-10: decided once, queued once -----------------------------------------------------


def test_MAIL_10_a_replayed_call_queues_no_second_chat(office: sessionmaker[Session]) -> None:
    first = notifier(office).decide([record()])
    again = notifier(office).decide([record(), record()])  # a restart replays it, twice
    assert first[0].new and again == []  # decided before: nothing to do
    assert len(rows(office, MailKind.CALL_CHAT)) == 2
    assert len(rows(office, MailKind.CALL_NOTIFICATION)) == 1
    # Even past the engine's check, the store writes nothing twice.
    (decided,) = notifier(office).decide([record(linkedid="r.2")])
    assert decided.new and decided.chats == 2
    with db.transaction(office) as s:
        written = service.record_call_decisions(
            s,
            [
                service.CallDecision(
                    linkedid="r.2",
                    subscriber_number=SUBSCRIBER,
                    caller_number=CALLER,
                    presentation=Presentation.ALLOWED,
                    outcome=CallOutcome.UNANSWERED,
                    dial_status="",
                    forward_dial_status="",
                    started_at=DECIDED,
                    ended_at=DECIDED,
                    mailed=True,
                    reason="notify",
                    rule="MAIL-2",
                    mails=[service.QueuedMail(RECIPIENT, "s", "m", "<m@x>")],
                    chats=[
                        service.QueuedChat(
                            destination_id(office), ChatKind.SLACK, "Slack", "t", "{}", "x"
                        )
                    ],
                )
            ],
            now=DECIDED,
        )
    assert written == set()
    assert len(rows(office, MailKind.CALL_CHAT)) == 4


def destination_id(sessions: sessionmaker[Session]) -> int:
    return destination_ids(sessions)[ChatKind.SLACK]


def test_CHAT_2_the_key_is_the_webhook_id_stable_per_call_and_destination() -> None:
    assert service.chat_key("1763715845.42", 7) == service.chat_key("1763715845.42", 7)
    keys = {service.chat_key(c, d) for c in ("a", "b") for d in (1, 2)}
    assert len(keys) == 4
    assert all(k.startswith("msg_") and len(k) == 36 for k in keys)
    assert "1763715845" not in service.chat_key("1763715845.42", 7)


def test_CHAT_1_number_without_destinations_queues_mail_only(
    sessions: sessionmaker[Session],
) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, SUBSCRIBER, timezone="Asia/Tokyo")
        service.add_address(s, SUBSCRIBER, RECIPIENT)
        service.start_mail(s, SUBSCRIBER)
    (decided,) = notifier(sessions).decide([record()])
    assert decided.queued == 1 and decided.chats == 0
    assert rows(sessions, MailKind.CALL_CHAT) == []
    assert chat.EVENT_CALL == "call.notified"
