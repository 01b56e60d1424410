"""Issue 18: the API's OpenAPI 3.1 document, as served and as checked in (``docs/openapi.json``).

The document is FastAPI's, from the endpoints' pydantic models; these checks
keep it true to what the API does: 3.1, bearer auth on every operation,
every refusal documented as ``application/problem+json`` (``Problem``), every
request body closed to unknown fields with its strings and lists bounded, and
the checked-in copy equal to what the code serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from web.api.app import create_api, openapi_document
from web.api.deps import ApiDeps
from web.api.problems import PROBLEM, RESPONSES

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "regenerate with: chakushin api openapi > docs/openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_issue18_openapi_is_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] == "chakushin provisioning API"
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert len(list(_operations(document))) > 1


def test_issue18_openapi_every_operation_needs_a_bearer_token(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in _operations(document):
        assert operation.get("security") == [{"HTTPBearer": []}], (method, path)


def test_issue18_openapi_every_refusal_is_documented_as_problem_json(
    document: dict[str, Any],
) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        missing = {str(s) for s in RESPONSES} - set(responses)
        assert not missing, (method, path, missing)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {
                    PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (method, path, status)
            else:
                assert status[0] == "2", (method, path, status)


def test_issue18_openapi_every_success_says_what_it_returns(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] == "2" and status != "204":
                schema = response["content"]["application/json"]["schema"]
                assert schema not in ({}, {"type": "object"}), (method, path, status)


def _bounded(document: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    """What in a request schema is unbounded: an open object, a string or list without a max."""
    schema = _schema(document, schema)
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from _bounded(document, option, where)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            yield f"{where}: unknown fields are not refused"
        for name, sub in schema.get("properties", {}).items():
            yield from _bounded(document, sub, f"{where}.{name}")
    elif kind == "string" and "enum" not in schema and "const" not in schema:
        if "maxLength" not in schema:
            yield f"{where}: a string without maxLength"
    elif kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: a list without maxItems"
        yield from _bounded(document, schema.get("items", {}), f"{where}[]")


def test_issue18_openapi_request_bodies_and_parameters_are_bounded(
    document: dict[str, Any],
) -> None:
    """Every value from outside has a length and count limit (RULES: DESIGN18 conventions)."""
    found: list[str] = []
    bodies = 0
    for method, path, operation in _operations(document):
        body = operation.get("requestBody")
        if body is not None:
            bodies += 1
            schema = body["content"]["application/json"]["schema"]
            found += _bounded(document, schema, f"{method.upper()} {path} body")
        for parameter in operation.get("parameters", []):
            where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
            found += _bounded(document, parameter["schema"], where)
    assert bodies, "no request body found: the check would say nothing"
    assert not found, "\n".join(found)
    # The check itself: an open object, an unbounded string and list are each found.
    loose = {"type": "object", "properties": {"s": {"type": "string"}, "l": {"type": "array"}}}
    assert len(list(_bounded(document, loose, "x"))) == 3


def test_issue18_openapi_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))


def test_issue18_openapi_served_document_is_the_printed_one(
    sessions: sessionmaker[Session], document: dict[str, Any]
) -> None:
    async def never(_number: str, _address: str) -> Any:
        raise AssertionError("no mail is sent")

    app = create_api(ApiDeps(sessions, send_test=never))
    with TestClient(app) as anon:  # no token: the document is public
        served = anon.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == document


def test_issue18_openapi_checked_in_copy_is_current(document: dict[str, Any]) -> None:
    assert CHECKED_IN.exists(), f"docs/openapi.json is missing; {REGENERATE}"
    checked_in = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    assert checked_in == document, (
        f"docs/openapi.json differs from the API's document; {REGENERATE}"
    )
