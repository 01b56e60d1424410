"""Issue 19 (BOOK-1): two writers cannot both take a phonebook's 300th entry (PostgreSQL).

Every writer of ``store.phonebook`` locks the number's row first
(``get_number(lock=True)``): the second waits for the first to commit, then
counts the entries it left. (SQLite's transactions are exclusive already,
``store.db``.) The second writer is seen waiting in ``pg_stat_activity``
before the first commits: no sleep decides the order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store import db, phonebook, service, validation
from store.errors import LimitExceeded
from tests.builders import TZ, C, empty_tables


@pytest.fixture
def pg(postgresql_url: str) -> Iterator[Engine]:
    engine = db.make_engine(postgresql_url)
    yield engine
    empty_tables(engine)
    engine.dispose()


@pytest.mark.postgresql
def test_BOOK_1_the_300th_entry_is_taken_once(pg: Engine) -> None:
    sessions = db.session_factory(pg)
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        rows = [(f"03{i:08d}", f"n{i}", "") for i in range(validation.MAX_PHONEBOOK - 1)]
        phonebook.replace_entries(s, C, rows)
    outcome: list[str] = []

    def second() -> None:
        try:
            with db.transaction(sessions) as s:
                phonebook.add_entry(s, C, "0900000002", "二人目")
            outcome.append("added")
        except LimitExceeded:
            outcome.append("full")

    with db.transaction(sessions) as first:
        phonebook.add_entry(first, C, "0900000001", "一人目")
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 30
        with pg.connect() as watch:
            query = sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            while not watch.execute(query).scalar():
                assert time.monotonic() < deadline, "the second writer never waited"
                assert thread.is_alive(), outcome
                time.sleep(0.01)  # a poll of the condition, not the synchronisation
    thread.join(30)
    assert outcome == ["full"]
    with db.transaction(sessions, read_only=True) as s:
        callers = {e.caller_number for e in phonebook.entries(s, C)}
    assert len(callers) == 300 and "0900000001" in callers
