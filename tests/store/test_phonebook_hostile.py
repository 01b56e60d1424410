"""Issue 19 (BOOK-1): hostile values and files into the phonebook's rules and CSV.

Random text into a name, a note and a caller number: the rule returns a
value that is safe (NFC, no control, format or invisible character, within
its length) or refuses it with a code that has Japanese words. Random bytes
as an uploaded file: ``parse`` returns checked rows or refuses with every
problem worded, never another exception. Every book the rules accept comes
back from its own download, in both encodings.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from store import phonebook_csv, validation
from store.errors import InvalidInput
from store.phonebook import Entry, stored_caller_number
from store.phonebook_csv import CsvUnencodable, PhonebookCsvRefused
from tests.hostile.conftest import hostile_text
from web.texts import ERRORS, FALLBACK, japanese


def _safe(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text) and all(
        c in " \u3000" or c.isprintable() for c in text
    )


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_BOOK_1_a_name_or_note_is_safe_or_refused_in_words(text: str) -> None:
    for rule, limit in (
        (validation.caller_name, validation.MAX_CALLER_NAME),
        (validation.phonebook_note, validation.MAX_PHONEBOOK_NOTE),
    ):
        try:
            value = rule(text)
        except InvalidInput as exc:
            assert exc.code in ERRORS and japanese(exc) != FALLBACK
            continue
        assert len(value) <= limit and _safe(value)
        assert "\r" not in value and "\n" not in value and "\x00" not in value
        assert rule(value) == value  # stored values pass the rule again unchanged


@settings(max_examples=100, deadline=None)
@given(hostile_text)
def test_BOOK_1_a_caller_number_is_digits_or_refused(text: str) -> None:
    try:
        value = stored_caller_number(text)
    except InvalidInput as exc:
        assert exc.code in ("phonebook_number_not_digits", "phonebook_number_format")
        return
    assert value.isascii() and value.isdigit() and value.startswith("0")


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.binary(max_size=2000), hostile_text.map(lambda t: t.encode("utf-8", "replace")))
)
def test_BOOK_1_any_file_gives_checked_rows_or_every_problem_in_words(data: bytes) -> None:
    try:
        rows = phonebook_csv.parse(data)
    except PhonebookCsvRefused as exc:
        assert exc.problems
        for _line, error in exc.problems:
            assert error.code in ERRORS, error.code
            japanese(error)
        return
    assert 0 < len(rows) <= validation.MAX_PHONEBOOK
    for caller, name, note in rows:
        assert stored_caller_number(caller) == caller
        assert validation.caller_name(name) == name
        assert validation.phonebook_note(note) == note


names = st.text(min_size=1, max_size=40).filter(
    lambda t: _accepted(validation.caller_name, t) is not None
)


def _accepted(rule: object, text: str) -> str | None:
    try:
        return rule(text)  # type: ignore[operator,no-any-return]
    except InvalidInput:
        return None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**8 - 1), names, names), max_size=20))
def test_BOOK_1_every_accepted_book_comes_back_from_its_download(
    drawn: list[tuple[int, str, str]],
) -> None:
    book: dict[str, Entry] = {}
    for digits, name, note in drawn:
        caller = f"03{digits:08d}"
        book[caller] = Entry(caller, validation.caller_name(name), validation.phonebook_note(note))
    entries = sorted(book.values(), key=lambda e: e.caller_number)
    rows = [(e.caller_number, e.name, e.note) for e in entries]
    for encoding in phonebook_csv.ENCODINGS:
        try:
            data = phonebook_csv.render(entries, encoding=encoding)
        except CsvUnencodable:
            assert encoding == "shift_jis"
            continue
        if not entries:
            continue  # a file with no rows is refused on upload
        assert phonebook_csv.parse(data) == rows
