"""Issue 19 (CHAT-3, BOOK-2), the call history over the API: ``GET /numbers/{n}/calls`` gives
each call's chat and webhook notices per destination beside its mails, and the caller's
phonebook name for a presented caller only; on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from notifier.outbox import SendResult
from store import db, service
from store.models import ChatDestination, ChatKind, Presentation
from tests.api.conftest import Api
from tests.delivery_chat import POLICY, a_call_with_chats, add_destination, add_name, chat_attempt
from web.api.app import openapi_document

CONTRACT = "0312345678"
OK_MAIL = "ok@example.jp"
REDIRECT = "HTTP 302 Found: "
BUSY = "HTTP 429 Too Many Requests: slow down"


@pytest.fixture
def line(api: Api) -> Api:
    with db.transaction(api.sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_address(s, CONTRACT, OK_MAIL)
    return api


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.read.get(f"/api/v1{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_issue19_CHAT_3_each_call_lists_each_destinations_notice(line: Api) -> None:
    t0 = line.clock()
    teams = add_destination(line.sessions, CONTRACT, ChatKind.TEAMS, position=1, now=t0)
    discord = add_destination(
        line.sessions, CONTRACT, ChatKind.DISCORD, position=2, label="受付", now=t0
    )
    a_call_with_chats(
        line.sessions,
        number=CONTRACT,
        linkedid="a.1",
        at=t0,
        mails=[OK_MAIL],
        chats=[(teams, ChatKind.TEAMS, "Microsoft Teams"), (discord, ChatKind.DISCORD, "受付")],
    )
    line.clock.advance(5)
    chat_attempt(
        line.sessions,
        {
            "Microsoft Teams": SendResult(False, permanent=True, reply=REDIRECT),
            "受付": SendResult(False, reply=BUSY, retry_after=30),
        },
        at=line.clock(),
    )
    (call,) = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert [d["address"] for d in call["deliveries"]] == [OK_MAIL]
    moved, busy = call["chats"]
    assert moved == {
        "kind": "teams",
        "position": 1,
        "name": "Microsoft Teams",
        "status": "failed",
        "attempts": 1,
        "queued_at": "2026-11-22T01:00:00Z",
        "sent_at": None,
        "next_attempt_at": None,
        "failure": "redirected",
        "reply": REDIRECT,
    }
    assert (busy["kind"], busy["position"], busy["name"]) == ("discord", 2, "受付")
    assert (busy["status"], busy["attempts"], busy["reply"]) == ("retrying", 1, BUSY)
    assert busy["next_attempt_at"] > "2026-11-22T01:00:05Z" and busy["failure"] is None
    # Given up at the deadline: deferred. The removed destination keeps its line, no slot.
    line.clock.advance(seconds=int(POLICY.deadline.total_seconds()))
    chat_attempt(line.sessions, {"受付": SendResult(False, reply=BUSY)}, at=line.clock())
    with db.transaction(line.sessions) as s:
        found = s.get(ChatDestination, teams)
        assert found is not None
        s.delete(found)
    (call,) = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert [(c["position"], c["failure"]) for c in call["chats"]] == [
        (None, "redirected"),
        (2, "deferred"),
    ]


@pytest.mark.parametrize(
    "presentation", [Presentation.WITHHELD, Presentation.PAYPHONE, Presentation.UNAVAILABLE]
)
def test_issue19_BOOK_2_the_api_names_presented_callers_only(
    line: Api, presentation: Presentation
) -> None:
    add_name(line.sessions, CONTRACT, "0398765432", "山田商事")
    t0 = line.clock()
    a_call_with_chats(line.sessions, number=CONTRACT, linkedid="b.1", at=t0, mails=[OK_MAIL])
    a_call_with_chats(
        line.sessions,
        number=CONTRACT,
        linkedid="b.2",
        at=t0 + dt.timedelta(minutes=1),
        mails=[OK_MAIL],
        presentation=presentation,
    )
    hidden, named = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert (named["caller"], named["caller_name"]) == ("0398765432", "山田商事")
    assert hidden["caller_name"] is None
    assert "0398765432" not in str(hidden) and "山田商事" not in str(hidden)


def test_issue19_CHAT_3_the_document_describes_the_chat_notices() -> None:
    components = openapi_document()["components"]["schemas"]
    call = components["CallOut"]["properties"]
    assert {"caller_name", "chats", "deliveries"} <= set(call)
    assert set(components["ChatDeliveryOut"]["properties"]) == {
        "kind",
        "position",
        "name",
        "status",
        "attempts",
        "queued_at",
        "sent_at",
        "next_attempt_at",
        "failure",
        "reply",
    }
    assert "gone" in components["FailureKind"]["enum"]


def test_issue19_CHAT_3_the_outbox_counts_by_kind_and_reads_a_chat_failure_as_http(
    line: Api,
) -> None:
    t0 = line.clock()
    room = add_destination(line.sessions, CONTRACT, ChatKind.CHATWORK, position=1, now=t0)
    hook = add_destination(line.sessions, CONTRACT, ChatKind.WEBHOOK, position=2, now=t0)
    a_call_with_chats(
        line.sessions,
        number=CONTRACT,
        linkedid="x.1",
        at=t0,
        mails=[OK_MAIL],
        chats=[(room, ChatKind.CHATWORK, "Chatwork"), (hook, ChatKind.WEBHOOK, "Webhook")],
    )
    line.clock.advance(30)
    found = get(line, "/outbox")
    assert (found["pending"], found["due"]) == (3, 3)  # every row, as before
    assert found["by_kind"] == {
        kind: {
            "pending": 1,
            "retrying": 0,
            "due": 1,
            "oldest_pending_at": "2026-11-22T01:00:00Z",
            "failed_last_day": 0,
        }
        for kind in ("mail", "chatwork", "webhook")
    }
    token = SendResult(False, permanent=True, reply="HTTP 401 Unauthorized: Invalid API Token")
    chat_attempt(line.sessions, {"Chatwork": token}, at=line.clock())
    found = get(line, "/outbox")
    assert found["last_failure_kind"] == "not_authorized"  # not an SMTP reply's "unreachable"
    assert found["by_kind"]["chatwork"] == {
        "pending": 0,
        "retrying": 0,
        "due": 0,
        "oldest_pending_at": None,
        "failed_last_day": 1,
    }
    assert list(found["by_kind"]) == ["mail", "chatwork", "webhook"]
    assert "Invalid API Token" not in str(found)
