"""Fixtures of the store tests, which run on both databases through ``sessions``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from tests.builders import E1, E2, TZ, C, N


@pytest.fixture
def line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A line in line unit: the contract number C, E1 and E2 with the mail service, N without."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_number(s, C, E2, timezone=TZ)
        service.add_number(s, C, N, timezone=TZ, services=())
    return sessions
