"""Issue 19: the calls, settings and templates the caller-name and chat tests share.

Not a test module: tests/notifier/test_caller_names*.py, test_chat_compose*.py
and test_engine_chat*.py import it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage

from notifier.mail import Templates, compose
from notifier.model import CallRecord, ChatTarget, MailSettings
from store.models import CallOutcome, ChatKind, Presentation

SENDER = "chakushin@pbx.example.jp"
RECIPIENT = "taro@example.jp"
SUBSCRIBER = "0312345678"
CALLER = "0398765432"
NAME = "山田商事"
# 2026-11-21 09:04:05 UTC = 18:04:05 in Tokyo.
STARTED = dt.datetime(2026, 11, 21, 9, 4, 5, tzinfo=dt.UTC)
DECIDED = STARTED + dt.timedelta(seconds=30)

# Names the store refuses (store.validation.caller_name): none may be shown.
BAD_NAMES = [
    "山田\r\nBcc: evil@example.com",
    "山田\nX-Injected: 1",
    "山田\r",
    "山田\x00商事",
    "山田\x1b[31m",
    "山田\u202e商事",  # right-to-left override (Cf)
    "山田\u2028商事",  # line separator (Zl)
    "山田\u2029",  # paragraph separator (Zp)
    "山田\ue000",  # private use (Co)
    "\u200b",  # zero width space (Cf)
    " 山田商事",  # not stripped
    "山田商事 ",
    "カ\u3099",  # not NFC (ガ decomposed)
    "あ" * 41,  # longer than MAX_CALLER_NAME
    "",
]


def mail_settings(
    *, timezone: str = "Asia/Tokyo", destinations: tuple[ChatTarget, ...] = ()
) -> MailSettings:
    return MailSettings(
        number=SUBSCRIBER,
        subscribed=True,
        started=True,
        designated_only=False,
        unanswered_only=False,
        addresses=((RECIPIENT, True),),
        designated=(),
        timezone=timezone,
        destinations=destinations,
    )


def record(
    *,
    caller_number: str = CALLER,
    presentation: Presentation = Presentation.ALLOWED,
    outcome: CallOutcome = CallOutcome.UNANSWERED,
    started_at: dt.datetime = STARTED,
    linkedid: str = "1763715845.42",
    answered_by: str = "",
) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        subscriber_number=SUBSCRIBER,
        caller_number=caller_number,
        presentation=presentation,
        outcome=outcome,
        started_at=started_at,
        ended_at=started_at + dt.timedelta(seconds=25),
        answered_by=answered_by,
    )


def targets() -> tuple[ChatTarget, ...]:
    return (
        ChatTarget(1, ChatKind.SLACK, "", True),
        ChatTarget(2, ChatKind.WEBHOOK, "基幹", True),
    )


def parsed(msg: EmailMessage | str) -> EmailMessage:
    """The message as a mail reader sees it after the wire."""
    raw = msg.as_bytes() if isinstance(msg, EmailMessage) else msg.encode()
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    return back


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def named_mail(
    call: CallRecord, templates: Templates, name: str = NAME, **kwargs: str
) -> EmailMessage:
    return compose(
        call,
        mail_settings(),
        RECIPIENT,
        sender=SENDER,
        templates=templates,
        caller_name=name,
        **kwargs,
    )
