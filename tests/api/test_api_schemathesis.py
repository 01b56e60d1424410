"""Issue 18: a property-based run of the whole API against its own OpenAPI document.

schemathesis (v4) reads the document the API serves (``/api/v1/openapi.json``
over ASGI) and, for every operation, generates requests from its schemas
(hypothesis, derandomized: the same cases every run) with a write token, on
a database seeded with a line, numbers, addresses, a device name and calls,
half of them aimed at the stored keys so that paths reach real numbers too.
Each response is checked: no 5xx, the status code documented, the content
type documented, the body valid against the documented schema.

Two passes. First every write of ``VALID`` gets one request a subscriber's
system would send (a valid body on the seeded keys, in the run's order), and
each must succeed: generated bodies almost never hold a stored contract
number or a phonebook caller, and one generated ``PUT .../services`` that
drops the mail service turns every later mail write into a 422, so without
this pass most writes would be checked on their refusals only. Then the
generated cases of every operation.

Bounded: ``MAX_EXAMPLES`` cases per operation and kind, no deadline, the
too-slow health check off (the database is real).
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from store import api_tokens, db, destinations, phonebook, service
from store.models import CallOutcome, ChatKind, Presentation
from tests.builders import Clock
from web.api.app import create_api
from web.api.deps import ApiDeps, Reader

START = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)
CONTRACT, EXTRA, THIRD = "0312345678", "0312345679", "0312345680"
INTERFACE = "PJSIP/201"
MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The stored keys a path may name (the rest of each case is generated).
KNOWN = {
    "contract_number": CONTRACT,
    "number": EXTRA,
    "interface": INTERFACE,
    "position": 1,
    "caller": "0398765432",
}
HOOK = "https://hooks.example.com/in/chakushin"
# The first pass: per operation, the path (over KNOWN) and the body of a request that
# must succeed, in the run's order (the POSTs make what the DELETEs remove).
VALID: dict[str, tuple[dict[str, Any], Any]] = {
    "PUT /api/v1/numbers/{number}": ({}, {"contract_number": CONTRACT}),
    "PUT /api/v1/numbers/{number}/services": (
        {},
        {"services": ["mail", "number_request", "voice_warp", "nuisance"]},
    ),
    "PUT /api/v1/numbers/{number}/mail": (
        {},
        {
            "started": True,
            "unanswered_only": True,
            "designated_only": False,
            "addresses": [{"address": "boss@example.jp"}, {"address": "desk@example.jp"}],
            "designated_numbers": [{"caller_number": "03-9876-5432"}],
        },
    ),
    "POST /api/v1/numbers/{number}/mail/test": ({}, {"address": "boss@example.jp"}),
    "POST /api/v1/numbers/{number}/destinations": (
        {},
        {"kind": "slack", "url": "https://hooks.slack.com/services/T01/B02/abc", "label": "受付"},
    ),
    "PATCH /api/v1/numbers/{number}/destinations/{position}": ({}, {"send": False}),
    "POST /api/v1/numbers/{number}/destinations/{position}/rotate-secret": ({}, None),
    "POST /api/v1/numbers/{number}/destinations/{position}/test": ({"position": 2}, None),
    "PUT /api/v1/numbers/{number}/phonebook": (
        {},
        [
            {"caller_number": "0398765432", "name": "山田商事"},
            {"caller_number": "0311112222", "name": "迷惑", "note": "営業電話"},
        ],
    ),
    "POST /api/v1/numbers/{number}/phonebook": (
        {},
        {"caller_number": "090-1234-5678", "name": "田中"},
    ),
    "PATCH /api/v1/numbers/{number}/phonebook/{caller}": ({}, {"note": "取引先"}),
    "POST /api/v1/numbers/{number}/nuisance": ({}, {"caller_number": "0355556666"}),
    "PUT /api/v1/numbers/{number}/nuisance": (
        {},
        {"caller_numbers": ["0311112222", "0355556666"]},
    ),
    "PUT /api/v1/numbers/{number}/number-request": (
        {},
        {"enabled": True, "reject_payphone": True, "reject_unavailable": False},
    ),
    "PUT /api/v1/numbers/{number}/voice-warp": (
        {},
        {"enabled": True, "mode": "no_answer", "destination": "09011112222", "ring_seconds": 20},
    ),
    "POST /api/v1/numbers/{number}/temp-password": ({}, {"unit": "number"}),
    "DELETE /api/v1/numbers/{number}/destinations/{position}": ({"position": 2}, None),
    "DELETE /api/v1/numbers/{number}/phonebook/{caller}": ({"caller": "09012345678"}, None),
    "DELETE /api/v1/numbers/{number}/nuisance/{position}": ({"position": 2}, None),
    "DELETE /api/v1/numbers/{number}": ({"number": THIRD}, None),
}


@dataclass(frozen=True)
class Sent:
    ok: bool = True
    permanent: bool = False
    reply: str = "250 2.0.0 queued"
    answered: bool = True


async def _send_test(_number: str, _address: str) -> Sent:
    return Sent()


async def _chat_send_test(_number: str, _position: int) -> Sent:
    return Sent(reply="HTTP 200 OK: ok")


def _seed(sessions: sessionmaker[Session], clock: Clock) -> str:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, THIRD, timezone="Asia/Tokyo")
        for address in ("boss@example.jp", "desk@example.jp"):
            service.add_address(s, EXTRA, address)
        service.start_mail(s, EXTRA)
        service.add_designated(s, EXTRA, "0398765432")
        service.add_nuisance(s, EXTRA, "0311112222")
        service.name_device(s, INTERFACE, "受付")
        phonebook.add_entry(s, EXTRA, "0398765432", "山田商事")
        destinations.add_destination(s, EXTRA, ChatKind.WEBHOOK, url=HOOK, now=clock())
        _, secret = api_tokens.create_token(s, "schemathesis", "write", now=clock())
    decided = [
        service.CallDecision(
            linkedid=f"call-{i}",
            subscriber_number=EXTRA,
            caller_number="0398765432" if i % 2 == 0 else "",
            presentation=Presentation.ALLOWED if i % 2 == 0 else Presentation.WITHHELD,
            outcome=CallOutcome.UNANSWERED if i % 2 == 0 else CallOutcome.ANSWERED,
            dial_status="NOANSWER" if i % 2 == 0 else "ANSWER",
            forward_dial_status="",
            started_at=clock() - dt.timedelta(minutes=i),
            ended_at=clock() - dt.timedelta(minutes=i) + dt.timedelta(seconds=20),
            mailed=i % 2 == 0,
            reason="notify" if i % 2 == 0 else "answered",
            rule="" if i % 2 == 0 else "MAIL-4",
            mails=(
                [service.QueuedMail("boss@example.jp", "s", f"call-{i}:b", f"<call-{i}@x>")]
                if i % 2 == 0
                else []
            ),
            answered_by="" if i % 2 == 0 else INTERFACE,
            answered_name="",
        )
        for i in range(4)
    ]
    with db.transaction(sessions) as s:
        service.record_call_decisions(s, decided, now=clock())
    return secret


@pytest.fixture
def served(sessions: sessionmaker[Session]) -> Iterator[tuple[Any, str]]:
    clock = Clock(START)
    secret = _seed(sessions, clock)
    deps = ApiDeps(
        sessions,
        clock=clock,
        new_temp_password=lambda: "24681357",
        send_test=_send_test,
        chat_send_test=_chat_send_test,
        # Negative cases drop or spoil the token (401, documented); with the clock
        # standing still, the default limit would answer 429 to the whole rest of the run.
        auth_failures_per_minute=1_000_000,
    )
    app = create_api(deps)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    yield schema, secret


def _strategy(operation: Any) -> st.SearchStrategy[Any]:
    """Cases of ``operation``: valid by the schema and not (negative: a wrong type, a value
    too long, a field missing or unknown), wholly generated or with the stored keys in
    its path."""
    names = {p.name for p in operation.path_parameters}
    known = {n: KNOWN[n] for n in names if n in KNOWN}
    kinds = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        if known:
            kinds.append(operation.as_strategy(generation_mode=mode, path_parameters=known))
        kinds.append(operation.as_strategy(generation_mode=mode))
    return st.one_of(kinds)


def _order(operation: Any) -> tuple[int, int]:
    """Reads, then writes, then deletes, the line's last: the seeded keys live longest."""
    method = operation.method.upper()
    if method != "DELETE":
        return (0 if method == "GET" else 1, 0)
    return (2, -operation.path.count("/"))  # /numbers/{n}/nuisance/{p} before /numbers/{n}


Statuses = dict[str, collections.Counter[int]]


def _run(
    schema: Any, secret: str, statuses: Statuses | None = None, valid: bool = False
) -> tuple[int, list[str]]:
    """Every operation of ``schema``, in ``_order``: how many, and each one's first failure;
    with ``valid``, the ``VALID`` pass first."""
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    headers = {"Authorization": f"Bearer {secret}"}
    seen: Statuses = statuses if statuses is not None else {}
    failures = [_run_valid(operations, headers, seen)] if valid else []
    failures += [_run_operation(operation, headers, seen) for operation in operations]
    return len(operations), [f for f in failures if f is not None]


def _run_valid(operations: list[Any], headers: dict[str, str], seen: Statuses) -> str | None:
    """The first pass: each ``VALID`` request answered 2xx and conforming; the failures."""
    failures = []
    labels = {operation.label for operation in operations}
    assert set(VALID) <= labels, set(VALID) - labels
    for operation in operations:
        if operation.label not in VALID:
            continue
        path, body = VALID[operation.label]
        names = {p.name for p in operation.path_parameters}
        parameters = {n: KNOWN[n] for n in names} | path
        case = (
            operation.Case(path_parameters=parameters)
            if body is None
            else operation.Case(
                path_parameters=parameters, body=body, media_type="application/json"
            )
        )
        response = case.call(headers=headers)
        seen.setdefault(operation.label, collections.Counter())[response.status_code] += 1
        try:
            assert 200 <= response.status_code < 300, response.text
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - each one is reported
            failures.append(f"{operation.label} (valid): {_described(exc)}"[:3000])
    return "\n".join(failures) or None


def _run_operation(operation: Any, headers: dict[str, str], seen: Statuses) -> str | None:
    """``MAX_EXAMPLES`` cases of ``operation``, each response checked; the failure, if any."""
    last: list[Any] = []

    @given(case=_strategy(operation))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        # No shrinking: the run stays bounded; the failure names its request.
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: Any) -> None:
        last[:] = [case]
        response = case.call(headers=headers)
        seen.setdefault(operation.label, collections.Counter())[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - each one is reported
        # Not shrunk: the last case run is the one that failed (its request, no token).
        request = last[0].as_curl_command() if last else "?"
        return f"{operation.label}: {_described(exc)}\n  {request}"[:3000]
    return None


def _described(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_described(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}".strip()


def test_issue18_api_schemathesis_every_operation_conforms(served: tuple[Any, str]) -> None:
    schema, secret = served
    statuses: Statuses = {}
    count, failures = _run(schema, secret, statuses, valid=True)
    assert count > 20
    # The run reached the endpoints: never throttled, and most operations (reads and
    # writes of the seeded keys) succeeded at least once, not only refused.
    assert not any(c[429] for c in statuses.values()), statuses
    succeeded = [label for label, c in statuses.items() if any(200 <= s < 300 for s in c)]
    assert len(succeeded) >= count * 2 // 3, {k: dict(v) for k, v in statuses.items()}
    assert not failures, "\n\n".join(failures)


class Out(BaseModel):
    n: int


broken = APIRouter(tags=["broken"])


@broken.get("/broken/bug")
def bug(api: Reader) -> Out:
    raise RuntimeError("a bug")


@broken.get("/broken/schema")
def wrong_body(api: Reader) -> Out:
    return JSONResponse({"n": "not a number"})  # type: ignore[return-value]


@broken.get("/broken/status")
def wrong_status(api: Reader) -> Out:
    return JSONResponse({"n": 1}, status_code=202)  # type: ignore[return-value]


@broken.get("/broken/type")
def wrong_type(api: Reader) -> Out:
    return PlainTextResponse("n=1")  # type: ignore[return-value]


def test_issue18_api_schemathesis_run_finds_what_it_checks(
    sessions: sessionmaker[Session],
) -> None:
    """The run itself: a 500, a body against its schema, an undocumented status and
    content type are each reported (else a clean run would prove nothing)."""
    clock = Clock(START)
    with db.transaction(sessions) as s:
        _, secret = api_tokens.create_token(s, "schemathesis", "read", now=clock())
    app = create_api(ApiDeps(sessions, clock=clock), routers=[broken])
    with capture_logs():  # the bug's api_error, kept from the console renderer (slow)
        count, failures = _run(schemathesis.openapi.from_asgi("/api/v1/openapi.json", app), secret)
    assert count == 4
    found = "\n".join(failures)
    assert len(failures) == 4, found
    for label, words in (
        ("GET /api/v1/broken/bug", "a bug"),  # the ASGI transport raises the app's error
        ("GET /api/v1/broken/schema", "schema"),
        ("GET /api/v1/broken/status", "202"),
        ("GET /api/v1/broken/type", "text/plain"),
    ):
        [failure] = [f for f in failures if f.startswith(label + ":")]
        assert words in failure, failure
