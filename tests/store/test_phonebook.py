"""Issue 19 (BOOK-1): a number's phonebook and the rules on names, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, phonebook, validation
from store.caller_number import national_form
from store.errors import AlreadyExists, InvalidInput, InvalidNumber, LimitExceeded, NotFound
from store.phonebook import Entry
from tests.builders import E1, E2, N, unchanged_after

# --- the name and note rules (pure) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("山田商事", "山田商事"),
        ("  山田 太郎\u3000", "山田 太郎"),
        ("山田\u3000太郎", "山田\u3000太郎"),
        ("ｶﾞｽ会社", "ｶﾞｽ会社"),  # half-width kana stay as typed (NFC, not NFKC)
        ("か\u3099", "が"),  # NFC composes the voiced mark
        ("x" * 40, "x" * 40),
        ("😀" * 40, "😀" * 40),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),  # stored as typed; the CSV export defuses it
        ("辻\U000e0100商店", "辻\U000e0100商店"),  # an ideographic variation sequence (異体字)
        ("❤\ufe0f花屋", "❤\ufe0f花屋"),  # an emoji's presentation selector
        ("\u0e01\u0e34\u0e48", "\u0e01\u0e34\u0e48"),  # Thai: a vowel and a tone mark
        ("Café", "Café"),
    ],
)
def test_BOOK_1_caller_name_takes_printable_names(typed: str, stored: str) -> None:
    assert validation.caller_name(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "caller_name_empty"),
        ("   \u3000 ", "caller_name_empty"),
        ("x" * 41, "caller_name_too_long"),
        ("あ" * 41, "caller_name_too_long"),
        ("x" * 10_000, "caller_name_too_long"),
        ("山田\r\nBcc: victim@example.com", "caller_name_control"),
        ("山田\n", "caller_name_control"),
        ("\r山田", "caller_name_control"),
        ("山田\x00", "caller_name_control"),
        ("山田\t商事", "caller_name_control"),
        ("\u202e事商田山", "caller_name_control"),  # RIGHT-TO-LEFT OVERRIDE
        ("山田\u2066商事\u2069", "caller_name_control"),  # bidi isolates
        ("山田\u200b", "caller_name_control"),  # ZERO WIDTH SPACE
        ("山田\u2028商事", "caller_name_control"),  # LINE SEPARATOR
        ("山田\u2029", "caller_name_control"),
        ("山田\ue000", "caller_name_control"),  # private use
        ("山田\ud800", "caller_name_control"),  # a lone surrogate
        ("山田\u0378", "caller_name_control"),  # unassigned
        ("山田\x85", "caller_name_control"),  # NEL
        ("山田\u00a0商事", "caller_name_control"),  # no-break space
        ("\u3164\u3164", "caller_name_control"),  # Hangul fillers show nothing
        ("a\u0301\u0301\u0301\u0301", "caller_name_control"),  # a pile of combining marks
        # Issue 19's review: marks that show nothing, or nothing but marks.
        ("\u034f", "caller_name_control"),  # COMBINING GRAPHEME JOINER
        ("山田\u034f商事", "caller_name_control"),
        ("\ufe0f", "caller_name_control"),  # a variation selector alone
        ("\U000e0100", "caller_name_control"),  # an ideographic variation selector alone
        ("\u17b4", "caller_name_control"),  # KHMER VOWEL INHERENT AQ
        ("\u0301", "caller_name_control"),  # a combining mark alone
        ("\u20dd\u20dd", "caller_name_control"),  # enclosing marks only
        ("a" + "\u0489" * 39, "caller_name_control"),  # marks combining() says 0 for
        ("\u0e01" + "\u0e34\u0e48" * 5, "caller_name_control"),  # Thai vowel and tone, stacked
    ],
)
def test_BOOK_1_caller_name_refuses_empty_long_and_hostile_names(typed: str, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validation.caller_name(typed)
    assert err.value.code == code
    assert err.value.field == "name"


def test_BOOK_1_phonebook_note_may_be_empty_and_has_the_same_character_rule() -> None:
    assert validation.phonebook_note("") == ""
    assert validation.phonebook_note(" 経理部 ") == "経理部"
    assert validation.phonebook_note("x" * 100) == "x" * 100
    for typed, code in [
        ("x" * 101, "phonebook_note_too_long"),
        ("x" * 100_000, "phonebook_note_too_long"),
        ("a\r\nb", "phonebook_note_control"),
        ("\u202eabc", "phonebook_note_control"),
    ]:
        with pytest.raises(InvalidInput) as err:
            validation.phonebook_note(typed, field="note")
        assert (err.value.code, err.value.field) == (code, "note")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0398765432", "0398765432"),
        ("03-9876-5432", "0398765432"),
        ("０３－９８７６－５４３２", "0398765432"),
        ("090 1234 5678", "09012345678"),
        ("0101234567890123", "0101234567890123"),
    ],
)
def test_BOOK_1_caller_numbers_are_stored_like_designated_numbers(typed: str, stored: str) -> None:
    assert phonebook.stored_caller_number(typed) == stored
    assert stored == validation.diallable_number(validation.typed_number(typed))


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "phonebook_number_not_digits"),
        ("anonymous", "phonebook_number_not_digits"),
        ("+1 212 555 0100", "phonebook_number_not_digits"),  # abroad: never presented as 0…
        ("039876543\x00", "phonebook_number_not_digits"),
        ("398765432", "phonebook_number_format"),
        ("0" * 19, "phonebook_number_format"),
        ("1" * 1000, "phonebook_number_format"),
    ],
)
def test_BOOK_1_caller_numbers_refused(typed: str, code: str) -> None:
    """(+81398765432 was refused here until the review of issue 19: it is now stored as
    0398765432, the form the notifier looks up, as below.)"""
    with pytest.raises(InvalidNumber) as err:
        phonebook.stored_caller_number(typed)
    assert (err.value.code, err.value.field) == (code, "caller_number")


@pytest.mark.parametrize(
    "typed", ["+81398765432", "+81 3-9876-5432", "＋８１３９８７６５４３２", "0081398765432"]
)
def test_BOOK_1_an_international_form_is_stored_as_the_notifier_looks_it_up(typed: str) -> None:
    """A presented +81… or 0081… caller is looked up as 0… (store.caller_number): an entry
    typed so is stored so, or it would never name anyone (0081… was stored as typed)."""
    assert phonebook.stored_caller_number(typed) == "0398765432"


# --- the store, on both databases --------------------------------------------------------------


def test_BOOK_1_add_list_edit_remove(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        added = phonebook.add_entry(s, E1, "03-9876-5432", " 山田商事 ", "経理")
        phonebook.add_entry(s, E1, "0311112222", "佐藤")
        phonebook.add_entry(s, E2, "0398765432", "別の番号の名前")
    assert added == Entry("0398765432", "山田商事", "経理")
    with db.transaction(line, read_only=True) as s:
        assert phonebook.entries(s, E1) == [
            Entry("0311112222", "佐藤", ""),
            Entry("0398765432", "山田商事", "経理"),
        ]
        assert phonebook.entries(s, E2) == [Entry("0398765432", "別の番号の名前", "")]
    with db.transaction(line) as s:
        edited = phonebook.update_entry(
            s, E1, "03-1111-2222", name="佐藤工業", note="", new_caller_number="0311113333"
        )
        phonebook.update_entry(s, E1, "0398765432", name="山田商事", note="本社")
    assert edited == Entry("0311113333", "佐藤工業", "")
    with db.transaction(line) as s:
        phonebook.remove_entry(s, E1, "0311113333")
    with db.transaction(line, read_only=True) as s:
        assert phonebook.entries(s, E1) == [Entry("0398765432", "山田商事", "本社")]


def test_BOOK_1_any_provisioned_number_has_a_phonebook(line: sessionmaker[Session]) -> None:
    """N subscribes to no service: its history still shows names."""
    with db.transaction(line) as s:
        phonebook.add_entry(s, N, "0398765432", "山田商事")
        assert phonebook.entries(s, N) == [Entry("0398765432", "山田商事", "")]


def test_BOOK_1_unknown_number_and_entry_are_not_found(line: sessionmaker[Session]) -> None:
    for action in (
        lambda s: phonebook.entries(s, "0399999999"),
        lambda s: phonebook.add_entry(s, "0399999999", "0398765432", "x"),
        lambda s: phonebook.remove_entry(s, E1, "0398765432"),
        lambda s: phonebook.update_entry(s, E1, "0398765432", name="x", note=""),
        lambda s: phonebook.replace_entries(s, "'; DROP TABLE number;--", []),
    ):
        unchanged_after(line, action, NotFound)
    err = unchanged_after(line, lambda s: phonebook.remove_entry(s, E1, "0398765432"), NotFound)
    assert err.code == "phonebook_entry_not_found"


def test_BOOK_1_a_caller_once_per_book(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        phonebook.add_entry(s, E1, "0398765432", "山田商事")
        phonebook.add_entry(s, E1, "0311112222", "佐藤")
    err = unchanged_after(
        line, lambda s: phonebook.add_entry(s, E1, "03-9876-5432", "二つ目"), AlreadyExists
    )
    assert err.code == "phonebook_entry_exists"
    err = unchanged_after(
        line,
        lambda s: phonebook.update_entry(
            s, E1, "0311112222", name="佐藤", note="", new_caller_number="0398765432"
        ),
        AlreadyExists,
    )
    assert (err.code, err.field) == ("phonebook_entry_exists", "new_caller_number")


def test_BOOK_1_at_most_300_entries(line: sessionmaker[Session]) -> None:
    rows = [(f"03{i:08d}", f"名前{i}", "") for i in range(validation.MAX_PHONEBOOK)]
    with db.transaction(line) as s:
        phonebook.replace_entries(s, E1, rows)
    err = unchanged_after(
        line, lambda s: phonebook.add_entry(s, E1, "0900000000", "301人目"), LimitExceeded
    )
    assert (err.code, err.params) == ("phonebook_full", {"max": 300})
    err = unchanged_after(
        line,
        lambda s: phonebook.replace_entries(s, E1, [*rows, ("0900000000", "301人目", "")]),
        LimitExceeded,
    )
    assert err.code == "phonebook_full"
    with db.transaction(line, read_only=True) as s:
        assert len(phonebook.entries(s, E1)) == 300


def test_BOOK_1_hostile_values_store_nothing(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        phonebook.add_entry(s, E1, "0398765432", "山田商事")
    for caller, name, note, code in [
        ("0311112222", "a\r\nBcc: x@example.com", "", "caller_name_control"),
        ("0311112222", "\u202eabc", "", "caller_name_control"),
        ("0311112222", "x" * 41, "", "caller_name_too_long"),
        ("0311112222", "", "", "caller_name_empty"),
        ("0311112222", "ok", "\x00", "phonebook_note_control"),
        ("03111\x0022", "ok", "", "phonebook_number_not_digits"),
    ]:

        def add(s: Session, c: str = caller, n: str = name, t: str = note) -> object:
            return phonebook.add_entry(s, E1, c, n, t)

        def edit(s: Session, c: str = caller, n: str = name, t: str = note) -> object:
            return phonebook.update_entry(s, E1, "0398765432", name=n, note=t, new_caller_number=c)

        assert unchanged_after(line, add, InvalidInput).code == code
        assert unchanged_after(line, edit, InvalidInput).code == code


def test_BOOK_1_replace_is_all_or_nothing(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        phonebook.add_entry(s, E1, "0398765432", "山田商事", "古いメモ")
        phonebook.add_entry(s, E1, "0311112222", "佐藤")
    err = unchanged_after(
        line,
        lambda s: phonebook.replace_entries(
            s, E1, [("0398765432", "山田", ""), ("0322223333", "ok", ""), ("x", "bad", "")]
        ),
        InvalidNumber,
    )
    assert err.field == "entries.2.caller_number"
    err = unchanged_after(
        line,
        lambda s: phonebook.replace_entries(
            s, E1, [("0398765432", "山田", ""), ("03-9876-5432", "二度目", "")]
        ),
        AlreadyExists,
    )
    assert (err.code, err.field, err.params) == (
        "phonebook_entry_twice",
        "entries.1.caller_number",
        {"number": "0398765432"},
    )
    with db.transaction(line) as s:
        replaced = phonebook.replace_entries(
            s,
            E1,
            [("0398765432", "山田商事（本社）", ""), ("０３－２２２２－３３３３", "鈴木", "")],
        )
    assert replaced == [
        Entry("0322223333", "鈴木", ""),
        Entry("0398765432", "山田商事（本社）", ""),
    ]
    with db.transaction(line) as s:
        assert phonebook.replace_entries(s, E1, []) == []
    with db.transaction(line, read_only=True) as s:
        assert phonebook.entries(s, E1) == []
        assert phonebook.entries(s, E2) == []


def test_BOOK_1_names_reach_the_notifier_lookup(line: sessionmaker[Session]) -> None:
    """What the phonebook stores is what ``caller_names`` (BOOK-2) finds for a presented caller."""
    from store.service import caller_names

    with db.transaction(line) as s:
        phonebook.add_entry(s, E1, "03-9876-5432", "山田商事")
        phonebook.add_entry(s, E2, "0081312345678", "海外支店")
    with db.transaction(line, read_only=True) as s:
        assert caller_names(s, [(E1, "0398765432"), (E2, "0398765432")]) == {
            (E1, "0398765432"): "山田商事"
        }
        assert caller_names(s, [(E2, national_form("0081312345678"))]) == {
            (E2, "0312345678"): "海外支店"
        }
        with pytest.raises(AlreadyExists):
            phonebook.add_entry(s, E2, "03-1234-5678", "二重")
