"""Issue 19 (BOOK-2, MAIL-9) attack: a name that is an RFC 2047 encoded word.

``=?utf-8?q?a=0D=0ABcc:_x@evil.example?=`` is 38 visible ASCII characters: a
valid phonebook name. Put in the subject, Python's email package took it for
an already encoded header value and decoded it, CR LF and all, and the mail
carried a ``Bcc:`` line of the name's making. Now no text that reaches a
header (a name, a device's name, an operator's template) is read as an
encoded word: the subject shows it as typed, with ``=?`` as ``＝?``, and the
mail has exactly the headers chakushin sets.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_string, policy

import pytest

from notifier.mail import Templates, compose, compose_all
from store import validation
from store.mail_message import build_message
from tests.notifier.chat_calls import RECIPIENT, SENDER, mail_settings, record

NAMES = [
    "=?utf-8?q?a=0D=0ABcc:_x@evil.example?=",
    "=?UTF-8?B?YQ0KWC1FdmlsOiAx?=",  # base64 of a CR LF X-Evil: 1
    "=?iso-8859-1?q?=0AX-Evil:_1?=",
    "=?utf-8?q?a=0D=0AX-Evil: 1?=",  # a space inside: decoded all the same
    "=?utf-8*ja?Q?=0AX-Evil:_1?=",  # RFC 2231 language
]


def headers_of(raw: str) -> list[str]:
    return list(message_from_string(raw, policy=policy.default).keys())


def mail_of(name: str) -> str:
    return compose(
        record(),
        mail_settings(),
        RECIPIENT,
        sender=SENDER,
        templates=Templates.load(),
        caller_name=name,
    ).as_string()


@pytest.mark.parametrize("name", NAMES)
def test_BOOK_2_attack_an_encoded_word_name_adds_no_header(name: str) -> None:
    assert validation.caller_name(name) == name  # a name as any other
    expected = sorted(headers_of(mail_of("山田商事")))
    raw = mail_of(name)
    assert sorted(headers_of(raw)) == expected, raw[:600]
    subject = str(message_from_string(raw, policy=policy.default)["Subject"])
    assert "\r" not in subject and "\n" not in subject
    assert name.replace("=?", "＝?") in subject
    [(_, _, text)] = [
        made[:3]
        for made in compose_all(
            record(),
            mail_settings(),
            [RECIPIENT],
            sender=SENDER,
            templates=Templates.load(),
            caller_name=name,
        )
    ]
    assert sorted(headers_of(text)) == expected, text[:600]


@pytest.mark.parametrize(
    "text",
    [
        "=?",
        "a =?x?= b",
        "=?utf-8?x?abc?=",
        "=?utf-8?q?",
        "?= =? =?a?b?c",
        "=?=?utf-8?b?YQ0KWC1FdmlsOiAx?=?=",
        "=?utf-8?q?=E3=81=82?= and =?utf-8?b?44GC?=",
        "x=?utf-8?q?a=0A?=y",
    ],
)
def test_BOOK_2_attack_a_subject_means_what_it_shows(text: str) -> None:
    """Every text: the subject read back is the text with only an encoded word's =? changed."""
    msg = build_message(
        sender=SENDER,
        recipient=RECIPIENT,
        subject=text,
        body="本文",
        date=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        message_id="<m@example.jp>",
    )
    back = str(message_from_string(msg.as_string(), policy=policy.default)["Subject"])
    assert back.replace("＝?", "=?") == text
    assert "\n" not in back and "\r" not in back


def test_BOOK_2_attack_no_subject_is_read_as_an_encoded_word() -> None:
    """Whatever made the subject (an operator's template too)."""
    msg = build_message(
        sender=SENDER,
        recipient=RECIPIENT,
        subject="Missed =?utf-8?q?a=0D=0AX-Evil:_1?= call",
        body="本文",
        date=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        message_id="<m@example.jp>",
    )
    raw = msg.as_string()
    assert "X-Evil" not in headers_of(raw)
    assert str(message_from_string(raw, policy=policy.default)["Subject"]) == (
        "Missed ＝?utf-8?q?a=0D=0AX-Evil:_1?= call"
    )
