"""The API's request bodies are bounded before anything parses them (issue 18).

A whole mail setting is about 5 KB; the largest body the API takes. Before,
a 48 MB body was read whole and parsed into millions of objects before the
schema refused it. Now a declared or streamed body over ``MAX_BODY_BYTES``
is a 413 problem and nothing is written; the limit is documented.
"""

from __future__ import annotations

from collections.abc import Iterator

from tests.api.conftest import Api
from web.api.app import MAX_BODY_BYTES, openapi_document

NUMBER = "0312345678"


def _line(api: Api) -> None:
    r = api.write.put(f"/api/v1/lines/{NUMBER}", json={})
    assert r.status_code in (200, 201), r.text


def test_issue18_api_body_over_the_limit_is_413_problem_and_changes_nothing(api: Api) -> None:
    _line(api)
    before = api.state()
    padding = "x" * (MAX_BODY_BYTES + 1)
    r = api.write.put(
        f"/api/v1/numbers/{NUMBER}/mail",
        content=('{"started": false, "pad": "' + padding + '"}').encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "body_too_large"
    assert r.json()["params"] == {"max": MAX_BODY_BYTES}
    assert api.state() == before


def test_issue18_api_streamed_body_over_the_limit_is_413(api: Api) -> None:
    _line(api)

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    r = api.write.put(
        f"/api/v1/numbers/{NUMBER}/mail",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


def test_issue18_api_body_within_the_limit_still_works(api: Api) -> None:
    _line(api)
    body = {
        "started": True,
        "unanswered_only": False,
        "designated_only": False,
        "addresses": [{"address": f"desk{i}@example.jp", "send": True} for i in range(5)],
        "designated_numbers": [],
    }
    r = api.write.put(f"/api/v1/numbers/{NUMBER}/mail", json=body)
    assert r.status_code == 200, r.text


def test_issue18_api_document_says_413() -> None:
    for operations in openapi_document()["paths"].values():
        for operation in operations.values():
            assert "413" in operation["responses"]
