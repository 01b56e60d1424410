"""Alembic migrations: they build exactly the models' schema, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from store import db
from store.errors import DomainError, StoreUnavailable
from store.models import Base


def test_migrations_build_exactly_the_models(empty_db: Engine) -> None:
    db.upgrade(empty_db)
    with empty_db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrations_downgrade_to_empty_and_up_again(empty_db: Engine) -> None:
    db.upgrade(empty_db)
    db.upgrade(empty_db, "head")  # idempotent
    from alembic import command

    command.downgrade(db.alembic_config(empty_db), "base")
    assert set(sa.inspect(empty_db).get_table_names()) <= {"alembic_version"}
    db.upgrade(empty_db)
    assert db.current_revision(empty_db) == db.head_revision(empty_db)


def test_ensure_schema_creates_an_empty_database(empty_db: Engine) -> None:
    assert db.current_revision(empty_db) is None
    db.ensure_schema(empty_db)
    assert db.current_revision(empty_db) == db.head_revision(empty_db)
    assert {"line", "number", "outbox_mail", "decision"} <= set(
        sa.inspect(empty_db).get_table_names()
    )


def test_ensure_schema_refuses_an_unknown_revision(empty_db: Engine) -> None:
    db.upgrade(empty_db)
    with empty_db.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    with pytest.raises(db.DatabaseError, match="newer chakushin"):
        db.ensure_schema(empty_db)


def test_unreachable_database_gives_a_clear_error(tmp_path: Path) -> None:
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(db.DatabaseError, match="cannot open database") as err:
        db.ensure_schema(engine)
    assert err.value.code == "database_unavailable"


def test_issue13_a_database_error_is_store_unavailable_not_a_domain_refusal(
    tmp_path: Path,
) -> None:
    """One StoreUnavailable for every flow: what catches a refusal does not catch this."""
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailable) as err:
        db.ensure_schema(engine)
    assert isinstance(err.value, db.DatabaseError)
    assert isinstance(err.value, ConnectionError)  # the built-in it resembles
    assert isinstance(err.value, RuntimeError)  # as before
    assert not isinstance(err.value, DomainError)
    shown = err.value.as_dict()
    assert shown["error"] == "database_unavailable" and shown["field"] is None
    assert shown["message"] == err.value.message and "cannot open database" in err.value.message
    with pytest.raises(StoreUnavailable) as bad_url:
        db.parse_url("not a url")
    assert (bad_url.value.code, bad_url.value.field) == ("database_url", "database.url")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", "is not a URL"),
        ("mysql://root@localhost/x", "not supported"),
        ("oracle://x", "not supported"),
    ],
)
def test_bad_database_url_is_refused_before_connecting(url: str, words: str) -> None:
    with pytest.raises(db.DatabaseError, match=words):
        db.parse_url(url)


def test_plain_postgresql_url_uses_psycopg3() -> None:
    assert db.parse_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


def test_head_revision_constant_matches_the_migrations(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert db.head_revision(engine) == db.HEAD_REVISION, "update store.db.HEAD_REVISION"
