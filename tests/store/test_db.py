"""Transactions: writers exclude each other, readers never wait for a writer."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.errors import DomainError, StoreUnavailable

CONTRACT = "0312345678"


def test_a_reader_does_not_wait_for_a_writer(sessions: sessionmaker[Session]) -> None:
    """On SQLite a read-only transaction takes no write lock (WAL snapshot)."""
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
    with db.transaction(sessions) as writer:
        service.add_address(writer, CONTRACT, "pending@example.jp")
        # The writer still holds its transaction open here.
        with db.transaction(sessions, read_only=True) as reader:
            seen = service.describe_number(service.get_number(reader, CONTRACT))
        assert seen["mail"]["addresses"] == []  # the committed state, not the writer's
        assert db.current_revision(sessions.kw["bind"]) == db.HEAD_REVISION
    with db.transaction(sessions, read_only=True) as reader:
        shown = service.describe_number(service.get_number(reader, CONTRACT))
    assert [a["address"] for a in shown["mail"]["addresses"]] == ["pending@example.jp"]


def test_issue13_store_unavailable_speaks_like_a_domain_error() -> None:
    """The CLI and ``--json`` show both kinds alike: code, message, field."""
    err = StoreUnavailable("database is locked")
    assert (err.code, err.message, err.field, str(err)) == (
        "store_unavailable",
        "database is locked",
        None,
        "database is locked",
    )
    assert err.as_dict() == {
        "error": "store_unavailable",
        "message": "database is locked",
        "field": None,
    }
    named = StoreUnavailable("no file", code="database_damaged", field="database.url")
    assert named.as_dict()["error"] == "database_damaged" and named.field == "database.url"
    assert isinstance(err, ConnectionError) and not isinstance(err, DomainError)


def test_issue13_store_unavailable_is_worth_waiting_for_a_refusal_is_not() -> None:
    """``db.unavailable`` (the notifier keeps its work and waits) knows the one class."""
    assert db.unavailable(StoreUnavailable("database is locked"))
    assert db.unavailable(db.DatabaseError("cannot open database", code="database_unavailable"))
    assert not db.unavailable(DomainError("no such number", code="not_found"))
