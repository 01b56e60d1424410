"""Issue 19 (BOOK-2): ``service.caller_names`` reads the phonebook names of many calls at once.

On both databases; the rows are written as the phonebook writes them
(``PhonebookEntry`` of a number), so that these tests need nothing but the table.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import Number, PhonebookEntry
from tests.builders import E1, E2, TZ, C

YAMADA = "0398765432"
SATO = "0311112222"


@pytest.fixture
def books(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C with two names, E1 with one (another name for the same caller), E2 with none."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_number(s, C, E2, timezone=TZ)
        ids = {n: i for n, i in s.execute(sa.select(Number.number, Number.id))}
        s.add_all(
            [
                PhonebookEntry(number_id=ids[C], caller_number=YAMADA, name="山田商事"),
                PhonebookEntry(number_id=ids[C], caller_number=SATO, name="佐藤", note="経理"),
                PhonebookEntry(number_id=ids[E1], caller_number=YAMADA, name="山田（本社）"),
            ]
        )
    return sessions


def _statements(sessions: sessionmaker[Session]) -> tuple[list[str], Any]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    return seen, note


def test_book2_names_by_number_and_caller(books: sessionmaker[Session]) -> None:
    with db.transaction(books, read_only=True) as s:
        names = service.caller_names(
            s, [(C, YAMADA), (C, SATO), (E1, YAMADA), (E1, SATO), (E2, YAMADA)]
        )
    # Each number its own book: E1's name for YAMADA is not C's, E2 has none.
    assert names == {(C, YAMADA): "山田商事", (C, SATO): "佐藤", (E1, YAMADA): "山田（本社）"}


def test_book2_empty_callers_and_no_pairs_ask_nothing(books: sessionmaker[Session]) -> None:
    engine = books.kw["bind"]
    seen, note = _statements(books)
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        with db.transaction(books, read_only=True) as s:
            seen.clear()
            assert service.caller_names(s, []) == {}
            assert service.caller_names(s, [(C, ""), ("", YAMADA)]) == {}
            selects = [q for q in seen if "phonebook_entry" in q]
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert selects == []


def test_book2_one_query_for_a_batch(books: sessionmaker[Session]) -> None:
    engine = books.kw["bind"]
    seen, note = _statements(books)
    pairs = [(C, f"03{i:08d}") for i in range(400)] + [(C, YAMADA), (C, YAMADA)]
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        with db.transaction(books, read_only=True) as s:
            seen.clear()
            names = service.caller_names(s, pairs)
            selects = [q for q in seen if "phonebook_entry" in q]
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert names == {(C, YAMADA): "山田商事"}
    assert len(selects) == 1


def test_book2_many_pairs_in_chunks_all_found(books: sessionmaker[Session]) -> None:
    pairs = [(C, f"03{i:08d}") for i in range(1200)] + [(E1, YAMADA), (C, SATO)]
    with db.transaction(books, read_only=True) as s:
        names = service.caller_names(s, iter(pairs))
    assert names == {(E1, YAMADA): "山田（本社）", (C, SATO): "佐藤"}
