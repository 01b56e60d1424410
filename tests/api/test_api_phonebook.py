"""The API's phonebook (issue 19, BOOK-1), on both databases.

``GET/PUT/POST /numbers/{n}/phonebook`` and ``PATCH/DELETE
/numbers/{n}/phonebook/{caller}``, every value through ``store.phonebook``;
a refused request changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from tests.api.conftest import Api

NUMBER = "0312345678"
URL = f"/api/v1/numbers/{NUMBER}/phonebook"


def a_number(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo", services=())


def refused(api: Api, method: str, url: str, status: int, code: str, **kw: Any) -> dict[str, Any]:
    before = api.state()
    answer = api.write.request(method, url, **kw)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    assert api.state() == before
    return problem


def test_BOOK_1_api_add_get_patch_delete(api: Api) -> None:
    a_number(api.sessions)
    added = api.write.post(
        URL, json={"caller_number": "03-9876-5432", "name": " 山田商事 ", "note": "経理"}
    )
    assert added.status_code == 201, added.text
    assert added.json() == {"caller_number": "0398765432", "name": "山田商事", "note": "経理"}
    assert (
        api.write.post(URL, json={"caller_number": "0311112222", "name": "佐藤"}).status_code == 201
    )
    got = api.read.get(URL)
    assert got.status_code == 200
    assert got.json() == {
        "number": NUMBER,
        "count": 2,
        "max": 300,
        "entries": [
            {"caller_number": "0311112222", "name": "佐藤", "note": ""},
            {"caller_number": "0398765432", "name": "山田商事", "note": "経理"},
        ],
    }
    patched = api.write.patch(
        f"{URL}/0311112222", json={"note": "本店", "caller_number": "0311113333"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {"caller_number": "0311113333", "name": "佐藤", "note": "本店"}
    assert api.write.patch(f"{URL}/03-9876-5432", json={"name": "山田"}).json()["name"] == "山田"
    assert api.write.delete(f"{URL}/0311113333").status_code == 204
    assert [e["caller_number"] for e in api.read.get(URL).json()["entries"]] == ["0398765432"]


def test_BOOK_1_api_put_replaces_the_whole_book(api: Api) -> None:
    a_number(api.sessions)
    api.write.post(URL, json={"caller_number": "0398765432", "name": "古い名前"})
    body = [
        {"caller_number": f"03{i:08d}", "name": "名" * 40, "note": "メ" * 100} for i in range(300)
    ]
    # 300 full entries, \u-escaped as json.dumps writes them: larger than the API's 64 KiB.
    data = json.dumps(body)
    assert len(data) > 64 * 1024
    put = api.write.put(URL, content=data, headers={"content-type": "application/json"})
    assert put.status_code == 200, put.text
    assert put.json()["count"] == 300
    again = api.write.put(URL, json=body)
    assert again.json() == put.json()
    emptied = api.write.put(URL, json=[])
    assert emptied.json() == {"number": NUMBER, "count": 0, "max": 300, "entries": []}


def test_BOOK_1_api_refusals_change_nothing(api: Api) -> None:
    a_number(api.sessions)
    api.write.post(URL, json={"caller_number": "0398765432", "name": "山田商事"})
    full = [{"caller_number": f"03{i:08d}", "name": f"n{i}"} for i in range(301)]
    refused(api, "PUT", URL, 422, "invalid_request", json=full)
    problem = refused(
        api,
        "PUT",
        URL,
        409,
        "phonebook_entry_twice",
        json=[
            {"caller_number": "0311112222", "name": "a"},
            {"caller_number": "03-1111-2222", "name": "b"},
        ],
    )
    assert problem["field"] == "entries.1.caller_number"
    problem = refused(
        api,
        "PUT",
        URL,
        422,
        "caller_name_control",
        json=[
            {"caller_number": "0311112222", "name": "ok"},
            {"caller_number": "0311113333", "name": "a\r\nb"},
        ],
    )
    assert problem["field"] == "entries.1.name"
    for body, status, code in [
        ({"caller_number": "0398765432", "name": "二度目"}, 409, "phonebook_entry_exists"),
        ({"caller_number": "0311112222", "name": "\u202eabc"}, 422, "caller_name_control"),
        ({"caller_number": "0311112222", "name": "a\x00"}, 422, "caller_name_control"),
        ({"caller_number": "0311112222", "name": "x" * 41}, 422, "caller_name_too_long"),
        ({"caller_number": "0311112222", "name": "x" * 1000}, 422, "invalid_request"),
        ({"caller_number": "0311112222", "name": ""}, 422, "caller_name_empty"),
        (
            {"caller_number": "0311112222", "name": "ok", "note": "n" * 101},
            422,
            "phonebook_note_too_long",
        ),
        ({"caller_number": "anonymous", "name": "ok"}, 422, "phonebook_number_not_digits"),
        ({"caller_number": 311112222, "name": "ok"}, 422, "invalid_request"),
        ({"caller_number": "0311112222", "name": "ok", "extra": 1}, 422, "invalid_request"),
    ]:
        refused(api, "POST", URL, status, code, json=body)
    refused(api, "PATCH", f"{URL}/0311112222", 404, "phonebook_entry_not_found", json={"note": "x"})
    refused(api, "PATCH", f"{URL}/0398765432", 422, "caller_name_control", json={"name": "a\nb"})
    refused(api, "DELETE", f"{URL}/0311112222", 404, "phonebook_entry_not_found")
    refused(api, "GET", "/api/v1/numbers/0399999999/phonebook", 404, "not_found")
    refused(api, "POST", URL + "x", 404, "not_found", json={})


def test_BOOK_1_api_writes_need_a_write_token_and_bodies_are_bounded(api: Api) -> None:
    a_number(api.sessions)
    before = api.state()
    assert api.read.post(URL, json={"caller_number": "0311112222", "name": "a"}).status_code == 403
    assert api.read.put(URL, json=[]).status_code == 403
    assert api.read.delete(f"{URL}/0311112222").status_code == 403
    assert api.anon.get(URL).status_code == 401
    huge = api.write.put(
        URL, content=b"[" + b" " * (600 * 1024) + b"]", headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.json()["params"] == {"max": 512 * 1024}
    one = api.write.post(
        URL, content=b"{" + b" " * (70 * 1024) + b"}", headers={"content-type": "application/json"}
    )
    assert one.status_code == 413 and one.json()["params"] == {"max": 64 * 1024}
    assert api.state() == before
