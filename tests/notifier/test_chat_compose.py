"""Issue 19 (CHAT-1, CHAT-2, MAIL-9, BOOK-2): notifier.chat, the notice each destination gets.

The payloads are checked against what each service documents: Slack's
incoming webhook ``{"text"}`` with ``&``/``<``/``>`` escaped; Discord's execute
webhook ``content`` (≤ 2000 characters) with ``allowed_mentions``; Teams
Workflows' ``message`` with an Adaptive Card; Chatwork's form field ``body``
with ``[info][title]``; the generic webhook's documented JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier import chat
from notifier.chat import ChatContent, compose_chat, compose_test_chat, payload
from notifier.mail import Templates
from notifier.model import CallRecord, Decision
from store.models import CallOutcome, ChatKind, Presentation
from tests.notifier.chat_calls import (
    BAD_NAMES,
    CALLER,
    DECIDED,
    NAME,
    body_of,
    mail_settings,
    named_mail,
    parsed,
    record,
)

NOTIFY = Decision(True, "notify", "MAIL-2", ("taro@example.jp",))


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


def content_of(
    call: CallRecord, templates: Templates, name: str = NAME, device_label: str = ""
) -> ChatContent:
    return compose_chat(
        call,
        mail_settings(),
        templates=templates,
        caller_name=name,
        device_label=device_label,
        decision=NOTIFY,
        decided_at=DECIDED,
    )


def body_json(kind: ChatKind, content: ChatContent) -> Any:
    made = payload(kind, content)
    assert made.content_type == "application/json"
    return json.loads(made.body)


def test_CHAT_1_BOOK_2_named_call_text(templates: Templates) -> None:
    content = content_of(record(), templates)
    assert content.text == (
        "【着信お知らせメール】山田商事（0398765432）からの着信\n"
        "着信日時：2026/11/21 18:04:05\n"
        "発信者：山田商事（0398765432）\n"
        "着信番号：0312345678\n"
        "着信結果：不在"
    )
    assert content.title == "【着信お知らせメール】山田商事（0398765432）からの着信"


@pytest.mark.parametrize("name", [NAME, ""])
@pytest.mark.parametrize("outcome", [CallOutcome.UNANSWERED, CallOutcome.ANSWERED])
def test_CHAT_1_MAIL_9_the_mail_and_the_chat_message_agree(
    templates: Templates, name: str, outcome: CallOutcome
) -> None:
    call = record(outcome=outcome, answered_by="PJSIP/201")
    msg = parsed(named_mail(call, templates, name=name, device_label="受付"))
    content = content_of(call, templates, name=name, device_label="受付")
    assert content.title == msg["Subject"]
    mail_lines = body_of(msg).splitlines()
    for line in content.text.splitlines()[1:]:
        assert line in mail_lines, line
    data = content.event["data"]
    assert data["caller"]["name"] == (name or None)
    assert data["caller"]["number"] == CALLER
    assert f"着信結果：{data['outcome_label']}" in mail_lines
    started = dt.datetime.fromisoformat(data["started_at"]).strftime("%Y/%m/%d %H:%M:%S")
    assert f"着信日時：{started}" in mail_lines


def test_CHAT_2_generic_event_field_by_field(templates: Templates) -> None:
    call = record(outcome=CallOutcome.ANSWERED, answered_by="PJSIP/201")
    content = content_of(call, templates, device_label="受付")
    assert content.event == {
        "type": "call.notified",
        "timestamp": "2026-11-21T09:04:35Z",
        "data": {
            "call_id": "1763715845.42",
            "called_number": "0312345678",
            "caller": {
                "number": "0398765432",
                "presentation": "allowed",
                "label": "0398765432",
                "name": "山田商事",
            },
            "started_at": "2026-11-21T18:04:05+09:00",
            "timezone": "Asia/Tokyo",
            "outcome": "answered",
            "outcome_label": "応答",
            "answered_by": {"interface": "PJSIP/201", "name": "受付"},
            "decision": {"reason": "notify", "rule": "MAIL-2"},
            "text": content.text,
        },
    }
    assert body_json(ChatKind.WEBHOOK, content) == content.event
    assert "応答：受付（PJSIP/201）" in content.text.splitlines()


def test_CHAT_2_unknown_caller_and_nobody_answered(templates: Templates) -> None:
    data = content_of(record(), templates, name="").event["data"]
    assert data["caller"] == {
        "number": "0398765432",
        "presentation": "allowed",
        "label": "0398765432",
        "name": None,
    }
    assert data["answered_by"] is None
    answered_unnamed = content_of(
        record(outcome=CallOutcome.ANSWERED, answered_by="PJSIP/201"), templates
    )
    assert answered_unnamed.event["data"]["answered_by"] == {"interface": "PJSIP/201", "name": None}


@pytest.mark.parametrize(
    ("presentation", "word"),
    [
        (Presentation.WITHHELD, "非通知"),
        (Presentation.PAYPHONE, "公衆電話"),
        (Presentation.UNAVAILABLE, "表示圏外"),
    ],
)
def test_MAIL_9_BOOK_2_withheld_caller_reaches_no_destination_with_digits_or_a_name(
    templates: Templates, presentation: Presentation, word: str
) -> None:
    # Digits wrongly in the record, and a name passed for them: neither is sent.
    content = content_of(record(presentation=presentation), templates)
    assert content.event["data"]["caller"] == {
        "number": None,
        "presentation": presentation.value,
        "label": word,
        "name": None,
    }
    assert f"発信者番号：{word}" in content.text.splitlines()
    for kind in ChatKind:
        made = payload(kind, content).body
        for needle in (CALLER, NAME, urllib.parse.quote(NAME)):
            assert needle not in made, (kind, needle)


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_BOOK_2_a_name_the_store_refuses_is_dropped(templates: Templates, bad: str) -> None:
    named = content_of(record(), templates, name=bad)
    assert named == content_of(record(), templates, name="")
    assert named.event["data"]["caller"]["name"] is None


def test_CHAT_1_slack_escapes_amp_lt_gt_so_a_name_makes_no_mention(templates: Templates) -> None:
    content = content_of(record(), templates, name="A&B <!channel> <https://e.example|x>")
    sent = body_json(ChatKind.SLACK, content)
    assert list(sent) == ["text"]
    assert "発信者：A&amp;B &lt;!channel&gt; &lt;https://e.example|x&gt;（0398765432）" in (
        sent["text"].splitlines()
    )
    assert "<" not in sent["text"] and ">" not in sent["text"]
    plain = body_json(ChatKind.SLACK, content_of(record(), templates))
    assert plain["text"] == content_of(record(), templates).text


def test_CHAT_1_discord_no_mentions_no_markdown_from_a_name(templates: Templates) -> None:
    content = content_of(record(), templates, name="@everyone [x](https://e.example) **")
    sent = body_json(ChatKind.DISCORD, content)
    assert sent["allowed_mentions"] == {"parse": []}
    line = "発信者：\\@everyone \\[x\\]\\(https://e.example\\) \\*\\*（0398765432）"
    assert line in sent["content"].splitlines()
    plain = body_json(ChatKind.DISCORD, content_of(record(), templates))
    assert plain["content"] == content_of(record(), templates).text  # nothing to escape


def test_CHAT_1_discord_content_at_most_2000_characters(tmp_path: Path) -> None:
    (tmp_path / "chat.txt").write_text("${caller_line}\n" + "*" * 3000 + "\n", encoding="utf-8")
    long = content_of(record(), Templates.load(tmp_path))
    assert len(long.text) == chat.MAX_TEXT and long.text.endswith("…")
    sent = body_json(ChatKind.DISCORD, long)
    assert len(sent["content"]) <= 2000
    assert sent["content"].endswith("\\*…")  # no lone backslash before the ellipsis


def test_CHAT_1_teams_workflow_adaptive_card(templates: Templates) -> None:
    content = content_of(record(), templates, name="[x](https://e.example)")
    sent = body_json(ChatKind.TEAMS, content)
    assert sent == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "【着信お知らせメール】［x］(https://e.example)（0398765432）からの着信",
                            "wrap": True,
                            "weight": "Bolder",
                            "size": "Medium",
                        },
                        {
                            "type": "TextBlock",
                            "text": "着信日時：2026/11/21 18:04:05",
                            "wrap": True,
                        },
                        {
                            "type": "TextBlock",
                            "text": "発信者：［x］(https://e.example)（0398765432）",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": "着信番号：0312345678", "wrap": True},
                        {"type": "TextBlock", "text": "着信結果：不在", "wrap": True},
                    ],
                },
            }
        ],
    }


def test_CHAT_1_chatwork_info_title_and_no_tags_from_a_name(templates: Templates) -> None:
    content = content_of(record(), templates, name="[toall][To:123]様")
    made = payload(ChatKind.CHATWORK, content)
    assert made.content_type == "application/x-www-form-urlencoded"
    form = urllib.parse.parse_qs(made.body, strict_parsing=True)
    assert list(form) == ["body"]
    assert form["body"] == [
        "[info][title]【着信お知らせメール】［toall］［To:123］様（0398765432）からの着信[/title]"
        "着信日時：2026/11/21 18:04:05\n"
        "発信者：［toall］［To:123］様（0398765432）\n"
        "着信番号：0312345678\n"
        "着信結果：不在[/info]"
    ]


def test_MAIL_2_CHAT_1_test_message(templates: Templates) -> None:
    now = dt.datetime(2026, 11, 21, 15, 30, tzinfo=dt.UTC)
    content = compose_test_chat("0312345678", templates=templates, now=now, timezone="Asia/Tokyo")
    assert content.title == "【着信お知らせメール】送信テスト"
    assert "送信日時：2026/11/22 00:30:00" in content.text.splitlines()
    assert "0312345678" in content.text
    assert content.event == {
        "type": "test",
        "timestamp": "2026-11-21T15:30:00Z",
        "data": {
            "called_number": "0312345678",
            "sent_at": "2026-11-22T00:30:00+09:00",
            "timezone": "Asia/Tokyo",
            "text": content.text,
        },
    }
    for kind in ChatKind:
        assert payload(kind, content).body


def test_MAIL_2_test_message_refuses_a_number_that_is_not_digits(templates: Templates) -> None:
    with pytest.raises(ValueError):
        compose_test_chat("03\r\n1", templates=templates, now=DECIDED)


def test_CHAT_1_compose_refuses_an_unknown_zone(templates: Templates) -> None:
    with pytest.raises(ValueError):
        compose_chat(
            record(),
            mail_settings(timezone="Mars/Olympus"),
            templates=templates,
            decision=NOTIFY,
            decided_at=DECIDED,
        )


# --- any name at all --------------------------------------------------------------------------

_TEMPLATES = Templates.load()
_names = st.text(
    st.characters(codec="utf-8") | st.sampled_from(list("&<>[]@*_`\\\r\n\x00\u202e")),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(name=_names)
def test_BOOK_2_CHAT_1_no_name_breaks_any_destinations_form(name: str) -> None:
    """Whatever a phonebook row holds, each payload keeps its documented form."""
    content = content_of(record(), _TEMPLATES, name=name)
    assert content.text.count("\n") == 4  # no name adds or breaks a line
    slack = body_json(ChatKind.SLACK, content)["text"]
    assert "<" not in slack and ">" not in slack
    discord = body_json(ChatKind.DISCORD, content)
    assert len(discord["content"]) <= 2000 and discord["allowed_mentions"] == {"parse": []}
    (body,) = urllib.parse.parse_qs(payload(ChatKind.CHATWORK, content).body)["body"]
    assert body.count("[") == 4 and body.count("]") == 4  # only [info][title][/title][/info]
    teams = body_json(ChatKind.TEAMS, content)
    blocks = teams["attachments"][0]["content"]["body"]
    assert len(blocks) == 5 and not any("[" in b["text"] for b in blocks)
    caller = body_json(ChatKind.WEBHOOK, content)["data"]["caller"]
    assert caller["name"] in (None, name)
    if caller["name"] is not None:
        assert name.isprintable() and "\n" not in name and "\r" not in name
