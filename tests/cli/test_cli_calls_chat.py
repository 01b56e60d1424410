"""Issue 19 (CHAT-3, BOOK-2): ``chakushin number show N --calls`` lists each call's chat and
webhook notices per destination beside its mails, with the receiver's raw HTTP reply, and
the caller's phonebook name beside a presented number only; on both databases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from notifier.outbox import SendResult
from store import db, service
from store.models import ChatDestination, ChatKind, Presentation
from tests.delivery_chat import a_call_with_chats, add_destination, add_name, chat_attempt

CONTRACT = "0312345678"
OK_MAIL = "ok@example.jp"
T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo
GONE = "HTTP 404 Not Found: no_service"
TOKEN = "HTTP 401 Unauthorized: \x1b[31mInvalid API Token\nforged line"
STORED_TOKEN = SendResult(False, permanent=True, reply=TOKEN).reply  # as the worker keeps it


@pytest.fixture
def stored(db_url: str, tmp_config: Path) -> Iterator[sessionmaker[Session]]:
    """CONTRACT with an address and three destinations; a named caller's call notified to
    all at T0 and tried once (Slack accepted, the webhook gone, Chatwork's token refused);
    a withheld caller's call later, its notices not tried yet."""
    engine = db.make_engine(db_url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_address(s, CONTRACT, OK_MAIL)
    slack = add_destination(sessions, CONTRACT, ChatKind.SLACK, position=1, label="営業", now=T0)
    hook = add_destination(sessions, CONTRACT, ChatKind.WEBHOOK, position=2, now=T0)
    room = add_destination(sessions, CONTRACT, ChatKind.CHATWORK, position=3, now=T0)
    chats = [
        (slack, ChatKind.SLACK, "営業"),
        (hook, ChatKind.WEBHOOK, "Webhook"),
        (room, ChatKind.CHATWORK, "Chatwork"),
    ]
    add_name(sessions, CONTRACT, "0398765432", "山田商事")
    a_call_with_chats(
        sessions, number=CONTRACT, linkedid="c.1", at=T0, mails=[OK_MAIL], chats=chats
    )
    chat_attempt(
        sessions,
        {
            "営業": SendResult(True, reply="HTTP 200 OK: ok"),
            "Webhook": SendResult(False, permanent=True, reply=GONE),
            "Chatwork": SendResult(False, permanent=True, reply=TOKEN),
        },
        at=T0 + dt.timedelta(seconds=2),
    )
    a_call_with_chats(
        sessions,
        number=CONTRACT,
        linkedid="c.2",
        at=T0 + dt.timedelta(minutes=5),
        mails=[OK_MAIL],
        chats=chats[:1],
        presentation=Presentation.WITHHELD,
    )
    yield sessions
    engine.dispose()


def run(db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"CHAKUSHIN_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    return result


def test_issue19_CHAT_3_number_show_calls_lists_each_destinations_notice(
    stored: sessionmaker[Session], db_url: str
) -> None:
    lines = run(db_url, "number", "show", CONTRACT, "--calls").stdout.splitlines()
    start = lines.index("  recent calls (2, newest first, at most 20):")
    assert lines[start + 1] == (
        "    2026-11-22 10:05:00 +0900  from 非通知  unanswered  mailed (notify)"
    )
    assert lines[start + 2].startswith(f"      {OK_MAIL}  queued (0 attempts)")
    assert lines[start + 3].startswith("      slack #1 営業  queued (0 attempts), due 2026-11-22")
    assert lines[start + 4] == (
        "    2026-11-22 10:00:00 +0900  from 0398765432 (山田商事)  unanswered  mailed (notify)"
    )
    assert lines[start + 5].startswith(f"      {OK_MAIL}  queued")
    assert lines[start + 6] == "      slack #1 営業  sent 2026-11-22 10:00:02 +0900 after 1 attempt"
    assert lines[start + 7] == f"      webhook #2 Webhook  failed (gone) after 1 attempt: {GONE}"
    # The receiver's reply on one line, nothing a terminal acts on (as a mail server's).
    chatwork = lines[start + 8]
    assert chatwork.startswith(
        "      chatwork #3 Chatwork  failed (not_authorized) after 1 attempt"
    )
    assert "\x1b" not in chatwork and "forged line" in chatwork
    assert not any(line.startswith("forged line") for line in lines)
    assert "  recently failed destinations (2):" in lines
    assert f"    2. webhook  gone: {GONE}" in lines
    # Nothing of the withheld call's digits or a name.
    newest = lines[start + 1]
    assert "0398765432" not in newest and "山田商事" not in newest


def test_issue19_CHAT_3_BOOK_2_number_show_calls_as_json(
    stored: sessionmaker[Session], db_url: str
) -> None:
    data: dict[str, Any] = json.loads(
        run(db_url, "number", "show", CONTRACT, "--calls", "--json").stdout
    )
    withheld, named = data["calls"]
    assert (withheld["caller"], withheld["caller_name"]) == ("非通知", None)
    assert (named["caller"], named["caller_name"]) == ("0398765432", "山田商事")
    assert [d["address"] for d in named["deliveries"]] == [OK_MAIL]  # mails only, as before
    slack, hook, room = named["chats"]
    assert slack == {
        "kind": "slack",
        "position": 1,
        "name": "営業",
        "status": "sent",
        "attempts": 1,
        "queued_at": "2026-11-22T10:00:00+09:00",
        "sent_at": "2026-11-22T10:00:02+09:00",
        "next_attempt_at": None,
        "failure": None,
        "reply": None,
    }
    assert (hook["kind"], hook["status"], hook["failure"], hook["reply"]) == (
        "webhook",
        "failed",
        "gone",
        GONE,
    )
    assert (room["failure"], room["reply"]) == ("not_authorized", STORED_TOKEN)  # as stored
    assert data["recently_failed_destinations"] == [
        {
            "position": 2,
            "kind": "webhook",
            "failure": "gone",
            "reply": GONE,
            "queued_at": "2026-11-22T10:00:00+09:00",
        },
        {
            "position": 3,
            "kind": "chatwork",
            "failure": "not_authorized",
            "reply": STORED_TOKEN,
            "queued_at": "2026-11-22T10:00:00+09:00",
        },
    ]
    # A removed destination keeps its notices in the history, without a slot.
    with db.transaction(stored) as s:
        for row in s.query(ChatDestination).filter_by(position=2):
            s.delete(row)
    after = json.loads(run(db_url, "number", "show", CONTRACT, "--calls", "--json").stdout)
    assert [(c["kind"], c["position"]) for c in after["calls"][1]["chats"]] == [
        ("slack", 1),
        ("webhook", None),
        ("chatwork", 3),
    ]
    assert [f["position"] for f in after["recently_failed_destinations"]] == [3]
    text = run(db_url, "number", "show", CONTRACT, "--calls").stdout
    assert f"      webhook (removed) Webhook  failed (gone) after 1 attempt: {GONE}" in text
