"""Issue 18 API: hostile requests found by probing the built API, on both databases.

Each was a 5xx (the database refused what the API handed it, answered as if
it were down) where the request was only a bad value: now the request's 422
with nothing changed.
"""

from __future__ import annotations

import base64

import pytest

from tests.api.conftest import Api

CONTRACT = "0312345678"


def _problem(api: Api, path: str, params: dict[str, str]) -> dict[str, object]:
    before = api.state()
    r = api.read.get(path, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = r.json()
    assert api.state() == before
    return body


@pytest.mark.parametrize("interface", ["\x00", "PJSIP/201\x00", "PJSIP/\x1b[2J", "PJSIP/\x7f"])
def test_issue18_a_device_label_cursor_of_a_control_character_is_422(
    api: Api, interface: str
) -> None:
    """A cursor is base64 of the last interface: one that decodes to NUL reached
    PostgreSQL (503 store_unavailable); no stored interface holds a control character."""
    assert api.write.put("/api/v1/device-labels/PJSIP/201", json={"label": "desk"}).status_code
    cursor = base64.urlsafe_b64encode(interface.encode("ascii")).decode("ascii").rstrip("=")
    body = _problem(api, "/api/v1/device-labels", {"cursor": cursor})
    assert (body["code"], body["field"]) == ("invalid_request", "cursor")


@pytest.mark.parametrize(
    "cursor", ["1.2147483648", "1.99999999999999999", "99999999999999999.999999999999999999"]
)
def test_issue18_a_call_cursor_past_any_call_id_is_422(api: Api, cursor: str) -> None:
    """A call's id is a 32-bit integer: a forged cursor with a larger one was
    PostgreSQL's "integer out of range" (503 store_unavailable)."""
    assert api.write.put(f"/api/v1/lines/{CONTRACT}", json={}).status_code == 201
    body = _problem(api, f"/api/v1/numbers/{CONTRACT}/calls", {"cursor": cursor})
    assert (body["code"], body["field"]) == ("invalid_input", "cursor")


def test_issue18_a_call_cursor_of_the_largest_id_is_a_page(api: Api) -> None:
    assert api.write.put(f"/api/v1/lines/{CONTRACT}", json={}).status_code == 201
    r = api.read.get(f"/api/v1/numbers/{CONTRACT}/calls", params={"cursor": "1.2147483647"})
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}
