"""Issue 18 API: lines (OPS-2 ``chakushin line``), on both databases.

Each write is checked against what is stored; a refusal is problem+json with
the domain's code and field and leaves every row as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event

from store import db, service
from store.models import AuthUnit, Service
from tests.api.conftest import Api

LINE = "0312345678"
OTHER = "0312345600"
LINES = "/api/v1/lines"


def refused(r: Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    assert body["type"] == f"urn:chakushin:problem:{code}"
    if field is not None:
        assert body["field"] == field, body
    return body


def stored(api: Api, number: str) -> dict[str, Any]:
    with db.transaction(api.sessions) as s:
        return service.describe_number(service.get_number(s, number))


def put_line(client: TestClient, contract: str = LINE, **body: Any) -> Response:
    r: Response = client.put(f"{LINES}/{contract}", json=body)
    return r


@contextmanager
def statements(api: Api) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = api.sessions.kw["bind"]

    def note(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_issue18_put_line_creates_it_with_its_contract_number(api: Api) -> None:
    r = put_line(api.write, auth_unit="number", endpoint="PJSIP/201&pjsip/202")
    assert r.status_code == 201, r.text
    assert r.json()["auth_unit"] == "number"
    assert r.json()["number_count"] == 1
    shown = r.json()["contract"]
    assert shown["number"] == LINE and shown["is_contract"]
    assert shown["devices"] == [
        {"interface": "PJSIP/201", "label": None},
        {"interface": "PJSIP/202", "label": None},
    ]
    n = stored(api, LINE)
    assert n["auth_unit"] == "number"
    assert n["endpoint"] == "PJSIP/201&PJSIP/202"
    assert n["timezone"] == api.deps.default_timezone
    assert n["services"] == sorted(s.value for s in Service)
    line = api.read.get(f"{LINES}/{LINE}").json()
    assert line == {"contract_number": LINE, "auth_unit": "number", "numbers": [shown]}


def test_issue18_put_line_twice_is_the_same_state(api: Api) -> None:
    body: dict[str, Any] = {
        "auth_unit": "admin_user",
        "queue": "sales",
        "queue_seconds": 40,
        "services": ["mail"],
    }
    assert put_line(api.write, **body).status_code == 201
    after_first = api.state()
    r = put_line(api.write, **body)
    assert r.status_code == 200, r.text
    assert api.state() == after_first
    n = stored(api, LINE)
    assert (n["queue"], n["queue_seconds"], n["services"]) == ("sales", 40, ["mail"])


def test_issue18_put_line_brings_a_stored_line_to_the_body(api: Api) -> None:
    put_line(api.write, queue="sales", queue_seconds=40, services=["mail", "voice_warp"])
    r = put_line(
        api.write, auth_unit="number", queue="support", timezone="Europe/Berlin", services=["mail"]
    )
    assert r.status_code == 200, r.text
    n = stored(api, LINE)
    assert n["auth_unit"] == "number"
    # No timeout in the body: call.ring_seconds, the stored 40 s is gone.
    assert (n["queue"], n["queue_seconds"], n["endpoint"]) == ("support", None, None)
    assert n["timezone"] == "Europe/Berlin"
    assert n["services"] == ["mail"]
    # Devices instead of the queue; no timezone: the node's; no services: kept.
    put_line(api.write, auth_unit="number", endpoint="PJSIP/201")
    n = stored(api, LINE)
    assert (n["endpoint"], n["queue"], n["timezone"]) == ("PJSIP/201", None, "Asia/Tokyo")
    assert n["services"] == ["mail"]
    # Neither: both cleared.
    put_line(api.write, auth_unit="number")
    n = stored(api, LINE)
    assert (n["endpoint"], n["queue"]) == (None, None)


def test_issue18_put_line_refusals_change_nothing(api: Api) -> None:
    put_line(api.write, endpoint="PJSIP/201")
    before = api.state()
    cases: list[tuple[str, dict[str, Any], int, str | None, str | None]] = [
        (LINE, {"endpoint": "PJSIP/201", "queue": "sales"}, 422, "endpoint_or_queue", "queue"),
        (OTHER, {"endpoint": "PJSIP/201", "queue": "sales"}, 422, "endpoint_or_queue", "queue"),
        (LINE, {"queue_seconds": 30}, 422, "queue_seconds_without_queue", "queue"),
        (OTHER, {"queue_seconds": 30}, 422, "queue_seconds_without_queue", "queue"),
        (LINE, {"endpoint": "PJSIP/201", "queue_seconds": 30}, 422, None, None),
        (LINE, {"queue": "sales", "queue_seconds": 3}, 422, "queue_seconds_range", None),
        (
            LINE,
            {"queue": "sales", "services": ["mail"], "timezone": "Mars/Olympus"},
            422,
            None,
            "timezone",
        ),
        ("12345", {}, 422, "number_format", "contract_number"),
        ("03-1234-5678", {}, 422, "number_not_digits", "contract_number"),
        (OTHER, {"endpoint": "PJSIP/201,PJSIP/202"}, 422, None, "endpoint"),
    ]
    for contract, body, status, code, field in cases:
        r = put_line(api.write, contract, **body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            assert r.json()["code"] == code, r.json()
        if field is not None:
            assert r.json()["field"] == field, r.json()
        assert api.state() == before, body
    # The contract number of a new line is another line's additional number.
    api.write.put(f"/api/v1/numbers/{OTHER}", json={"contract_number": LINE})
    before = api.state()
    refused(put_line(api.write, OTHER), 409, "already_exists", "number")
    assert api.state() == before


def test_issue18_put_line_hostile_values_are_422(api: Api) -> None:
    put_line(api.write)
    before = api.state()
    hostile: list[dict[str, Any]] = [
        {"endpoint": "PJSIP/" + "2" * 900},
        {"timezone": "Asia/Tokyo\n"},
        {"queue": "sales\x00"},
        {"endpoint": "PJSIP/201\r\nX"},
        {"auth_unit": "root"},
        {"auth_unit": 5},
        {"services": "mail"},
        {"services": ["mail", "fax"]},
        {"services": ["mail"] * 5},
        {"queue": "sales", "queue_seconds": "soon"},
        {"contract_number": LINE},
        {"password": "x"},
    ]
    for body in hostile:
        r = put_line(api.write, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert api.state() == before, body
    refused(put_line(api.write, LINE, auth_unit=5), 422, "invalid_request", "auth_unit")
    refused(put_line(api.write, LINE, extra=1), 422, "invalid_request", "extra")
    r = api.write.put(f"{LINES}/{'0' * 40}", json={})
    refused(r, 422, "invalid_request", "contract_number")
    r = api.write.put(
        f"{LINES}/{LINE}", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert api.state() == before


def test_issue18_lines_unknown_is_404(api: Api) -> None:
    refused(api.read.get(f"{LINES}/{LINE}"), 404, "not_found", "contract_number")
    refused(api.write.delete(f"{LINES}/{LINE}"), 404, "not_found", "contract_number")
    r = api.write.put(f"{LINES}/{LINE}/auth-unit", json={"auth_unit": "number"})
    refused(r, 404, "not_found", "contract_number")
    assert api.state() == {k: [] for k in api.state()}


def test_issue18_lines_read_token_may_not_write(api: Api) -> None:
    put_line(api.write)
    before = api.state()
    refused(put_line(api.read, auth_unit="number"), 403, "forbidden")
    refused(put_line(api.read, OTHER), 403, "forbidden")
    refused(api.read.delete(f"{LINES}/{LINE}"), 403, "forbidden")
    r = api.read.put(f"{LINES}/{LINE}/auth-unit", json={"auth_unit": "number"})
    refused(r, 403, "forbidden")
    assert api.state() == before
    assert api.read.get(f"{LINES}/{LINE}").status_code == 200
    assert api.read.get(LINES).status_code == 200


def test_issue18_delete_line_removes_its_numbers(api: Api) -> None:
    put_line(api.write)
    api.write.put(f"/api/v1/numbers/{OTHER}", json={"contract_number": LINE})
    r = api.write.delete(f"{LINES}/{LINE}")
    assert r.status_code == 204, r.text
    state = api.state()
    assert state["line"] == [] and state["number"] == []
    refused(api.write.delete(f"{LINES}/{LINE}"), 404, "not_found")


def test_issue18_auth_unit_is_set_and_a_retry_changes_nothing(api: Api) -> None:
    put_line(api.write)
    r = api.write.put(f"{LINES}/{LINE}/auth-unit", json={"auth_unit": "admin_user"})
    assert r.status_code == 200, r.text
    assert r.json() == {"contract_number": LINE, "auth_unit": "admin_user", "number_count": 1}
    with db.transaction(api.sessions) as s:
        assert service.get_line(s, LINE).auth_unit is AuthUnit.ADMIN_USER
    after = api.state()
    assert (
        api.write.put(f"{LINES}/{LINE}/auth-unit", json={"auth_unit": "admin_user"}).json()[
            "auth_unit"
        ]
        == "admin_user"
    )
    assert api.state() == after
    for body in [{"auth_unit": "root"}, {}, {"auth_unit": "line", "x": 1}, {"auth_unit": None}]:
        r = api.write.put(f"{LINES}/{LINE}/auth-unit", json=body)
        refused(r, 422, "invalid_request")
    assert api.state() == after


def test_issue18_lines_pages_walk_every_line_once(api: Api) -> None:
    contracts = [f"03123456{i:02d}" for i in range(7)]
    for c in contracts:
        assert put_line(api.write, c).status_code == 201
    for extra in ("0312340001", "0312340002"):
        api.write.put(f"/api/v1/numbers/{extra}", json={"contract_number": contracts[2]})
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        r = api.read.get(LINES, params=params)
        assert r.status_code == 200, r.text
        pages += 1
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [x["contract_number"] for x in seen] == contracts
    assert [x["number_count"] for x in seen] == [1, 1, 3, 1, 1, 1, 1]
    assert all(x["auth_unit"] == "line" for x in seen)
    assert api.read.get(LINES, params={"limit": 7}).json()["next_cursor"] is None
    refused(api.read.get(LINES, params={"limit": 0}), 422, "invalid_request", "limit")
    refused(api.read.get(LINES, params={"cursor": "a/b"}), 422, "invalid_request", "cursor")


def test_issue18_get_line_reads_its_numbers_without_a_query_each(api: Api) -> None:
    """A line of 12 numbers is read in as many queries as a line of 2 (no N+1)."""
    put_line(api.write)
    put_line(api.write, OTHER)
    api.write.put("/api/v1/numbers/0312340000", json={"contract_number": LINE})
    for i in range(10):
        api.write.put(f"/api/v1/numbers/03123401{i:02d}", json={"contract_number": OTHER})
    api.read.get(LINES)  # the token's use is noted once a minute: not in what is counted
    with statements(api) as small:
        assert len(api.read.get(f"{LINES}/{LINE}").json()["numbers"]) == 2
    with statements(api) as big:
        assert len(api.read.get(f"{LINES}/{OTHER}").json()["numbers"]) == 11
    assert len(big) == len(small)


def test_issue18_line_keys_no_number_can_have_are_the_domains_422(api: Api) -> None:
    """A NUL (PostgreSQL refuses it in a query) or letters in a contract number are
    refused by their form before the database is asked: never a 5xx."""
    put_line(api.write)
    before = api.state()
    for bad in ["%00", "0312345678%00", "abc"]:
        for r in [
            api.read.get(f"{LINES}/{bad}"),
            api.write.delete(f"{LINES}/{bad}"),
            api.write.put(f"{LINES}/{bad}", json={}),
            api.write.put(f"{LINES}/{bad}/auth-unit", json={"auth_unit": "number"}),
        ]:
            assert r.status_code == 422, (bad, r.request.method, r.text)
            assert r.json()["code"] in ("number_format", "number_not_digits"), r.json()
            assert r.json()["field"] == "contract_number"
    assert api.state() == before
