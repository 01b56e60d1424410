"""Issue 18 API: subscriber numbers (OPS-2 ``chakushin number``; SITE-7 search), on both
databases. Writes are checked against what is stored; refusals change no row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from httpx import Response
from sqlalchemy import event

from store import bulk, db, service
from store.models import Service
from tests.api.conftest import Api

LINE = "0312345678"
OTHER_LINE = "0612345678"
EXTRA = "0312345679"
NUMBERS = "/api/v1/numbers"


def refused(r: Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    return body


def stored(api: Api, number: str) -> dict[str, Any]:
    with db.transaction(api.sessions) as s:
        return service.describe_number(service.get_number(s, number))


def a_line(api: Api, contract: str = LINE) -> None:
    r = api.write.put(f"/api/v1/lines/{contract}", json={})
    assert r.status_code == 201, r.text


def put(api: Api, number: str = EXTRA, **body: Any) -> Response:
    body.setdefault("contract_number", LINE)
    r: Response = api.write.put(f"{NUMBERS}/{number}", json=body)
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


def test_issue18_put_number_adds_an_additional_number(api: Api) -> None:
    a_line(api)
    r = put(api, queue="sales", queue_seconds=30, timezone="UTC", services=["mail", "nuisance"])
    assert r.status_code == 201, r.text
    n = stored(api, EXTRA)
    assert n["contract_number"] == LINE and not n["is_contract"]
    assert (n["queue"], n["queue_seconds"], n["endpoint"]) == ("sales", 30, None)
    assert n["timezone"] == "UTC"
    assert n["services"] == ["mail", "nuisance"]
    got = api.read.get(f"{NUMBERS}/{EXTRA}")
    assert got.status_code == 200
    assert got.json() == r.json()
    # The whole describe_number shape, devices with their names.
    data = stored(api, EXTRA)
    data["devices"] = []
    assert got.json() == data


def test_issue18_put_number_twice_is_the_same_state(api: Api) -> None:
    a_line(api)
    body = {"endpoint": "PJSIP/201&PJSIP/202", "timezone": "Asia/Tokyo"}
    assert put(api, **body).status_code == 201
    after_first = api.state()
    r = put(api, **body)
    assert r.status_code == 200, r.text
    assert api.state() == after_first
    assert len(after_first["number"]) == 2


def test_issue18_put_number_brings_a_stored_number_to_the_body(api: Api) -> None:
    a_line(api)
    put(api, queue="sales", queue_seconds=30, timezone="UTC", services=["mail"])
    r = put(api, endpoint="pjsip/203")
    assert r.status_code == 200, r.text
    n = stored(api, EXTRA)
    assert (n["endpoint"], n["queue"], n["queue_seconds"]) == ("PJSIP/203", None, None)
    assert n["timezone"] == api.deps.default_timezone
    assert n["services"] == ["mail"]  # absent: kept
    put(api, queue="sales", queue_seconds=30)
    put(api, queue="sales")
    n = stored(api, EXTRA)
    assert (n["endpoint"], n["queue"], n["queue_seconds"]) == (None, "sales", None)
    # The contract number itself, on its own line.
    r = put(api, LINE, endpoint="PJSIP/200", services=["voice_warp"])
    assert r.status_code == 200, r.text
    n = stored(api, LINE)
    assert (n["endpoint"], n["services"], n["is_contract"]) == ("PJSIP/200", ["voice_warp"], True)


def test_issue18_put_number_does_not_move_it_to_another_line(api: Api) -> None:
    a_line(api)
    a_line(api, OTHER_LINE)
    put(api)
    before = api.state()
    body = refused(put(api, contract_number=OTHER_LINE), 409, "number_on_other_line")
    assert body["field"] == "contract_number"
    assert body["params"] == {"contract_number": LINE}
    refused(put(api, LINE, contract_number=OTHER_LINE), 409, "number_on_other_line")
    # Another line's contract number cannot become an additional number.
    refused(put(api, OTHER_LINE), 409, "number_on_other_line")
    assert api.state() == before


def test_issue18_put_number_refusals_change_nothing(api: Api) -> None:
    a_line(api)
    put(api, queue="sales")
    before = api.state()
    new = "0312345670"
    cases: list[tuple[str, dict[str, Any], int, str | None, str | None]] = [
        (EXTRA, {"endpoint": "PJSIP/201", "queue": "q"}, 422, "endpoint_or_queue", "queue"),
        (new, {"endpoint": "PJSIP/201", "queue": "q"}, 422, "endpoint_or_queue", "queue"),
        (EXTRA, {"queue_seconds": 30}, 422, "queue_seconds_without_queue", "queue"),
        (new, {"queue_seconds": 30}, 422, "queue_seconds_without_queue", "queue"),
        (
            EXTRA,
            {"endpoint": "PJSIP/1", "queue_seconds": 30},
            422,
            "queue_seconds_without_queue",
            "queue",
        ),
        (EXTRA, {"queue": "sales", "queue_seconds": 301}, 422, "queue_seconds_range", None),
        (EXTRA, {"queue": "sales", "timezone": "Nowhere/City"}, 422, None, "timezone"),
        (new, {"contract_number": "0399999999"}, 404, "not_found", "contract_number"),
        ("12345", {}, 422, "number_format", "number"),
        ("０３１２３４５６７０", {}, 422, "number_not_digits", "number"),
        (new, {"endpoint": "PJSIP/201 PJSIP/202"}, 422, None, "endpoint"),
    ]
    for number, body, status, code, field in cases:
        r = put(api, number, **body)
        assert r.status_code == status, (number, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if code is not None:
            assert r.json()["code"] == code, r.json()
        if field is not None:
            assert r.json()["field"] == field, r.json()
        assert api.state() == before, body


def test_issue18_put_number_hostile_values_are_422(api: Api) -> None:
    a_line(api)
    put(api)
    before = api.state()
    for body in [
        {"contract_number": LINE, "endpoint": "PJSIP/" + "1" * 900},
        {"contract_number": "0" * 40},
        {"contract_number": LINE, "timezone": "UTC\x07"},
        {"contract_number": LINE, "queue": "q\n"},
        {"contract_number": LINE, "queue": "q" * 81},
        {"contract_number": 312345678},
        {},
        {"contract_number": LINE, "services": {"mail": True}},
        {"contract_number": LINE, "services": ["sms"]},
        {"contract_number": LINE, "queue": "q", "queue_seconds": [30]},
        {"contract_number": LINE, "auth_unit": "number"},
        {"contract_number": LINE, "is_contract": True},
    ]:
        r = api.write.put(f"{NUMBERS}/{EXTRA}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert api.state() == before, body
    r = api.write.put(f"{NUMBERS}/{EXTRA}", json={"contract_number": LINE, "x": 1})
    refused(r, 422, "invalid_request", "x")
    refused(
        api.write.put(f"{NUMBERS}/{'1' * 33}", json={"contract_number": LINE}),
        422,
        "invalid_request",
        "number",
    )
    assert api.state() == before


def test_issue18_delete_number(api: Api) -> None:
    a_line(api)
    put(api)
    r = api.write.delete(f"{NUMBERS}/{EXTRA}")
    assert r.status_code == 204, r.text
    assert [row for row in api.state()["number"]] and len(api.state()["number"]) == 1
    refused(api.write.delete(f"{NUMBERS}/{EXTRA}"), 404, "not_found", "number")
    before = api.state()
    # The contract number is removed with its line, as the CLI says.
    refused(api.write.delete(f"{NUMBERS}/{LINE}"), 422, "contract_number_removal", "number")
    assert api.state() == before


def test_issue18_numbers_unknown_is_404(api: Api) -> None:
    refused(api.read.get(f"{NUMBERS}/{EXTRA}"), 404, "not_found", "number")
    r = api.write.put(f"{NUMBERS}/{EXTRA}/services", json={"services": []})
    refused(r, 404, "not_found", "number")
    refused(api.read.get(NUMBERS, params={"line": LINE}), 404, "not_found", "contract_number")


def test_issue18_numbers_read_token_may_not_write(api: Api) -> None:
    a_line(api)
    put(api)
    before = api.state()
    refused(api.read.put(f"{NUMBERS}/{EXTRA}", json={"contract_number": LINE}), 403, "forbidden")
    refused(api.read.put(f"{NUMBERS}/0312345670", json={"contract_number": LINE}), 403, "forbidden")
    refused(api.read.delete(f"{NUMBERS}/{EXTRA}"), 403, "forbidden")
    refused(api.read.put(f"{NUMBERS}/{EXTRA}/services", json={"services": []}), 403, "forbidden")
    assert api.state() == before


def test_issue18_put_services_sets_exactly_these(api: Api) -> None:
    a_line(api)
    put(api)
    # Mail started on the number; unsubscribing switches it off (as the CLI's --disable).
    with db.transaction(api.sessions) as s:
        service.add_address(s, EXTRA, "taro@example.jp")
        service.start_mail(s, EXTRA)
    r = api.write.put(f"{NUMBERS}/{EXTRA}/services", json={"services": ["voice_warp", "nuisance"]})
    assert r.status_code == 200, r.text
    assert r.json()["services"] == ["nuisance", "voice_warp"]
    n = stored(api, EXTRA)
    assert n["services"] == ["nuisance", "voice_warp"]
    assert not n["mail"]["started"]
    assert n["mail"]["addresses"][0]["address"] == "taro@example.jp"  # settings kept
    after = api.state()
    api.write.put(f"{NUMBERS}/{EXTRA}/services", json={"services": ["nuisance", "voice_warp"]})
    assert api.state() == after
    for body in [
        {"services": ["fax"]},
        {"services": "mail"},
        {"services": ["mail"] * 5},
        {},
        {"services": [], "x": 1},
    ]:
        r = api.write.put(f"{NUMBERS}/{EXTRA}/services", json=body)
        refused(r, 422, "invalid_request")
    assert api.state() == after
    api.write.put(f"{NUMBERS}/{EXTRA}/services", json={"services": []})
    assert stored(api, EXTRA)["services"] == []
    api.write.put(f"{NUMBERS}/{EXTRA}/services", json={"services": [s.value for s in Service]})
    assert stored(api, EXTRA)["services"] == sorted(s.value for s in Service)


def walk(api: Api, **params: str | int) -> tuple[list[dict[str, Any]], int]:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        r = api.read.get(NUMBERS, params=query)
        assert r.status_code == 200, r.text
        pages += 1
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen, pages


def test_issue18_numbers_pages_walk_every_number_once(api: Api) -> None:
    a_line(api)
    a_line(api, OTHER_LINE)
    mine = [LINE] + [f"03123450{i:02d}" for i in range(8)]
    for n in mine[1:]:
        assert put(api, n).status_code == 201
    with db.transaction(api.sessions) as s:
        service.add_address(s, mine[3], "taro@example.jp")
        service.start_mail(s, mine[3])
    everything, pages = walk(api, limit=4)
    assert pages == 3
    assert [x["number"] for x in everything] == sorted([*mine, OTHER_LINE])
    line_only, _ = walk(api, limit=2, line=LINE)
    assert [x["number"] for x in line_only] == sorted(mine)
    by_number = {x["number"]: x for x in everything}
    assert by_number[LINE] == {
        "number": LINE,
        "contract_number": LINE,
        "is_contract": True,
        "mail_started": False,
    }
    assert by_number[mine[3]]["mail_started"] and not by_number[mine[3]]["is_contract"]
    assert by_number[OTHER_LINE]["contract_number"] == OTHER_LINE


def test_issue18_numbers_search_is_the_sites(api: Api) -> None:
    """SITE-7: the same numbers as store.bulk.search_numbers, across pages."""
    a_line(api)
    a_line(api, OTHER_LINE)
    all_numbers = sorted(
        [LINE, OTHER_LINE, "0312474747", "0334560347", "0363044747", "0503120000", "0664806430"]
    )
    for n in all_numbers:
        if n not in (LINE, OTHER_LINE):
            put(api, n)
    for pattern in [
        "03*",
        "*4747",
        "03*47",
        "06*48*30",
        "0312",
        "47",
        "*",
        "",
        " 03* ",
        "０３＊",
        "03-12*",
    ]:
        found, _ = walk(api, limit=2, search=pattern)
        expected = bulk.search_numbers(
            all_numbers, pattern.replace("０３＊", "03*").replace("-", "")
        )
        assert [x["number"] for x in found] == expected, pattern
    found, _ = walk(api, limit=1, search="03*", line=OTHER_LINE)
    assert found == []
    before = api.state()
    for bad in ["03a*", "03%", "03_4", "0" * 21, "03\x00", "03?*"]:
        refused(api.read.get(NUMBERS, params={"search": bad}), 422, "search_pattern", "search")
    refused(api.read.get(NUMBERS, params={"search": "0" * 65}), 422, "invalid_request", "search")
    assert api.state() == before


def test_issue18_get_number_loads_its_settings_in_a_few_queries(api: Api) -> None:
    """D benchmarks this read at 100,000 numbers: a number with full lists costs as many
    queries as a bare one, and none reads the whole line."""
    a_line(api)
    put(api, endpoint="PJSIP/201&PJSIP/202")
    put(api, "0312345670")
    with db.transaction(api.sessions) as s:
        for i in range(5):
            service.add_address(s, EXTRA, f"user{i}@example.jp")
        for i in range(10):
            service.add_designated(s, EXTRA, f"09012345{i:03d}")
            service.add_nuisance(s, EXTRA, f"08012345{i:03d}")
        service.name_device(s, "PJSIP/201", "受付")
    api.read.get(NUMBERS, params={"limit": 1})  # the token's use is noted once a minute
    with statements(api) as bare:
        assert api.read.get(f"{NUMBERS}/0312345670").status_code == 200
    with statements(api) as full:
        r = api.read.get(f"{NUMBERS}/{EXTRA}")
    assert r.status_code == 200
    assert r.json()["devices"] == [
        {"interface": "PJSIP/201", "label": "受付"},
        {"interface": "PJSIP/202", "label": None},
    ]
    assert len(r.json()["mail"]["addresses"]) == 5
    assert len(r.json()["nuisance_list"]) == 10
    # One more: the devices' names.
    assert len(full) == len(bare) + 1 <= 8
    assert not any("line_id IN" in sql or "line_id =" in sql for sql in full)


def test_issue18_number_keys_no_number_can_have_are_the_domains_422(api: Api) -> None:
    """A NUL (PostgreSQL refuses it in a query) or letters in a number are refused by
    their form before the database is asked: never a 5xx."""
    a_line(api)
    before = api.state()
    for bad in ["%00", "0312345678%00", "abc", "03-1234-5678"]:
        for r in [
            api.read.get(f"{NUMBERS}/{bad}"),
            api.write.delete(f"{NUMBERS}/{bad}"),
            api.write.put(f"{NUMBERS}/{bad}", json={"contract_number": LINE}),
            api.write.put(f"{NUMBERS}/{bad}/services", json={"services": []}),
        ]:
            assert r.status_code == 422, (bad, r.request.method, r.text)
            assert r.json()["code"] in ("number_format", "number_not_digits"), r.json()
            assert r.json()["field"] == "number"
    r = api.read.get(NUMBERS, params={"line": "0312345678\x00"})
    refused(r, 422, "number_not_digits", "line")
    r = put(api, contract_number="0312345678\x00")
    refused(r, 422, "number_not_digits", "contract_number")
    assert api.state() == before


def test_issue18_numbers_of_a_line_do_not_load_the_whole_line(api: Api) -> None:
    """?line= reads the line's id, not its numbers: a page of a line of 1,000 numbers
    costs one page (the site's line in bench/scale.py)."""
    a_line(api)
    for i in range(5):
        put(api, f"03123450{i:02d}")
    api.read.get(NUMBERS, params={"limit": 1})  # the token's use is noted once a minute
    with statements(api) as seen:
        r = api.read.get(NUMBERS, params={"line": LINE, "limit": 2})
    assert [x["number"] for x in r.json()["items"]] == ["0312345000", "0312345001"]
    assert not any("number.line_id IN" in sql for sql in seen), seen
