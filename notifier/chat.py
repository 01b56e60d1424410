"""Issue 19 (CHAT-1, CHAT-2): a call's notice for chats and webhooks, and its 送信テスト.

Pure, like ``notifier.mail``: a call, its number's settings, the phonebook
name and the decision in; a ``ChatContent`` out, whose ``text`` comes from
the ``chat.txt`` template (the same placeholders, filled by the same
``mail.call_fields``, as the mail's body: the mail and the chat message of
one call say the same name, number, time and result) and whose ``event``
is the generic webhook's JSON object. ``payload`` puts a content in the
form each kind of destination documents:

- Slack (incoming webhook): ``{"text": ...}`` with ``&``, ``<`` and ``>``
  written ``&amp;``, ``&lt;``, ``&gt;`` as Slack's formatting reference asks,
  so no name makes a ``<!channel>`` mention or a ``<url|link>``;
- Discord (execute webhook): ``{"content": ..., "allowed_mentions":
  {"parse": []}}``, at most 2000 characters, markdown characters escaped with
  a backslash: no ``@everyone`` and no masked link from a name;
- Microsoft Teams (Workflows, "when a Teams webhook request is received"):
  a ``message`` with one Adaptive Card (1.4), a bold title and one TextBlock
  per line; ``[`` and ``]`` written full-width, so no markdown link;
- Chatwork (``POST /rooms/{room_id}/messages``): the form field ``body`` =
  ``[info][title]first line[/title]the rest[/info]``; ``[`` and ``]`` of the
  text written full-width, so no name makes a ``[toall]`` or ``[To:...]``;
- the generic webhook: the JSON ``event`` (``docs/chat.md`` documents it
  field by field; ``webhook-id`` and the signature are notifier.webhooks').

A withheld, payphone or unavailable caller never has a number or a name in
any of them (MAIL-9, BOOK-2): the text says 非通知/公衆電話/表示圏外 and the
event's ``caller.number`` and ``caller.name`` are null.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notifier import mail
from notifier.model import CallRecord, Decision, MailSettings
from store import labels
from store.models import ChatKind

# The longest text a destination gets: Discord's limit for ``content``
# (its execute-webhook documentation); the others take more, and one limit
# keeps the messages of a call alike. An operator's template that makes more
# is cut, with an ellipsis.
MAX_TEXT = 2000
ELLIPSIS = "…"

EVENT_CALL = "call.notified"
EVENT_TEST = "test"


@dataclass(frozen=True)
class ChatContent:
    """A notice before it takes a destination's form: the text, and the generic JSON."""

    text: str
    event: Mapping[str, Any]

    @property
    def title(self) -> str:
        """The text's first line (the outbox row's subject; Chatwork's and Teams' title)."""
        return self.text.split("\n", 1)[0]


@dataclass(frozen=True)
class Payload:
    """What is posted: its Content-Type and its body as text (UTF-8 on the wire)."""

    content_type: str
    body: str


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _text(rendered: str) -> str:
    lines = [line.rstrip() for line in rendered.strip("\n").replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - len(ELLIPSIS)] + ELLIPSIS
    return text


def _utc_iso(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _local_iso(moment: dt.datetime, timezone: str) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time zone {timezone!r}: not an IANA time zone name") from exc
    return aware.astimezone(zone).isoformat(timespec="seconds")


def _answered(call: CallRecord, device_label: str) -> dict[str, Any] | None:
    parts = mail.answered_parts(call, device_label)
    if parts is None:
        return None
    interface, name = parts
    return {"interface": interface, "name": name or None}


def compose_chat(
    call: CallRecord,
    settings: MailSettings,
    *,
    templates: mail.Templates,
    caller_name: str = "",
    device_label: str = "",
    decision: Decision,
    decided_at: dt.datetime,
) -> ChatContent:
    """CHAT-1, CHAT-2: the notice of ``call`` for every destination of its number.

    ``caller_name`` and ``device_label`` are what the mail of the same call
    is given; the name is used only for a presented caller and only if it is
    a valid name (``mail.caller_name_of``). Raises ``ValueError`` (as
    ``mail.compose`` does) for a subscriber number that is not digits or a
    time zone zoneinfo lacks.
    """
    fields = mail.call_fields(call, settings, caller_name=caller_name, device_label=device_label)
    text = _text(templates.chat.substitute(fields))
    number = labels.presented_number(call.presentation, call.caller_number)
    name = fields["caller_name"] or None
    event = {
        "type": EVENT_CALL,
        "timestamp": _utc_iso(decided_at),
        "data": {
            "call_id": call.linkedid,
            "called_number": fields["called_number"],
            "caller": {
                "number": number,
                "presentation": call.presentation.value,
                "label": fields["caller"],
                "name": name if number is not None else None,
            },
            "started_at": _local_iso(call.started_at, settings.timezone),
            "timezone": settings.timezone,
            "outcome": call.outcome.value,
            "outcome_label": fields["result"],
            "answered_by": _answered(call, device_label),
            "decision": {"reason": decision.reason, "rule": decision.rule},
            "text": text,
        },
    }
    return ChatContent(text=text, event=event)


def compose_test_chat(
    number: str,
    *,
    templates: mail.Templates,
    now: dt.datetime,
    timezone: str = mail.DEFAULT_TIMEZONE,
) -> ChatContent:
    """MAIL-2 for a destination (CHAT-1): the 送信テスト message of ``number``."""
    called_number = mail.call_number(number)
    local = _local_iso(now, timezone)
    fields = {
        "service": mail.SERVICE_NAME,
        "called_number": called_number,
        "sent_at": dt.datetime.fromisoformat(local).strftime(mail.TIME_FORMAT),
        "timezone": timezone,
    }
    text = _text(templates.test_chat.substitute(fields))
    event = {
        "type": EVENT_TEST,
        "timestamp": _utc_iso(now),
        "data": {
            "called_number": called_number,
            "sent_at": local,
            "timezone": timezone,
            "text": text,
        },
    }
    return ChatContent(text=text, event=event)


# --- each kind's form ------------------------------------------------------------------


def slack_text(text: str) -> str:
    """Slack's escaping: only ``&``, ``<`` and ``>``, as entities (its formatting reference)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Discord's markdown and mention characters, escaped with a backslash.
_DISCORD_SPECIAL = frozenset("\\*_~`|[]()<>#@")


def discord_text(text: str) -> str:
    """Discord: markdown and mentions shown as typed, at most 2000 characters."""
    escaped = "".join(f"\\{c}" if c in _DISCORD_SPECIAL else c for c in text)
    if len(escaped) > MAX_TEXT:
        escaped = escaped[: MAX_TEXT - len(ELLIPSIS)]
        if escaped.endswith("\\") and not escaped.endswith("\\\\"):
            escaped = escaped[:-1]
        escaped += ELLIPSIS
    return escaped


def bracket_safe(text: str) -> str:
    """Chatwork's tags and markdown links need ``[``: written full-width, they are plain text."""
    return text.replace("[", "［").replace("]", "］")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _teams(content: ChatContent) -> dict[str, Any]:
    title, *rest = bracket_safe(content.text).split("\n")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "wrap": True, "weight": "Bolder", "size": "Medium"}
    ]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in rest if line]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }
        ],
    }


def chatwork_body(content: ChatContent) -> str:
    """Chatwork's message: ``[info][title]first line[/title]the rest[/info]``."""
    title, _, rest = bracket_safe(content.text).partition("\n")
    return f"[info][title]{title}[/title]{rest}[/info]"


def payload(kind: ChatKind, content: ChatContent) -> Payload:
    """CHAT-1, CHAT-2: ``content`` in the form ``kind`` documents (the module says which)."""
    match kind:
        case ChatKind.SLACK:
            return Payload(JSON, _dumps({"text": slack_text(content.text)}))
        case ChatKind.DISCORD:
            return Payload(
                JSON,
                _dumps({"content": discord_text(content.text), "allowed_mentions": {"parse": []}}),
            )
        case ChatKind.TEAMS:
            return Payload(JSON, _dumps(_teams(content)))
        case ChatKind.CHATWORK:
            return Payload(FORM, urllib.parse.urlencode({"body": chatwork_body(content)}))
        case ChatKind.WEBHOOK:
            return Payload(JSON, _dumps(content.event))
    raise ValueError(f"unknown destination kind {kind!r}")  # pragma: no cover
