"""The provisioning API's application: routes, bearer auth, problem+json errors, the log.

Errors (RFC 9457): every refusal is ``application/problem+json`` with
``type`` (``urn:chakushin:problem:<code>``), ``title`` (the English line),
``status``, and chakushin's ``code``, ``field`` and ``params`` as the domain
layer raised them. A ``DomainError`` is 422, or 404 (``NotFound``) or 409
(``AlreadyExists``); a database that cannot answer is 503
(``store_unavailable``, its error logged, not shown) and a write that lost a
race to another writer's unique row is 409 (``conflict``); a body or query
that does not fit the schema is 422 ``invalid_request`` with the field.

Auth: ``Authorization: Bearer chk_...`` on every request. A missing, unknown
or revoked token is 401 (with ``WWW-Authenticate: Bearer``); a read token on
a write is 403. Failed tokens are counted per client address (the TCP peer: no
header is trusted) and the address gets 429 (with ``Retry-After``) for the rest
of the minute after ``auth_failures_per_minute``, even with a good token: a
guesser learns nothing more that minute. The minute is the injected clock's
(``ApiDeps.clock``), so tests move time instead of waiting. Every request is
logged as ``api_request`` with the token's name (None before a token was
accepted), the method, path, status, client address and time taken; a bug in
an endpoint is a 500 problem (``internal_error``) and an ``api_error`` event
with the traceback, never the stack in the response.

The OpenAPI 3.1 document is served at ``/api/v1/openapi.json`` without a
token; ``openapi_document`` is the same one without a node (``chakushin api
openapi``, the checked-in ``docs/openapi.json``).
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from store import api_tokens, db
from store.errors import Coded
from web.api.deps import ApiDeps, Caller, Reader
from web.api.paging import DEFAULT_LIMIT, MAX_LIMIT
from web.api.problems import (
    PROBLEM,
    PROBLEM_SCHEMA,
    RESPONSES,
    ApiProblem,
    Throttled,
    Unauthorized,
    problem,
    status_of,
)
from web.api.routes import (
    destinations,
    devices,
    history,
    lines,
    mail,
    numbers,
    outbox,
    phonebook,
    supplementary,
    support,
)
from web.limits import BodyLimit

log = structlog.get_logger("web.api")

PREFIX = "/api/v1"


class TokenOut(BaseModel):
    """The token a request came with (never its secret)."""

    name: str
    scope: Literal["read", "write"]


tokens = APIRouter(tags=["tokens"])


@tokens.get("/token", summary="The token this request came with: a check that it works.")
def current_token(api: Reader) -> TokenOut:
    return TokenOut(name=api.token.name, scope="write" if api.token.writes else "read")


ROUTERS: tuple[APIRouter, ...] = (
    tokens,
    lines.router,
    numbers.router,
    devices.router,
    mail.router,
    destinations.router,
    phonebook.router,
    supplementary.router,
    support.router,
    history.router,
    outbox.router,
)


class FailureCounter:
    """Failed tokens per client address in the current minute (thread-safe)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._minute: float = -1.0
        self._counts: collections.Counter[str] = collections.Counter()

    def _roll(self) -> None:
        minute = self.clock() // 60
        if minute != self._minute:
            self._minute = minute
            self._counts.clear()

    def blocked(self, peer: str) -> bool:
        with self._lock:
            self._roll()
            return self._counts[peer] >= self.limit

    def seconds_left(self) -> int:
        """Seconds until the counts start again (the ``Retry-After`` of a 429)."""
        return max(1, math.ceil(60 - self.clock() % 60))

    def failed(self, peer: str) -> None:
        with self._lock:
            self._roll()
            self._counts[peer] += 1


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="chk_ and 43 URL-safe characters",
    description="A token made by `chakushin api token create NAME --scope read|write`.",
)

DESCRIPTION = f"""\
The operator's provisioning API: lines, numbers and every setting the
`chakushin` CLI sets, through the same domain rules.

- **Auth**: `Authorization: Bearer <secret>` on every request but this
  document. A `read` token may GET; a `write` token may do everything.
  After `api.auth_failures_per_minute` failed tokens (20 unless set) from
  one address in a minute, that address gets 429 until the minute ends.
- **Errors** are RFC 9457 `application/problem+json`: `type`
  (`urn:chakushin:problem:<code>`), `title`, `status`, and chakushin's
  `code`, `field` and `params`. Nothing is changed by a refused request.
- **Lists** are pages: `?limit=` (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}) and
  `?cursor=` (the `next_cursor` of the page before; null on the last page).
- **PUT** sets a whole setting: the same body twice leaves the same state.
"""


# The largest request body read (a whole mail setting is about 5 KB): a larger one,
# declared or streamed, is refused before anything parses it (web.limits.BodyLimit).
MAX_BODY_BYTES = 64 * 1024

_BODY_REFUSALS = {
    "too_large": ("body_too_large", "the body is larger than the API takes"),
    "no_files": ("unsupported_media_type", "the API takes JSON bodies, not multipart"),
    "bad_length": ("bad_content_length", "Content-Length must be one number"),
}


# Issue 19 (BOOK-1): a whole phonebook (300 names and notes, \u-escaped) is larger.
PHONEBOOK_BODY_BYTES = 512 * 1024


def _body_limit(scope: Scope) -> int:
    path: str = scope.get("path", "")
    put = scope.get("method") == "PUT"
    if put and path.startswith(f"{PREFIX}/numbers/") and path.endswith("/phonebook"):
        return PHONEBOOK_BODY_BYTES
    return MAX_BODY_BYTES


async def _refuse_body(scope: Scope, status: int, kind: str) -> Response:
    code, title = _BODY_REFUSALS[kind]
    params = {"max": _body_limit(scope)} if kind == "too_large" else None
    return problem(status, code, title, params=params)


def create_api(deps: ApiDeps, routers: Sequence[APIRouter] = ROUTERS) -> FastAPI:
    """The API on ``deps``; ``routers`` (every area's by default) each under ``/api/v1``."""
    failures = FailureCounter(deps.auth_failures_per_minute, clock=lambda: deps.clock().timestamp())

    def authenticate(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        peer = request.client.host if request.client else "-"
        if failures.blocked(peer):
            raise Throttled(retry_after=failures.seconds_left())
        secret = credentials.credentials if credentials is not None else ""
        token = None
        if secret:
            now = deps.clock()
            # A read (no write lock on SQLite); the use is noted once a minute.
            with db.transaction(deps.sessions, read_only=True) as session:
                token = api_tokens.verify_token(session, secret, now=now, note_use=False)
            if token is not None and api_tokens.use_due(token, now):
                with db.transaction(deps.sessions) as session:
                    token = api_tokens.verify_token(session, secret, now=now)
        if token is None:
            failures.failed(peer)
            raise Unauthorized()
        request.state.caller = Caller(token, deps)

    app = FastAPI(
        title="chakushin provisioning API",
        version="1",
        summary="Lines, numbers and their settings, call history and the outbox of chakushin.",
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=RESPONSES,
    )
    for router in routers:
        app.include_router(router, prefix=PREFIX, dependencies=[Depends(authenticate)])

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem) -> Response:
        return problem(exc.status, exc.code, exc.title, headers=exc.headers())

    @app.exception_handler(Coded)
    async def _coded(_request: Request, exc: Coded) -> Response:
        status = status_of(exc)
        if status == 503:
            log.error("api_store_unavailable", error=exc.message)
        return problem(status, exc.code, exc.message, field=exc.field, params=exc.params)

    @app.exception_handler(SQLAlchemyError)
    async def _database(_request: Request, exc: SQLAlchemyError) -> Response:
        if isinstance(exc, IntegrityError):
            # A concurrent writer got there first; the schema's constraints held.
            return problem(409, "conflict", "the change conflicts with stored data; retry")
        log.error("api_store_unavailable", error=db.first_line(exc))
        return problem(503, "store_unavailable", "the database cannot answer now; retry later")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        return problem(
            422,
            "invalid_request",
            str(first.get("msg", "invalid request"))[:200],
            field=".".join(loc) or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (bytes that are not UTF-8 JSON): a body
            # that does not fit, as a JSON syntax error is (422 invalid_request).
            return problem(422, "invalid_request", "the body is not JSON text", field="body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail)[:200])

    @app.exception_handler(Exception)
    async def _bug(_request: Request, _exc: Exception) -> Response:
        # Reached for what no handler above took: a bug (logged by ``_log``).
        return problem(500, "internal_error", "internal error; see the server's log")

    @app.middleware("http")
    async def _log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        except Exception:
            log.exception("api_error", method=request.method, path=request.url.path[:200])
            raise
        finally:
            caller = getattr(request.state, "caller", None)
            log.info(
                "api_request",
                method=request.method,
                path=request.url.path[:200],
                status=status,
                token=caller.token.name if isinstance(caller, Caller) else None,
                peer=request.client.host if request.client else None,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return response

    # Outermost: the body is bounded before FastAPI reads it.
    app.add_middleware(
        BodyLimit,
        limit_for=_body_limit,
        takes_files=lambda _scope: False,
        refuse=_refuse_body,
    )
    _problems_as_problem_json(app)
    app.state.deps = deps
    return app


def _problems_as_problem_json(app: FastAPI) -> None:
    """Every error response of the document as ``application/problem+json`` (``Problem``).

    FastAPI puts a ``responses`` entry's model under the route's media type
    (``application/json``); the API sends its refusals as problem+json, so
    the document says that and nothing else for every status from 400 up.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if str(status)[0] in "45":
                            response["content"] = {PROBLEM: {"schema": PROBLEM_SCHEMA}}
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


async def _not_sent(_number: str, _address: str) -> Any:  # pragma: no cover - never called
    raise RuntimeError("the document's app sends no mail")


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document a full node serves (送信テスト offered), built without one.

    No database is opened: the schema is the code's. ``chakushin api openapi``
    prints it and ``docs/openapi.json`` is its checked-in copy.
    """
    deps = ApiDeps(sessionmaker(), send_test=_not_sent)
    return create_api(deps).openapi()
