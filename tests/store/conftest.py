"""Fixtures of the store tests, which run on both databases through ``sessions``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from tests.builders import E1, E2, TZ, C, N
from tests.conftest import BACKENDS, PG_ADMIN_URL


@pytest.fixture
def line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A line in line unit: the contract number C, E1 and E2 with the mail service, N without."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_number(s, C, E2, timezone=TZ)
        service.add_number(s, C, N, timezone=TZ, services=())
    return sessions


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all (the migration tests upgrade it)."""
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'fresh' / 'chakushin.db'}")
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails in CI) without a server
    name = f"chakushin_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = db.make_engine(make_url(PG_ADMIN_URL).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
