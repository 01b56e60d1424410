"""Issue 19 (MAIL-9, BOOK-2): the mail names a caller the number's phonebook knows.

Subject 「【着信お知らせメール】山田商事（0398765432）からの着信」, body
「発信者：山田商事（0398765432）」; an unknown caller's mail is byte for byte
what it was before names; a withheld, payphone or unavailable caller is never
named; a name the store would refuse never reaches a header or the body.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.mail import TemplateError, Templates, compose, compose_all
from store.models import CallOutcome, Presentation
from tests.notifier.chat_calls import (
    BAD_NAMES,
    CALLER,
    NAME,
    RECIPIENT,
    SENDER,
    body_of,
    mail_settings,
    named_mail,
    parsed,
    record,
)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


def test_MAIL_9_BOOK_2_named_caller_subject_and_body_as_the_issue_writes(
    templates: Templates,
) -> None:
    msg = parsed(named_mail(record(), templates))
    assert msg["Subject"] == "【着信お知らせメール】山田商事（0398765432）からの着信"
    lines = body_of(msg).splitlines()
    assert "発信者：山田商事（0398765432）" in lines
    assert not any(line.startswith("発信者番号：") for line in lines)
    assert "着信日時：2026/11/21 18:04:05" in lines
    assert "着信結果：不在" in lines


def test_MAIL_9_BOOK_2_unknown_caller_exactly_as_before(templates: Templates) -> None:
    unnamed = compose(record(), mail_settings(), RECIPIENT, sender=SENDER, templates=templates)
    empty = named_mail(record(), templates, name="")
    assert unnamed.as_bytes() == empty.as_bytes()
    msg = parsed(unnamed)
    assert msg["Subject"] == f"【着信お知らせメール】{CALLER} からの着信"
    assert body_of(msg) == (
        "0312345678 に着信がありました。\n"
        "\n"
        "着信日時：2026/11/21 18:04:05\n"
        "発信者番号：0398765432\n"
        "着信番号：0312345678\n"
        "着信結果：不在\n"
        "\n"
        "※発信者が「非通知」で発信した場合などでは、発信電話番号は表示されません。\n"
        "※このメールは送信専用です。ご返信いただいてもお答えできません。\n"
        "\n"
        "--\n"
        "着信お知らせメール\n"
    )


@pytest.mark.parametrize(
    ("presentation", "word"),
    [
        (Presentation.WITHHELD, "非通知"),
        (Presentation.PAYPHONE, "公衆電話"),
        (Presentation.UNAVAILABLE, "表示圏外"),
    ],
)
def test_MAIL_9_BOOK_2_withheld_payphone_unavailable_never_named(
    templates: Templates, presentation: Presentation, word: str
) -> None:
    # Even with digits wrongly present and a name passed for them.
    msg = named_mail(record(caller_number=CALLER, presentation=presentation), templates)
    raw = msg.as_bytes()
    back = parsed(msg)
    assert back["Subject"] == f"【着信お知らせメール】{word} からの着信"
    text = body_of(back)
    assert f"発信者番号：{word}" in text.splitlines()
    for needle in (NAME, CALLER):
        assert needle not in text
        assert needle.encode() not in raw
        assert all(needle not in str(v) for v in back.values())


def test_MAIL_9_BOOK_2_allowed_but_no_digits_is_not_named(templates: Templates) -> None:
    back = parsed(named_mail(record(caller_number="yamada"), templates))
    assert back["Subject"] == "【着信お知らせメール】表示圏外 からの着信"
    assert NAME not in body_of(back)


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_MAIL_9_BOOK_2_a_name_the_store_refuses_is_dropped(templates: Templates, bad: str) -> None:
    """A row written around the store: the mail is the unknown caller's, byte for byte."""
    unnamed = compose(record(), mail_settings(), RECIPIENT, sender=SENDER, templates=templates)
    assert named_mail(record(), templates, name=bad).as_bytes() == unnamed.as_bytes()


def test_MAIL_9_BOOK_2_name_in_the_subject_is_encoded_and_adds_no_header(
    templates: Templates,
) -> None:
    msg = named_mail(record(), templates, name="Yamada: Bcc <a@b> =?x?=")
    raw = msg.as_bytes()
    assert raw.isascii()
    headers = raw.split(b"\n\n", 1)[0]
    # Only continuation lines (folded, starting with a space) may carry its words.
    assert not any(line.startswith(b"Bcc") for line in headers.split(b"\n"))
    back = parsed(msg)
    assert (
        back["Subject"] == "【着信お知らせメール】Yamada: Bcc <a@b> =?x?=（0398765432）からの着信"
    )
    assert back["Bcc"] is None
    assert sorted(back.keys()) == sorted(parsed(named_mail(record(), templates)).keys())


def test_MAIL_9_BOOK_2_the_longest_name_is_shown_whole(templates: Templates) -> None:
    name = "株" * 40
    back = parsed(named_mail(record(), templates, name=name))
    assert back["Subject"] == f"【着信お知らせメール】{name}（{CALLER}）からの着信"


def test_MAIL_9_BOOK_2_answered_call_named_with_who_answered(templates: Templates) -> None:
    call = record(outcome=CallOutcome.ANSWERED, answered_by="PJSIP/201")
    text = body_of(parsed(named_mail(call, templates, device_label="受付")))
    assert "発信者：山田商事（0398765432）\n" in text
    assert "着信結果：応答\n応答：受付（PJSIP/201）\n" in text


def test_MAIL_9_BOOK_2_compose_all_carries_the_name(templates: Templates) -> None:
    made = compose_all(
        record(),
        mail_settings(),
        [RECIPIENT, "hanako@example.jp"],
        sender=SENDER,
        templates=templates,
        caller_name=NAME,
    )
    assert [subject for _, subject, _, _ in made] == [
        "【着信お知らせメール】山田商事（0398765432）からの着信"
    ] * 2
    for _, _, text, _ in made:
        assert "発信者：山田商事（0398765432）" in body_of(parsed(text))


def test_MAIL_9_BOOK_2_operators_old_templates_keep_working(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("着信 ${caller} から\n", encoding="utf-8")
    (tmp_path / "body.txt").write_text("発信者番号：${caller}\n", encoding="utf-8")
    old = Templates.load(tmp_path)
    back = parsed(named_mail(record(), old))
    assert back["Subject"] == f"着信 {CALLER} から"
    assert body_of(back) == f"発信者番号：{CALLER}\n"


def test_MAIL_9_BOOK_2_new_placeholders_in_operators_templates(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("${caller_display} 様より\n", encoding="utf-8")
    (tmp_path / "body.txt").write_text(
        "[${caller_name}] [${caller}] [${caller_heading}] ${caller_line}\n", encoding="utf-8"
    )
    mine = Templates.load(tmp_path)
    named = parsed(named_mail(record(), mine))
    assert named["Subject"] == "山田商事（0398765432） 様より"
    assert body_of(named) == (
        "[山田商事] [0398765432] [山田商事（0398765432）] 発信者：山田商事（0398765432）\n"
    )
    unnamed = parsed(named_mail(record(), mine, name=""))
    assert unnamed["Subject"] == "0398765432 様より"
    assert body_of(unnamed) == "[] [0398765432] [0398765432 ] 発信者番号：0398765432\n"


def test_issue19_chat_templates_checked_like_the_mails(tmp_path: Path) -> None:
    (tmp_path / "chat.txt").write_text("${caller_line} $recipient\n", encoding="utf-8")
    (tmp_path / "test_chat.txt").write_text("${sent_at} ${caller}\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        Templates.load(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "chat.txt" in problems[0] and "$recipient" in problems[0]
    assert "test_chat.txt" in problems[1] and "$caller" in problems[1]
