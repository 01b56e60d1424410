"""MAIL-9 (and MAIL-2 send test, MAIL-10 Message-ID): notifier.mail."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
from email.message import EmailMessage
from pathlib import Path

import pytest

from notifier.mail import (
    TemplateError,
    Templates,
    compose,
    compose_all,
    compose_test,
    make_message_id,
)
from notifier.model import CallRecord, MailSettings
from store.mail_message import UnsafeHeader
from store.models import CallOutcome, Presentation

SENDER = "chakushin@pbx.example.jp"
RECIPIENT = "taro@example.jp"
SUBSCRIBER = "0312345678"
CALLER = "0398765432"
# 2026-11-21 09:04:05 UTC = 18:04:05 in Tokyo, 01:04:05 in Los Angeles (PST).
STARTED = dt.datetime(2026, 11, 21, 9, 4, 5, tzinfo=dt.UTC)


def mail_settings(timezone: str = "Asia/Tokyo") -> MailSettings:
    return MailSettings(
        number=SUBSCRIBER,
        subscribed=True,
        started=True,
        designated_only=False,
        unanswered_only=False,
        addresses=((RECIPIENT, True),),
        designated=(),
        timezone=timezone,
    )


def record(
    *,
    caller_number: str = CALLER,
    presentation: Presentation = Presentation.ALLOWED,
    outcome: CallOutcome = CallOutcome.UNANSWERED,
    started_at: dt.datetime = STARTED,
    linkedid: str = "1763715845.42",
) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        subscriber_number=SUBSCRIBER,
        caller_number=caller_number,
        presentation=presentation,
        outcome=outcome,
        started_at=started_at,
        ended_at=started_at + dt.timedelta(seconds=25),
    )


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


def parsed(msg: EmailMessage) -> EmailMessage:
    """The message as a mail reader sees it after the wire."""
    back = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    return back


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def compose_for(
    call: CallRecord,
    templates: Templates,
    *,
    timezone: str = "Asia/Tokyo",
    recipient: str = RECIPIENT,
    sender: str = SENDER,
) -> EmailMessage:
    return compose(call, mail_settings(timezone), recipient, sender=sender, templates=templates)


# --- MAIL-9 contents -----------------------------------------------------------------


def test_MAIL_9_subject_names_service_and_caller(templates: Templates) -> None:
    msg = parsed(compose_for(record(), templates))
    assert msg["Subject"] == f"【着信お知らせメール】{CALLER} からの着信"


def test_MAIL_9_subject_is_rfc2047_encoded(templates: Templates) -> None:
    raw = compose_for(record(), templates).as_bytes()
    subject_line = next(line for line in raw.split(b"\n") if line.startswith(b"Subject:"))
    assert b"=?utf-8?" in subject_line.lower()
    assert raw.isascii()


def test_MAIL_9_body_has_time_caller_called_number_and_result(templates: Templates) -> None:
    text = body_of(parsed(compose_for(record(), templates)))
    assert "2026/11/21 18:04:05" in text
    assert CALLER in text
    assert SUBSCRIBER in text
    assert "不在" in text


def test_MAIL_9_utf8_plain_text(templates: Templates) -> None:
    msg = parsed(compose_for(record(), templates))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["MIME-Version"] == "1.0"


def test_MAIL_9_headers(templates: Templates) -> None:
    msg = parsed(compose_for(record(), templates))
    assert msg["From"] == SENDER
    assert msg["To"] == RECIPIENT
    assert msg["X-Chakushin-Call"] == "1763715845.42"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"] == make_message_id("1763715845.42", RECIPIENT, "pbx.example.jp")
    assert email.utils.parsedate_to_datetime(msg["Date"]) == STARTED + dt.timedelta(seconds=25)


@pytest.mark.parametrize(
    ("timezone", "shown"),
    [
        ("Asia/Tokyo", "2026/11/21 18:04:05"),
        ("America/Los_Angeles", "2026/11/21 01:04:05"),
        ("UTC", "2026/11/21 09:04:05"),
    ],
)
def test_MAIL_9_start_time_in_subscriber_time_zone(
    templates: Templates, timezone: str, shown: str
) -> None:
    text = body_of(parsed(compose_for(record(), templates, timezone=timezone)))
    assert shown in text


def test_MAIL_9_time_zone_conversion_crosses_the_date(templates: Templates) -> None:
    late = dt.datetime(2026, 12, 31, 16, 30, 0, tzinfo=dt.UTC)
    text = body_of(parsed(compose_for(record(started_at=late), templates)))
    assert "2027/01/01 01:30:00" in text


@pytest.mark.parametrize(
    ("presentation", "label"),
    [
        (Presentation.WITHHELD, "非通知"),
        (Presentation.PAYPHONE, "公衆電話"),
        (Presentation.UNAVAILABLE, "表示圏外"),
    ],
)
def test_MAIL_9_label_for_each_presentation(
    templates: Templates, presentation: Presentation, label: str
) -> None:
    msg = parsed(compose_for(record(caller_number="", presentation=presentation), templates))
    assert msg["Subject"] == f"【着信お知らせメール】{label} からの着信"
    assert f"発信者番号：{label}" in body_of(msg)


@pytest.mark.parametrize("number", ["", "anonymous", "+81398765432", "03-9876-5432"])
def test_MAIL_9_presented_number_not_digits_is_shown_as_unavailable(
    templates: Templates, number: str
) -> None:
    msg = parsed(compose_for(record(caller_number=number), templates))
    assert msg["Subject"] == "【着信お知らせメール】表示圏外 からの着信"
    if number:
        assert number not in msg.as_string()


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        (CallOutcome.ANSWERED, "応答"),
        (CallOutcome.UNANSWERED, "不在"),
        (CallOutcome.BUSY, "話中"),
        (CallOutcome.FORWARDED, "転送"),
    ],
)
def test_MAIL_9_result_in_words(templates: Templates, outcome: CallOutcome, words: str) -> None:
    text = body_of(parsed(compose_for(record(outcome=outcome), templates)))
    assert f"着信結果：{words}\n" in text


@pytest.mark.parametrize("presentation", [p for p in Presentation if p is not Presentation.ALLOWED])
def test_MAIL_9_withheld_number_never_appears(
    templates: Templates, presentation: Presentation
) -> None:
    # The record should carry no number here; even if one leaked in, the
    # mail must not show it anywhere: raw bytes, headers or decoded body.
    leaked = "09011112222"
    msg = compose_for(record(caller_number=leaked, presentation=presentation), templates)
    raw = msg.as_bytes()
    assert leaked.encode() not in raw
    back = parsed(msg)
    assert leaked not in body_of(back)
    for name, value in back.items():
        assert leaked not in str(value), name


# --- MAIL-10 Message-ID --------------------------------------------------------------


def test_MAIL_10_message_id_stable_for_call_and_recipient(templates: Templates) -> None:
    first = compose_for(record(), templates)
    again = compose_for(record(), templates)
    assert first["Message-ID"] == again["Message-ID"]
    assert first.as_bytes() == again.as_bytes()


def test_MAIL_10_message_id_differs_across_recipients_and_calls(templates: Templates) -> None:
    to_taro = compose_for(record(), templates)["Message-ID"]
    to_hanako = compose_for(record(), templates, recipient="hanako@example.jp")["Message-ID"]
    other_call = compose_for(record(linkedid="1763715999.7"), templates)["Message-ID"]
    assert len({to_taro, to_hanako, other_call}) == 3


def test_MAIL_10_message_id_ignores_recipient_case() -> None:
    assert make_message_id("1763715845.42", "Taro@Example.JP", "pbx.example.jp") == (
        make_message_id("1763715845.42", "taro@example.jp", "pbx.example.jp")
    )


def test_make_message_id_shape() -> None:
    message_id = make_message_id("1763715845.42", RECIPIENT, "pbx.example.jp")
    assert message_id.startswith("<chakushin.")
    assert message_id.endswith("@pbx.example.jp>")
    assert message_id == make_message_id("1763715845.42", RECIPIENT, "pbx.example.jp")
    assert len(message_id.split("@")[0]) == len("<chakushin.") + 32


# --- header injection ----------------------------------------------------------------


@pytest.mark.parametrize(
    "recipient",
    [
        "taro@example.jp\r\nBcc: x@y",
        "taro@example.jp\nBcc: x@y",
        "taro@example.jp\rBcc: x@y",
        "taro@example.jp\x00",
        "taro@example.jp\u2028Bcc: x@y",
        "taro@example.jp, x@y.jp",
        "Taro <taro@example.jp>",
        "",
    ],
)
def test_recipient_header_injection_rejected(templates: Templates, recipient: str) -> None:
    with pytest.raises(UnsafeHeader):
        compose_for(record(), templates, recipient=recipient)
    with pytest.raises(UnsafeHeader):
        compose_test(recipient, SUBSCRIBER, sender=SENDER, templates=templates, now=STARTED)


@pytest.mark.parametrize(
    "sender", ["chakushin@pbx.example.jp\nBcc: x@y", "chakushin@pbx.example.jp\r\n", "nobody"]
)
def test_sender_header_injection_rejected(templates: Templates, sender: str) -> None:
    with pytest.raises(UnsafeHeader):
        compose_for(record(), templates, sender=sender)
    with pytest.raises(UnsafeHeader):
        compose_test(RECIPIENT, SUBSCRIBER, sender=sender, templates=templates, now=STARTED)


def test_unsafe_header_is_a_value_error() -> None:
    assert issubclass(UnsafeHeader, ValueError)


def test_linkedid_with_newline_rejected(templates: Templates) -> None:
    with pytest.raises(UnsafeHeader):
        compose_for(record(linkedid="1763715845.42\r\nBcc: x@y"), templates)


def test_caller_number_with_newline_is_not_presented(templates: Templates) -> None:
    msg = parsed(compose_for(record(caller_number="0398765432\r\nBcc: x@y"), templates))
    assert msg["Bcc"] is None
    assert msg["Subject"] == "【着信お知らせメール】表示圏外 からの着信"


# --- templates -----------------------------------------------------------------------


def test_MAIL_9_operator_override_replaces_only_that_template(tmp_path: Path) -> None:
    (tmp_path / "body.txt").write_text(
        "お客さま番号 ${called_number} に ${caller} から着信 (${started_at} ${timezone})\n",
        encoding="utf-8",
    )
    overridden = Templates.load(tmp_path)
    msg = parsed(compose_for(record(), overridden))
    assert body_of(msg) == (
        f"お客さま番号 {SUBSCRIBER} に {CALLER} から着信 (2026/11/21 18:04:05 Asia/Tokyo)\n"
    )
    assert msg["Subject"] == f"【着信お知らせメール】{CALLER} からの着信"
    assert overridden.origins["body.txt"] == str(tmp_path / "body.txt")
    assert overridden.origins["subject.txt"] == "notifier/templates/subject.txt"


def test_template_with_unknown_placeholder_rejected_at_load(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("${calller} からの着信\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="calller"):
        Templates.load(tmp_path)


def test_subject_template_must_be_one_line(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("着信\nBcc: x@y\n", encoding="utf-8")
    with pytest.raises(TemplateError):
        Templates.load(tmp_path)


def test_missing_override_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(TemplateError):
        Templates.load(tmp_path / "nowhere")


# --- MAIL-2 send test ----------------------------------------------------------------


def test_MAIL_2_send_test_mail(templates: Templates) -> None:
    msg = compose_test(RECIPIENT, SUBSCRIBER, sender=SENDER, templates=templates, now=STARTED)
    back = parsed(msg)
    assert back["Subject"] == "【着信お知らせメール】送信テスト"
    assert back["To"] == RECIPIENT
    assert back["From"] == SENDER
    assert back.get_content_charset() == "utf-8"
    text = body_of(back)
    assert "送信テスト" in text
    assert SUBSCRIBER in text
    assert "2026/11/21 18:04:05" in text
    assert back["Message-ID"].endswith("@pbx.example.jp>")


def test_MAIL_2_send_test_message_id_is_fresh(templates: Templates) -> None:
    ids = {
        compose_test(RECIPIENT, SUBSCRIBER, sender=SENDER, templates=templates, now=STARTED)[
            "Message-ID"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


@pytest.mark.parametrize(
    "presentation", [Presentation.ALLOWED, Presentation.WITHHELD, Presentation.PAYPHONE]
)
def test_MAIL_9_compose_all_gives_each_recipient_exactly_what_compose_gives(
    templates: Templates, presentation: Presentation
) -> None:
    call = record(presentation=presentation)
    recipients = ["taro@example.jp", "Hanako.Yamada+calls@mail.example.co.jp", "x@y"]
    made = compose_all(call, mail_settings(), recipients, sender=SENDER, templates=templates)
    assert [r for r, _, _, _ in made] == recipients
    for recipient, subject, text, message_id in made:
        one = compose(call, mail_settings(), recipient, sender=SENDER, templates=templates)
        assert text == one.as_string()
        assert (subject, message_id) == (str(one["Subject"]), str(one["Message-ID"]))


def test_MAIL_9_compose_all_refuses_an_unsafe_recipient(templates: Templates) -> None:
    with pytest.raises(UnsafeHeader):
        compose_all(
            record(),
            mail_settings(),
            ["ok@example.jp", "a@b\r\nBcc: x@y"],
            sender=SENDER,
            templates=templates,
        )


def test_issue14_MAIL_9_unknown_placeholders_are_listed_in_the_order_they_appear(
    tmp_path: Path,
) -> None:
    (tmp_path / "body.txt").write_text("$zeta $caller $alpha $zeta $mid\n", encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        Templates.load(tmp_path)
    assert "unknown placeholder(s) $zeta, $alpha, $mid;" in str(err.value)
