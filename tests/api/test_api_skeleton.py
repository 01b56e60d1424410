"""The API's frame (issue 18): bearer auth and problem+json, before any endpoint."""

from __future__ import annotations

from tests.api.conftest import Api


def test_issue18_api_without_token_is_401_problem(api: Api) -> None:
    r = api.anon.get("/api/v1/openapi.json")
    assert r.status_code == 200  # the document itself is public
    r = api.anon.get("/api/v1/numbers")
    assert r.status_code in (401, 404)
    assert r.headers["content-type"].startswith("application/problem+json")
