"""Fixtures of the voice tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from tests.builders import CONTRACT, EXTRA, empty_tables


@pytest.fixture
def sqlite_line(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """CONTRACT and EXTRA on SQLite only: for the server's own behaviour, not the store's."""
    engine = db.make_engine(sqlite_url)
    made = db.session_factory(engine)
    with db.transaction(made) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
    yield made
    empty_tables(engine)
    engine.dispose()
