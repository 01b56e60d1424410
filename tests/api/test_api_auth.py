"""Issue 18: the API's bearer auth, its refusals as RFC 9457 problems, and its request log.

On both backends. A probe router (a read, a write, a refusal of each kind, a
bug) is mounted the way every area's router is (``create_api(deps,
routers=...)``), so the frame is tested apart from the areas; every write
operation of the real API is then tried with a read token (403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, Body, FastAPI, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from store import api_tokens, db
from store.errors import AlreadyExists, InvalidInput, NotFound, StoreUnavailable
from tests.api.conftest import START, Api
from tests.builders import Clock
from web.api.app import ROUTERS, create_api, tokens
from web.api.deps import ApiDeps, Reader, Writer

PROBLEM = "application/problem+json"
LIMIT = 5  # auth_failures_per_minute of the probe app


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=10)


probe = APIRouter(tags=["probe"])


@probe.get("/probe")
def probe_read(api: Reader) -> dict[str, str]:
    return {"token": api.token.name, "now": api.now().isoformat()}


@probe.post("/probe")
def probe_write(api: Writer, body: Echo) -> dict[str, str]:
    return {"token": api.token.name, "text": body.text}


@probe.get("/probe/refuse")
def probe_refuse(api: Reader, kind: str = Query(max_length=20)) -> dict[str, str]:
    raise {
        "invalid": InvalidInput(
            "a bad value", code="probe_bad", field="thing", params={"max": 3, "numbers": ("1",)}
        ),
        "missing": NotFound("no such thing", code="probe_missing", field="number"),
        "exists": AlreadyExists("it exists", code="probe_exists", field="name"),
        "down": StoreUnavailable("the database is down", code="store_unavailable"),
        "race": IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        "bug": RuntimeError("a bug with a secret inside"),
    }[kind]


@probe.post("/probe/body")
def probe_body(api: Writer, text: str = Body(embed=True, max_length=5)) -> dict[str, str]:
    return {"text": text}


@dataclass
class Probe:
    app: FastAPI
    deps: ApiDeps
    clock: Clock
    sessions: sessionmaker[Session]
    write_secret: str
    read_secret: str

    def client(self, secret: str | None = None, *, peer: str = "192.0.2.1") -> TestClient:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return TestClient(
            self.app, headers=headers, raise_server_exceptions=False, client=(peer, 40000)
        )


@pytest.fixture
def probe_api(sessions: sessionmaker[Session]) -> Iterator[Probe]:
    clock = Clock(START)
    with db.transaction(sessions) as s:
        _, write_secret = api_tokens.create_token(s, "writer", "write", now=clock())
        _, read_secret = api_tokens.create_token(s, "reader", "read", now=clock())
    deps = ApiDeps(sessions, clock=clock, auth_failures_per_minute=LIMIT)
    yield Probe(
        create_api(deps, routers=[tokens, probe]), deps, clock, sessions, write_secret, read_secret
    )


def _is_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:chakushin:problem:{code}" and body["title"]
    return body


def _unauthorized(response: Any) -> None:
    _is_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- 401 ------------------------------------------------------------------------------------


def _revoked(probe: Probe) -> str:
    with db.transaction(probe.sessions) as s:
        _, secret = api_tokens.create_token(s, "gone", "write", now=probe.clock())
        api_tokens.revoke_token(s, "gone", now=probe.clock())
    return secret


@pytest.mark.parametrize(
    "authorization",
    [
        None,  # no header
        "",
        "Bearer",
        "Bearer ",
        "Basic d3JpdGVyOnNlY3JldA==",
        "bearer-ish chk_" + "A" * 43,
        "Bearer chk_" + "A" * 42,  # one short
        "Bearer chk_" + "A" * 44,  # one long
        "Bearer tok_" + "A" * 43,  # not our prefix
        "Bearer chk_" + "A" * 42 + "!",
        "Bearer chk_" + "A" * 10_000,
        "Bearer " + "x" * 7000,
        "Bearer chk_" + "A" * 43,  # well formed, unknown
        "REVOKED",
    ],
)
def test_issue18_api_refuses_missing_malformed_unknown_and_revoked_tokens(
    probe_api: Probe, authorization: str | None
) -> None:
    if authorization == "REVOKED":
        authorization = f"Bearer {_revoked(probe_api)}"
    headers = {} if authorization is None else {"Authorization": authorization}
    with probe_api.client() as anon:
        _unauthorized(anon.get("/api/v1/probe", headers=headers))
        _unauthorized(anon.post("/api/v1/probe", headers=headers, json={"text": "hi"}))


def test_issue18_api_a_secret_one_character_off_or_its_hash_is_refused(
    probe_api: Probe,
) -> None:
    good = probe_api.write_secret
    twisted = good[:-1] + ("A" if good[-1] != "A" else "B")
    digest = hashlib.sha256(good.encode()).hexdigest()
    with probe_api.client() as anon:
        for secret in (twisted, good.upper(), digest, f"chk_{digest[:43]}", good + "x"):
            _unauthorized(anon.get("/api/v1/probe", headers={"Authorization": f"Bearer {secret}"}))
    with probe_api.client(good, peer="192.0.2.99") as writer:  # 5 failures held the other back
        ok = writer.get("/api/v1/probe")
        assert ok.status_code == 200 and ok.json()["token"] == "writer"


def test_issue18_api_the_openapi_document_is_public(probe_api: Probe) -> None:
    with probe_api.client() as anon:
        document = anon.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.1")
    # No other document or page is served (no /docs, no /redoc).
    with probe_api.client() as anon:
        for path in ("/docs", "/redoc", "/api/v1/docs", "/", "/openapi.json"):
            _is_problem(anon.get(path), 404, "not_found")


def test_issue18_api_a_revoked_token_is_refused_at_the_next_request(probe_api: Probe) -> None:
    with probe_api.client(probe_api.write_secret) as writer:
        assert writer.get("/api/v1/token").json() == {"name": "writer", "scope": "write"}
        with db.transaction(probe_api.sessions) as s:
            api_tokens.revoke_token(s, "writer", now=probe_api.clock())
        _unauthorized(writer.get("/api/v1/token"))


# --- 403 ------------------------------------------------------------------------------------


def test_issue18_api_a_read_token_reads_and_may_not_write(probe_api: Probe) -> None:
    with probe_api.client(probe_api.read_secret) as reader:
        assert reader.get("/api/v1/probe").json()["token"] == "reader"
        assert reader.get("/api/v1/token").json() == {"name": "reader", "scope": "read"}
        refused = reader.post("/api/v1/probe", json={"text": "hi"})
        _is_problem(refused, 403, "forbidden")
        assert "insufficient_scope" in refused.headers["www-authenticate"]
        # Refused before the body is looked at: a bad body is 403 too, not 422.
        _is_problem(reader.post("/api/v1/probe", json={"nope": 1}), 403, "forbidden")
    with probe_api.client(probe_api.write_secret) as writer:
        assert writer.post("/api/v1/probe", json={"text": "hi"}).json() == {
            "token": "writer",
            "text": "hi",
        }


def _filled(path: str) -> str:
    for name, value in (
        ("{contract_number}", "0312345678"),
        ("{number}", "0312345678"),
        ("{interface:path}", "PJSIP/201"),
        ("{interface}", "PJSIP%2F201"),
        ("{position}", "1"),
        ("{caller}", "0398765432"),  # issue 19: a phonebook entry
    ):
        path = path.replace(name, value)
    assert "{" not in path, path
    return path


def test_issue18_api_every_write_operation_refuses_a_read_token(api: Api) -> None:
    """Every PUT/POST/PATCH/DELETE of the areas takes ``Writer`` (the frame's 403)."""
    writes = [
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted((route.methods or set()) - {"GET", "HEAD"})
    ]
    assert writes, "no write operation found: the check would say nothing"
    before = api.state()
    for method, path in writes:
        response = api.read.request(method, "/api/v1" + _filled(path), json={})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden"
    assert api.state() == before


# --- 429 ------------------------------------------------------------------------------------


def test_issue18_api_failed_tokens_are_counted_per_address_429_after_the_limit(
    probe_api: Probe,
) -> None:
    bad = {"Authorization": "Bearer chk_" + "B" * 43}
    good = {"Authorization": f"Bearer {probe_api.write_secret}"}
    assert START.second == 0
    probe_api.clock.advance(seconds=29)  # 31 s left in this minute
    with probe_api.client(peer="192.0.2.7") as guesser, probe_api.client(peer="192.0.2.8") as other:
        for _ in range(LIMIT):
            _unauthorized(guesser.get("/api/v1/probe", headers=bad))
        # The limit is reached: refused before any token is looked at, even a good one.
        throttled = guesser.get("/api/v1/probe", headers=good)
        _is_problem(throttled, 429, "too_many_failures")
        assert throttled.headers["retry-after"] == "31"
        _is_problem(guesser.get("/api/v1/probe"), 429, "too_many_failures")
        # Another address is not held back by this one's failures.
        assert other.get("/api/v1/probe", headers=good).status_code == 200
        _unauthorized(other.get("/api/v1/probe", headers=bad))
        # The next minute starts again.
        probe_api.clock.advance(31)
        assert guesser.get("/api/v1/probe", headers=good).status_code == 200
        # Good requests do not count; failures spread over minutes never add up.
        for _ in range(LIMIT - 1):
            _unauthorized(guesser.get("/api/v1/probe", headers=bad))
        assert guesser.get("/api/v1/probe", headers=good).status_code == 200
        probe_api.clock.advance(60)
        for _ in range(LIMIT - 1):
            _unauthorized(guesser.get("/api/v1/probe", headers=bad))
        assert guesser.get("/api/v1/probe", headers=good).status_code == 200


def test_issue18_api_read_only_403_does_not_count_as_a_failed_token(probe_api: Probe) -> None:
    with probe_api.client(probe_api.read_secret) as reader:
        for _ in range(LIMIT + 2):
            _is_problem(reader.post("/api/v1/probe", json={"text": "x"}), 403, "forbidden")
        assert reader.get("/api/v1/probe").status_code == 200


# --- problems of the domain, the request and the database -------------------------------------


def test_issue18_api_domain_errors_are_problems_with_code_field_params(probe_api: Probe) -> None:
    with probe_api.client(probe_api.write_secret) as writer:

        def refused(kind: str) -> Any:
            return writer.get("/api/v1/probe/refuse", params={"kind": kind})

        body = _is_problem(refused("invalid"), 422, "probe_bad")
        assert body["title"] == "a bad value" and body["field"] == "thing"
        assert body["params"] == {"max": 3, "numbers": ["1"]}
        assert _is_problem(refused("missing"), 404, "probe_missing")["field"] == "number"
        assert _is_problem(refused("exists"), 409, "probe_exists")["field"] == "name"
        _is_problem(refused("down"), 503, "store_unavailable")
        _is_problem(refused("race"), 409, "conflict")
        with capture_logs() as logs:
            bug = refused("bug")
        body = _is_problem(bug, 500, "internal_error")
        assert "secret" not in bug.text and "Traceback" not in bug.text
        assert any(e["event"] == "api_error" for e in logs)


def test_issue18_api_a_request_that_breaks_the_schema_is_422_with_the_field(
    probe_api: Probe,
) -> None:
    with probe_api.client(probe_api.write_secret) as writer:
        for sent, field in (
            ({"text": "x" * 11}, "text"),  # too long
            ({"text": 5}, "text"),  # wrong type
            ({}, "text"),  # missing
            ({"text": "ok", "extra": 1}, "extra"),  # unknown field
        ):
            body = _is_problem(writer.post("/api/v1/probe", json=sent), 422, "invalid_request")
            assert body["field"] == field, (sent, body)
        not_json = writer.post(
            "/api/v1/probe", content=b"{not json", headers={"content-type": "application/json"}
        )
        _is_problem(not_json, 422, "invalid_request")
        not_utf8 = writer.post(
            "/api/v1/probe",
            content=b'{"text": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert _is_problem(not_utf8, 422, "invalid_request")["field"] == "body"
        body = _is_problem(
            writer.get("/api/v1/probe/refuse", params={"kind": "k" * 21}), 422, "invalid_request"
        )
        assert body["field"] == "kind"
        assert _is_problem(writer.delete("/api/v1/probe"), 405, "method_not_allowed")
        _is_problem(writer.get("/api/v1/nothing-here"), 404, "not_found")


def test_issue18_api_a_database_that_cannot_answer_is_503_not_401(tmp_path: Any) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'chakushin.db'}")
    app = create_api(ApiDeps(db.session_factory(engine)), routers=[tokens])
    with TestClient(
        app,
        headers={"Authorization": "Bearer chk_" + "A" * 43},
        raise_server_exceptions=False,
    ) as c:
        with capture_logs() as logs:
            _is_problem(c.get("/api/v1/token"), 503, "store_unavailable")
        assert any(e["event"] == "api_store_unavailable" for e in logs)
    engine.dispose()


# --- the log and the token's use ---------------------------------------------------------------


def test_issue18_api_every_request_is_logged_with_its_token_name(probe_api: Probe) -> None:
    with (
        probe_api.client(probe_api.write_secret) as writer,
        probe_api.client(probe_api.read_secret) as reader,
        probe_api.client("chk_" + "C" * 43) as stranger,
        capture_logs() as logs,
    ):
        writer.post("/api/v1/probe", json={"text": "hi"})
        reader.post("/api/v1/probe", json={"text": "hi"})
        stranger.get("/api/v1/probe")
        writer.get("/api/v1/probe/refuse", params={"kind": "missing"})
    requests = [e for e in logs if e["event"] == "api_request"]
    assert [(e["method"], e["path"], e["status"], e["token"]) for e in requests] == [
        ("POST", "/api/v1/probe", 200, "writer"),
        ("POST", "/api/v1/probe", 403, "reader"),
        ("GET", "/api/v1/probe", 401, None),
        ("GET", "/api/v1/probe/refuse", 404, "writer"),
    ]
    assert all(e["peer"] == "192.0.2.1" and e["ms"] >= 0 for e in requests)
    shown = repr(logs)
    for secret in (probe_api.write_secret, probe_api.read_secret, "C" * 43):
        assert secret not in shown


def test_issue18_api_notes_when_a_token_was_last_used_to_the_minute(probe_api: Probe) -> None:
    def last_used() -> dt.datetime | None:
        with db.transaction(probe_api.sessions, read_only=True) as s:
            [found] = [t for t in api_tokens.list_tokens(s) if t.name == "writer"]
            return found.last_used_at

    assert last_used() is None
    with probe_api.client(probe_api.write_secret) as writer:
        writer.get("/api/v1/probe")
        assert last_used() == START
        probe_api.clock.advance(seconds=59)
        writer.get("/api/v1/probe")
        assert last_used() == START  # not rewritten by every request
        probe_api.clock.advance(seconds=1)
        writer.get("/api/v1/probe")
        assert last_used() == START + dt.timedelta(minutes=1)


def test_issue18_api_endpoints_get_the_injected_clock(probe_api: Probe) -> None:
    probe_api.clock.advance(days=365)
    with probe_api.client(probe_api.read_secret) as reader:
        assert (
            reader.get("/api/v1/probe").json()["now"]
            == (START + dt.timedelta(days=365)).isoformat()
        )


def test_issue18_api_fixture_clients_carry_their_tokens(api: Api) -> None:
    assert api.write.get("/api/v1/token").json() == {"name": "provisioner", "scope": "write"}
    assert api.read.get("/api/v1/token").json() == {"name": "dashboard", "scope": "read"}
    _unauthorized(api.anon.get("/api/v1/token"))
