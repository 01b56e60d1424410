"""Fixtures of the API tests: the app on both databases, a read and a write token, a clock.

``api.write`` / ``api.read`` are clients that send a write-scope / read-scope
token; ``api.anon`` sends none. ``api.state()`` is every row of the database,
for "a refusal changes nothing" checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from store import api_tokens, db
from tests.builders import Clock, snapshot
from web.api.app import create_api
from web.api.deps import ApiDeps

START = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)
TEMP = "24681357"


@dataclass
class Api:
    write: TestClient
    read: TestClient
    anon: TestClient
    sessions: sessionmaker[Session]
    clock: Clock
    deps: ApiDeps
    write_secret: str
    read_secret: str

    def state(self) -> dict[str, list[tuple[object, ...]]]:
        """Every row but the tokens' (each request notes its token's use)."""
        found = snapshot(self.sessions.kw["bind"])
        found.pop("api_token", None)
        return found


def client(app: object, secret: str | None) -> TestClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return TestClient(app, headers=headers, raise_server_exceptions=False)  # type: ignore[arg-type]


@pytest.fixture
def api(sessions: sessionmaker[Session]) -> Iterator[Api]:
    clock = Clock(START)
    with db.transaction(sessions) as s:
        _, write_secret = api_tokens.create_token(s, "provisioner", "write", now=clock())
        _, read_secret = api_tokens.create_token(s, "dashboard", "read", now=clock())
    deps = ApiDeps(sessions, clock=clock, new_temp_password=lambda: TEMP)
    app = create_api(deps)
    with client(app, write_secret) as w, client(app, read_secret) as r, client(app, None) as a:
        yield Api(w, r, a, sessions, clock, deps, write_secret, read_secret)
