"""The API's supplementary services (issue 18): nuisance list (CALL-2), Number Request
(CALL-3) and Voice Warp (CALL-4), through ``store.service`` as the CLI and the site."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import Service
from tests.api.conftest import Api

NUMBER = "0312345678"
BASE = f"/api/v1/numbers/{NUMBER}"
NUISANCE = f"{BASE}/nuisance"
NUMBER_REQUEST = f"{BASE}/number-request"
VOICE_WARP = f"{BASE}/voice-warp"
UNKNOWN = "/api/v1/numbers/0399999999"


def a_number(sessions: sessionmaker[Session], services: frozenset[Service] | None = None) -> None:
    with db.transaction(sessions) as s:
        service.add_line(
            s, NUMBER, timezone="Asia/Tokyo", services=services or service.ALL_SERVICES
        )


def described(api: Api) -> dict[str, Any]:
    with db.transaction(api.sessions, read_only=True) as s:
        return service.describe_number(service.get_number(s, NUMBER))


def hidden_entry(api: Api, caller_number: str = "0399990000") -> None:
    """A withheld caller added by 144-2 (CALL-2): listed, its digits never shown."""
    with db.transaction(api.sessions) as s:
        service.add_nuisance(s, NUMBER, caller_number, hidden=True)


def refused(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body


# --- nuisance list (CALL-2) ---------------------------------------------------------------


def test_issue18_CALL_2_post_adds_a_caller_and_get_lists_it(api: Api) -> None:
    a_number(api.sessions)
    assert api.read.get(NUISANCE).json() == {"number": NUMBER, "subscribed": True, "entries": []}
    r = api.write.post(NUISANCE, json={"caller_number": "03-1111-2222"})
    assert r.status_code == 201, r.text
    assert r.json() == {"position": 1, "caller_number": "0311112222", "hidden": False}
    assert described(api)["nuisance_list"] == [
        {"position": 1, "caller_number": "0311112222", "hidden": False}
    ]
    assert api.read.get(NUISANCE).json()["entries"] == [r.json()]


def test_issue18_CALL_2_a_retried_post_never_doubles_the_caller(api: Api) -> None:
    a_number(api.sessions)
    assert api.write.post(NUISANCE, json={"caller_number": "0311112222"}).status_code == 201
    before = api.state()
    again = api.write.post(NUISANCE, json={"caller_number": "０３１１１１２２２２"})
    refused(again, 409, "already_exists", "caller_number")
    assert api.state() == before


def test_issue18_CALL_2_hidden_entries_are_masked(api: Api) -> None:
    a_number(api.sessions)
    hidden_entry(api)
    r = api.write.post(NUISANCE, json={"caller_number": "0355556666", "hidden": True})
    assert r.status_code == 201
    assert r.json() == {"position": 2, "caller_number": None, "hidden": True}
    listed = api.read.get(NUISANCE).json()["entries"]
    assert listed == [
        {"position": 1, "caller_number": None, "hidden": True},
        {"position": 2, "caller_number": None, "hidden": True},
    ]
    assert "0399990000" not in api.read.get(NUISANCE).text
    # issue 16: a visible entry of a hidden caller's digits is added, never refused
    visible = api.write.post(NUISANCE, json={"caller_number": "0399990000"})
    assert visible.status_code == 201
    assert visible.json() == {"position": 3, "caller_number": "0399990000", "hidden": False}


def test_issue18_CALL_2_delete_by_position_and_a_missing_one_is_404(api: Api) -> None:
    a_number(api.sessions)
    hidden_entry(api)
    api.write.post(NUISANCE, json={"caller_number": "0311112222"})
    r = api.write.delete(f"{NUISANCE}/1")
    assert r.status_code == 204 and r.content == b""
    assert described(api)["nuisance_list"] == [
        {"position": 2, "caller_number": "0311112222", "hidden": False}
    ]
    before = api.state()
    refused(api.write.delete(f"{NUISANCE}/1"), 404, "not_found", "position")
    refused(api.write.delete(f"{NUISANCE}/31"), 422, "invalid_request", "position")
    refused(api.write.delete(f"{NUISANCE}/x"), 422, "invalid_request", "position")
    assert api.state() == before


def test_issue18_CALL_2_the_31st_caller_is_refused(api: Api) -> None:
    a_number(api.sessions)
    hidden_entry(api)
    for i in range(29):
        assert (
            api.write.post(NUISANCE, json={"caller_number": f"03111122{i:02d}"}).status_code == 201
        )
    before = api.state()
    refused(
        api.write.post(NUISANCE, json={"caller_number": "0322223333"}), 422, "limit_exceeded", None
    )
    assert api.state() == before


def test_issue18_CALL_2_put_sets_the_visible_numbers_and_keeps_hidden_entries(api: Api) -> None:
    a_number(api.sessions)
    api.write.post(NUISANCE, json={"caller_number": "0311112222"})
    hidden_entry(api)
    api.write.post(NUISANCE, json={"caller_number": "0322223333"})
    body = {"caller_numbers": ["0322223333", "03-4444-5555", "0399990000"]}
    r = api.write.put(NUISANCE, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == [
        {"position": 1, "caller_number": "0344445555", "hidden": False},
        {"position": 2, "caller_number": None, "hidden": True},
        {"position": 3, "caller_number": "0322223333", "hidden": False},
        {"position": 4, "caller_number": "0399990000", "hidden": False},
    ]
    once = api.state()
    assert api.write.put(NUISANCE, json=body).status_code == 200
    assert api.state() == once
    emptied = api.write.put(NUISANCE, json={"caller_numbers": []})
    assert emptied.json()["entries"] == [{"position": 2, "caller_number": None, "hidden": True}]


def test_issue18_CALL_2_put_refusals_change_nothing(api: Api) -> None:
    a_number(api.sessions)
    hidden_entry(api)
    before = api.state()
    r = api.write.put(NUISANCE, json={"caller_numbers": ["0311112222", "03-1111-2222"]})
    refused(r, 409, "already_exists", "caller_numbers.1")
    r = api.write.put(NUISANCE, json={"caller_numbers": ["0311112222", "abc"]})
    refused(r, 422, "number_not_digits", "caller_numbers.1")
    full = {"caller_numbers": [f"03111122{i:02d}" for i in range(30)]}
    refused(api.write.put(NUISANCE, json=full), 422, "limit_exceeded", None)
    many = {"caller_numbers": [f"03111122{i:02d}" for i in range(31)]}
    refused(api.write.put(NUISANCE, json=many), 422, "invalid_request", "caller_numbers")
    assert api.state() == before


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"caller_number": "0" * 65}, "invalid_request", "caller_number"),
        ({"caller_number": "03111\x002222"}, "number_not_digits", "caller_number"),
        ({"caller_number": "0311112222\n"}, "number_not_digits", "caller_number"),
        ({"caller_number": 311112222}, "invalid_request", "caller_number"),
        ({"caller_number": "0311112222", "hidden": "yes"}, "invalid_request", "hidden"),
        ({"caller_number": "0311112222", "position": 3}, "invalid_request", "position"),
        ({}, "invalid_request", "caller_number"),
    ],
)
def test_issue18_CALL_2_hostile_posts_are_422(
    api: Api, body: dict[str, Any], code: str, field: str
) -> None:
    a_number(api.sessions)
    before = api.state()
    refused(api.write.post(NUISANCE, json=body), 422, code, field)
    assert api.state() == before


def test_issue18_CALL_2_without_the_service_unknown_number_and_read_token(api: Api) -> None:
    a_number(api.sessions, frozenset({Service.MAIL}))
    before = api.state()
    refused(
        api.write.post(NUISANCE, json={"caller_number": "0311112222"}),
        422,
        "not_subscribed",
        "number",
    )
    refused(api.write.put(NUISANCE, json={"caller_numbers": []}), 422, "not_subscribed", "number")
    refused(api.write.delete(f"{NUISANCE}/1"), 422, "not_subscribed", "number")
    assert api.read.get(NUISANCE).json()["subscribed"] is False
    refused(api.read.get(f"{UNKNOWN}/nuisance"), 404, "not_found", "number")
    refused(
        api.write.post(f"{UNKNOWN}/nuisance", json={"caller_number": "0311112222"}),
        404,
        "not_found",
        "number",
    )
    refused(api.write.delete(f"{UNKNOWN}/nuisance/1"), 404, "not_found", "number")
    refused(api.read.post(NUISANCE, json={"caller_number": "0311112222"}), 403, "forbidden", None)
    refused(api.read.put(NUISANCE, json={"caller_numbers": []}), 403, "forbidden", None)
    refused(api.read.delete(f"{NUISANCE}/1"), 403, "forbidden", None)
    assert api.state() == before


# --- Number Request (CALL-3) --------------------------------------------------------------


def test_issue18_CALL_3_put_number_request_whole_and_twice(api: Api) -> None:
    a_number(api.sessions)
    assert api.read.get(NUMBER_REQUEST).json() == {
        "number": NUMBER,
        "subscribed": True,
        "enabled": False,
        "reject_payphone": False,
        "reject_unavailable": False,
    }
    body = {"enabled": True, "reject_payphone": True, "reject_unavailable": False}
    r = api.write.put(NUMBER_REQUEST, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"number": NUMBER, "subscribed": True, **body}
    assert described(api)["number_request"] == body
    once = api.state()
    assert api.write.put(NUMBER_REQUEST, json=body).json() == r.json()
    assert api.state() == once
    assert api.read.get(NUMBER_REQUEST).json() == r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": True, "reject_payphone": True}, "reject_unavailable"),
        ({"enabled": "on", "reject_payphone": True, "reject_unavailable": True}, "enabled"),
        ({"enabled": 1, "reject_payphone": True, "reject_unavailable": True}, "enabled"),
        (
            {"enabled": True, "reject_payphone": True, "reject_unavailable": True, "x": 1},
            "x",
        ),
    ],
)
def test_issue18_CALL_3_hostile_number_request_is_422(
    api: Api, body: dict[str, Any], field: str
) -> None:
    a_number(api.sessions)
    before = api.state()
    refused(api.write.put(NUMBER_REQUEST, json=body), 422, "invalid_request", field)
    assert api.state() == before


def test_issue18_CALL_3_refusals_of_number_request(api: Api) -> None:
    a_number(api.sessions, frozenset({Service.MAIL}))
    body = {"enabled": True, "reject_payphone": False, "reject_unavailable": False}
    before = api.state()
    refused(api.write.put(NUMBER_REQUEST, json=body), 422, "not_subscribed", "number")
    refused(api.read.put(NUMBER_REQUEST, json=body), 403, "forbidden", None)
    refused(api.write.put(f"{UNKNOWN}/number-request", json=body), 404, "not_found", "number")
    refused(api.read.get(f"{UNKNOWN}/number-request"), 404, "not_found", "number")
    assert api.read.get(NUMBER_REQUEST).json()["subscribed"] is False
    assert api.state() == before


# --- Voice Warp (CALL-4) ------------------------------------------------------------------


def warp(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": True,
        "mode": "no_answer",
        "destination": "09012345678",
        "ring_seconds": 15,
    }
    body.update(changes)
    return body


def test_issue18_CALL_4_put_voice_warp_whole_and_twice(api: Api) -> None:
    a_number(api.sessions)
    first = api.read.get(VOICE_WARP).json()
    assert first["number"] == NUMBER and first["enabled"] is False
    assert first["destination"] is None
    r = api.write.put(VOICE_WARP, json=warp())
    assert r.status_code == 200, r.text
    assert r.json() == {"number": NUMBER, "subscribed": True, **warp()}
    assert described(api)["voice_warp"] == warp()
    once = api.state()
    assert api.write.put(VOICE_WARP, json=warp()).json() == r.json()
    assert api.state() == once
    assert api.read.get(VOICE_WARP).json() == r.json()
    off = api.write.put(VOICE_WARP, json=warp(enabled=False, destination=None, mode="busy"))
    assert off.status_code == 200, off.text
    assert described(api)["voice_warp"] == warp(enabled=False, destination=None, mode="busy")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (warp(destination=None), 422, "forward_without_destination", "destination"),
        (warp(destination="0312345678"), 422, "forward_to_self", "destination"),
        (warp(destination="01081312345678"), 422, "forward_to_self", "destination"),
        (warp(ring_seconds=61), 422, "ring_seconds_range", "ring_seconds"),
        (warp(ring_seconds=4), 422, "ring_seconds_range", "ring_seconds"),
        (warp(destination="090-1234-5678"), 422, "number_not_digits", "destination"),
        (warp(destination="0901234\r\n5678"), 422, "number_not_digits", "destination"),
        (warp(destination="0" * 33), 422, "invalid_request", "destination"),
        (warp(ring_seconds="15"), 422, "invalid_request", "ring_seconds"),
        (warp(ring_seconds=15.5), 422, "invalid_request", "ring_seconds"),
        (warp(mode="sometimes"), 422, "invalid_request", "mode"),
        (warp(enabled="true"), 422, "invalid_request", "enabled"),
        (warp(to="0311112222"), 422, "invalid_request", "to"),
        (
            {"enabled": False, "mode": "busy", "ring_seconds": 20},
            422,
            "invalid_request",
            "destination",
        ),
    ],
)
def test_issue18_CALL_4_voice_warp_refusals_change_nothing(
    api: Api, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    a_number(api.sessions)
    api.write.put(VOICE_WARP, json=warp(enabled=False))
    before = api.state()
    refused(api.write.put(VOICE_WARP, json=body), status, code, field)
    assert api.state() == before


def test_issue18_CALL_4_voice_warp_without_the_service_unknown_and_read_token(api: Api) -> None:
    a_number(api.sessions, frozenset({Service.MAIL}))
    before = api.state()
    refused(api.write.put(VOICE_WARP, json=warp()), 422, "not_subscribed", "number")
    refused(api.read.put(VOICE_WARP, json=warp()), 403, "forbidden", None)
    refused(api.write.put(f"{UNKNOWN}/voice-warp", json=warp()), 404, "not_found", "number")
    refused(api.read.get(f"{UNKNOWN}/voice-warp"), 404, "not_found", "number")
    assert api.read.get(VOICE_WARP).json()["subscribed"] is False
    assert api.state() == before


@pytest.mark.parametrize("path", ["nuisance", "nuisance/1", "number-request", "voice-warp"])
def test_issue18_api_supplementary_number_in_the_path_is_digits(api: Api, path: str) -> None:
    # a NUL byte reached PostgreSQL, which refused the query: 503, as if the store were down
    for number in ("03%00", "0" * 33):
        r = api.read.get(f"/api/v1/numbers/{number}/{path}")
        assert r.status_code in (405, 422), r.text
        if r.status_code == 422:
            refused(r, 422, "invalid_request", "number")
        refused(
            api.write.delete(f"/api/v1/numbers/{number}/nuisance/1"),
            422,
            "invalid_request",
            "number",
        )
