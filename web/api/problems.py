"""The API's refusals as RFC 9457 problems (``application/problem+json``).

``type`` is ``urn:chakushin:problem:<code>``, ``title`` the English line, and
``code``, ``field`` and ``params`` are the domain layer's own, so a client
can act on a refusal without reading its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from store.errors import AlreadyExists, Coded, NotFound, StoreUnavailable

PROBLEM = "application/problem+json"
# Every error response's schema in the document (``app`` moves it under PROBLEM).
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


class Problem(BaseModel):
    """An RFC 9457 problem, with chakushin's code, field and params."""

    type: str
    title: str
    status: int
    code: str
    field: str | None = None
    params: dict[str, str | int | list[str]] = {}
    detail: str | None = None


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM: {}}}


# Documented on every endpoint: the schema says what each refusal looks like.
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("A Content-Length that is not one number."),
    401: _problem_response("No valid bearer token."),
    403: _problem_response("The token may only read."),
    404: _problem_response("No such line, number or item."),
    409: _problem_response("It exists already, or conflicts with what is stored."),
    413: _problem_response(
        "The body is larger than the API takes (64 KiB; a whole phonebook's PUT 512 KiB; "
        "``params.max`` says which); nothing was read."
    ),
    415: _problem_response("A multipart body: the API takes JSON."),
    422: _problem_response("A value breaks a rule; nothing was changed."),
    429: _problem_response("Too many failed tokens from this address; wait a minute."),
    503: _problem_response("The database cannot answer now; nothing was changed."),
}


class ApiProblem(Exception):
    status = 400
    code = "bad_request"
    title = "bad request"

    def __init__(self, title: str | None = None) -> None:
        super().__init__(title or self.title)
        if title is not None:
            self.title = title

    def headers(self) -> dict[str, str] | None:
        return None


class Unauthorized(ApiProblem):
    status, code, title = 401, "unauthorized", "a valid bearer token is needed"

    def headers(self) -> dict[str, str]:
        # RFC 6750 3: the scheme the client should use.
        return {"WWW-Authenticate": 'Bearer realm="chakushin"'}


class Forbidden(ApiProblem):
    status, code, title = 403, "forbidden", "this token may only read"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="chakushin", error="insufficient_scope"'}


class Throttled(ApiProblem):
    status, code, title = 429, "too_many_failures", "too many failed tokens; wait a minute"

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__()
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def problem(
    status: int,
    code: str,
    title: str,
    *,
    field: str | None = None,
    params: Mapping[str, object] | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:chakushin:problem:{code}",
        title=title,
        status=status,
        code=code,
        field=field,
        params={k: list(v) if isinstance(v, tuple) else v for k, v in (params or {}).items()},  # type: ignore[misc]
        detail=detail,
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM, headers=dict(headers or {})
    )


def status_of(exc: Coded) -> int:
    if isinstance(exc, StoreUnavailable):
        return 503
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyExists):
        return 409
    return 422
