"""A token check takes no write lock (issue 18).

Every request's token is checked in the database. On SQLite a writer's
transaction takes the write lock at BEGIN (IMMEDIATE), so checking in one
made every API read queue behind the node's writers (the notifier, the
IVR). The check reads; only the once-a-minute note of the token's use writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.api.conftest import Api


@pytest.fixture
def begins(api: Api) -> Iterator[list[str]]:
    engine = api.sessions.kw["bind"]
    seen: list[str] = []

    def capture(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if statement.startswith(("BEGIN", "UPDATE api_token")):
            seen.append(statement.split(" SET")[0])

    sa.event.listen(engine, "before_cursor_execute", capture)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", capture)


def test_issue18_token_check_within_the_minute_takes_no_write_lock(
    api: Api, begins: list[str]
) -> None:
    sqlite = api.sessions.kw["bind"].dialect.name == "sqlite"
    assert api.read.get("/api/v1/token").status_code == 200  # notes the use: a write
    begins.clear()
    api.clock.advance(seconds=30)
    assert api.read.get("/api/v1/token").status_code == 200
    assert "UPDATE api_token" not in begins, begins
    if sqlite:  # PostgreSQL's BEGIN takes no lock at all
        assert begins and "BEGIN IMMEDIATE" not in begins, begins
    api.clock.advance(minutes=1)
    begins.clear()
    assert api.read.get("/api/v1/token").status_code == 200
    assert "UPDATE api_token" in begins  # a minute later the use is noted again
    if sqlite:
        assert "BEGIN IMMEDIATE" in begins
