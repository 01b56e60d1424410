"""The API's mail settings (issue 18, MAIL-1 ... MAIL-5) and its 送信テスト (MAIL-2).

``GET/PUT /numbers/{n}/mail`` is the whole setting: started, the two
conditions, the addresses and the designated numbers, written in one
transaction through ``store.service``; ``POST /numbers/{n}/mail/test``
mails one test message through the node's mailer (aiosmtpd here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap
from chakushin.config import Config, MailConfig
from store import db, service
from store.models import Service
from tests.api.conftest import Api
from tests.notifier.smtp_server import SmtpServer

NUMBER = "0312345678"
URL = f"/api/v1/numbers/{NUMBER}/mail"


def a_number(sessions: sessionmaker[Session], services: frozenset[Service] | None = None) -> None:
    with db.transaction(sessions) as s:
        service.add_line(
            s, NUMBER, timezone="Asia/Tokyo", services=services or service.ALL_SERVICES
        )


def whole(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "started": True,
        "unanswered_only": True,
        "designated_only": True,
        "addresses": [
            {"address": "Taro@example.jp", "send": True},
            {"address": "hanako@example.jp", "send": False},
        ],
        "designated_numbers": [
            {"caller_number": "0311112222", "designated": True},
            {"caller_number": "090-1234-5678", "designated": False},
        ],
    }
    body.update(changes)
    return body


def stored(api: Api) -> dict[str, Any]:
    with db.transaction(api.sessions, read_only=True) as s:
        mail: dict[str, Any] = service.describe_number(service.get_number(s, NUMBER))["mail"]
        return mail


def refused(api: Api, response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    assert body["type"] == f"urn:chakushin:problem:{code}"


# --- GET / PUT the whole setting ----------------------------------------------------------


def test_issue18_MAIL_1_to_5_put_stores_the_whole_mail_setting_and_get_reads_it(api: Api) -> None:
    a_number(api.sessions)
    r = api.write.put(URL, json=whole())
    assert r.status_code == 200, r.text
    assert stored(api) == {
        "started": True,
        "designated_only": True,
        "unanswered_only": True,
        "warnings": [],
        "addresses": [
            {"position": 1, "address": "Taro@example.jp", "send": True},
            {"position": 2, "address": "hanako@example.jp", "send": False},
        ],
        "designated_numbers": [
            {"position": 1, "caller_number": "0311112222", "designated": True},
            {"position": 2, "caller_number": "09012345678", "designated": False},
        ],
    }
    got = api.read.get(URL)
    assert got.status_code == 200
    assert got.json() == r.json()
    assert got.json() == {
        "number": NUMBER,
        "subscribed": True,
        "started": True,
        "unanswered_only": True,
        "designated_only": True,
        "warnings": [],
        "addresses": [
            {"position": 1, "address": "Taro@example.jp", "send": True},
            {"position": 2, "address": "hanako@example.jp", "send": False},
        ],
        "designated_numbers": [
            {"position": 1, "caller_number": "0311112222", "designated": True},
            {"position": 2, "caller_number": "09012345678", "designated": False},
        ],
    }


def test_issue18_MAIL_2_put_twice_stores_the_same_rows_nothing_doubled(api: Api) -> None:
    a_number(api.sessions)
    assert api.write.put(URL, json=whole()).status_code == 200
    once = api.state()
    again = api.write.put(URL, json=whole())
    assert again.status_code == 200
    assert api.state() == once
    assert len(once["destination_address"]) == 2 and len(once["designated_number"]) == 2


def test_issue18_MAIL_2_put_replaces_the_lists_in_their_order(api: Api) -> None:
    a_number(api.sessions)
    api.write.put(URL, json=whole())
    body = whole(
        addresses=[{"address": "new@example.jp"}, {"address": "taro@example.jp", "send": False}],
        designated_numbers=[{"caller_number": "0333334444"}],
    )
    r = api.write.put(URL, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["addresses"] == [
        {"position": 1, "address": "new@example.jp", "send": True},
        {"position": 2, "address": "taro@example.jp", "send": False},
    ]
    assert r.json()["designated_numbers"] == [
        {"position": 1, "caller_number": "0333334444", "designated": True}
    ]
    assert stored(api)["addresses"] == r.json()["addresses"]


def test_issue18_MAIL_1_stop_and_empty_in_one_put(api: Api) -> None:
    a_number(api.sessions)
    api.write.put(URL, json=whole())
    empty = whole(started=False, designated_only=False, addresses=[], designated_numbers=[])
    r = api.write.put(URL, json=empty)
    assert r.status_code == 200, r.text
    assert stored(api) == {
        "started": False,
        "designated_only": False,
        "unanswered_only": True,
        "warnings": [],
        "addresses": [],
        "designated_numbers": [],
    }


def test_issue18_MAIL_1_start_without_an_address_is_refused_and_nothing_changes(api: Api) -> None:
    a_number(api.sessions)
    before = api.state()
    r = api.write.put(URL, json=whole(addresses=[]))
    refused(api, r, 422, "start_without_address", "started")
    assert api.state() == before
    # the same refusal when the service is started now and the PUT empties it
    api.write.put(URL, json=whole())
    before = api.state()
    r = api.write.put(URL, json=whole(addresses=[]))
    refused(api, r, 422, "start_without_address", "started")
    assert api.state() == before


@pytest.mark.parametrize("stored_first", [False, True])
def test_issue18_MAIL_4_designated_only_without_a_flagged_number_is_refused(
    api: Api, stored_first: bool
) -> None:
    a_number(api.sessions)
    if stored_first:
        api.write.put(URL, json=whole())
    before = api.state()
    body = whole(designated_numbers=[{"caller_number": "0311112222", "designated": False}])
    r = api.write.put(URL, json=body)
    refused(api, r, 422, "designated_only_without_numbers", "designated_only")
    assert api.state() == before


def test_issue18_MAIL_3_a_bad_or_doubled_address_is_refused_by_its_entry(api: Api) -> None:
    a_number(api.sessions)
    before = api.state()
    bad = whole(addresses=[{"address": "ok@example.jp"}, {"address": ".taro@example.jp"}])
    refused(api, api.write.put(URL, json=bad), 422, "address_leading_dot", "addresses.1.address")
    twice = whole(addresses=[{"address": "a@example.jp"}, {"address": "A@example.jp"}])
    refused(api, api.write.put(URL, json=twice), 409, "already_exists", "addresses.1.address")
    doubled = whole(
        designated_numbers=[{"caller_number": "0311112222"}, {"caller_number": "03-1111-2222"}]
    )
    refused(
        api,
        api.write.put(URL, json=doubled),
        409,
        "already_exists",
        "designated_numbers.1.caller_number",
    )
    assert api.state() == before


def test_issue18_MAIL_1_a_number_without_the_mail_service_is_refused(api: Api) -> None:
    a_number(api.sessions, frozenset({Service.NUISANCE}))
    before = api.state()
    refused(api, api.write.put(URL, json=whole()), 422, "not_subscribed", "number")
    assert api.state() == before
    got = api.read.get(URL)
    assert got.status_code == 200
    assert got.json()["subscribed"] is False and got.json()["started"] is False


def test_issue18_MAIL_4_get_warns_of_a_stored_setting_that_mails_nothing(api: Api) -> None:
    a_number(api.sessions)
    with db.transaction(api.sessions) as s:  # stored so before the rule, or by hand
        service.get_number(s, NUMBER).notification.designated_only = True
    assert api.read.get(URL).json()["warnings"] == ["designated_only_without_numbers"]


def test_issue18_api_mail_unknown_number_is_404(api: Api) -> None:
    refused(api, api.read.get("/api/v1/numbers/0399999999/mail"), 404, "not_found", "number")
    r = api.write.put("/api/v1/numbers/0399999999/mail", json=whole())
    refused(api, r, 404, "not_found", "number")
    r = api.write.post("/api/v1/numbers/0399999999/mail/test", json={"address": "a@example.jp"})
    assert r.status_code == 404


def test_issue18_api_mail_read_token_may_not_write(api: Api) -> None:
    a_number(api.sessions)
    before = api.state()
    refused(api, api.read.put(URL, json=whole()), 403, "forbidden", None)
    r = api.read.post(f"{URL}/test", json={"address": "a@example.jp"})
    refused(api, r, 403, "forbidden", None)
    assert api.state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (whole(addresses=[{"address": f"a{i}@example.jp"} for i in range(6)]), "addresses"),
        (
            whole(designated_numbers=[{"caller_number": f"03111122{i:02d}"} for i in range(31)]),
            "designated_numbers",
        ),
        (whole(addresses=[{"address": "a" * 250 + "@example.jp"}]), "addresses.0.address"),
        (
            whole(designated_numbers=[{"caller_number": "0" * 65}]),
            "designated_numbers.0.caller_number",
        ),
        (whole(started="yes"), "started"),
        (whole(unanswered_only=1), "unanswered_only"),
        (whole(addresses=[{"address": "a@example.jp", "send": "true"}]), "addresses.0.send"),
        (whole(addresses="a@example.jp"), "addresses"),
        (whole(colour="red"), "colour"),
        (whole(addresses=[{"address": "a@example.jp", "position": 3}]), "addresses.0.position"),
        ({"started": False}, "unanswered_only"),
    ],
)
def test_issue18_api_mail_hostile_bodies_are_422_and_change_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    a_number(api.sessions)
    before = api.state()
    refused(api, api.write.put(URL, json=body), 422, "invalid_request", field)
    assert api.state() == before


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("taro\r\nBcc: x@example.jp", "address_local_chars"),
        ("taro@exa\x00mple.jp", "address_domain_chars"),
        ("taro@@example.jp", "address_at_count"),
    ],
)
def test_issue18_MAIL_3_control_characters_in_an_address_are_refused(
    api: Api, address: str, code: str
) -> None:
    a_number(api.sessions)
    before = api.state()
    r = api.write.put(URL, json=whole(addresses=[{"address": address}]))
    refused(api, r, 422, code, "addresses.0.address")
    assert api.state() == before


@pytest.mark.parametrize("number", ["0" * 33, "03%00", "0312345678%0A", "%EF%BC%90312345678"])
def test_issue18_api_mail_number_in_the_path_is_digits_and_limited(api: Api, number: str) -> None:
    # a NUL byte reached PostgreSQL, which refused the query: 503, as if the store were down
    r = api.read.get(f"/api/v1/numbers/{number}/mail")
    refused(api, r, 422, "invalid_request", "number")
    r = api.write.put(f"/api/v1/numbers/{number}/mail", json=whole())
    refused(api, r, 422, "invalid_request", "number")


# --- 送信テスト (MAIL-2) -------------------------------------------------------------------


@pytest.fixture
def mailer(api: Api, smtp: SmtpServer) -> Iterator[SmtpServer]:
    """The API's 送信テスト through the configured mailer, to the test SMTP server."""
    config = Config(
        mail=MailConfig(
            smtp_host="127.0.0.1", smtp_port=smtp.port, from_address="chakushin@example.jp"
        )
    )
    api.deps.send_test = bootstrap.send_test(config, api.sessions)
    yield smtp
    api.deps.send_test = None


def test_issue18_MAIL_2_send_test_mails_the_address_now(api: Api, mailer: SmtpServer) -> None:
    a_number(api.sessions)
    api.write.put(URL, json=whole())
    r = api.write.post(f"{URL}/test", json={"address": "hanako@example.jp"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["address"], body["outcome"], body["accepted"]) == (
        "hanako@example.jp",
        "sent",
        True,
    )
    assert body["permanent"] is False
    assert mailer.inbox.wait_for(1, 10)
    assert [str(m["To"]) for m in mailer.inbox.messages] == ["hanako@example.jp"]
    # a saved address's failure flag goes as the site's test does (issue 16)
    with db.transaction(api.sessions, read_only=True) as s:
        saved = {a.address: a.test_sent_at for a in service.get_number(s, NUMBER).addresses}
    assert saved["hanako@example.jp"] is not None and saved["Taro@example.jp"] is None


def test_issue18_MAIL_2_send_test_of_an_address_not_saved_yet(api: Api, mailer: SmtpServer) -> None:
    a_number(api.sessions)
    before = api.state()
    r = api.write.post(f"{URL}/test", json={"address": "typed@example.jp"})
    assert r.status_code == 200 and r.json()["outcome"] == "sent"
    assert mailer.inbox.wait_for(1, 10)
    assert api.state() == before


@pytest.mark.parametrize(
    ("reply", "outcome", "permanent"),
    [("550 5.1.1 no such user", "refused", True), ("451 4.3.0 try again later", "deferred", False)],
)
def test_issue18_MAIL_2_send_test_says_refused_for_good_or_try_later(
    api: Api, mailer: SmtpServer, reply: str, outcome: str, permanent: bool
) -> None:
    a_number(api.sessions)
    mailer.inbox.refusals.append(reply)
    r = api.write.post(f"{URL}/test", json={"address": "gone@example.jp"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["accepted"], body["permanent"]) == (outcome, False, permanent)
    assert body["reply"].startswith(reply[:3])  # the operator is shown the reply, as the CLI does
    assert mailer.inbox.messages == []


def test_issue18_MAIL_2_send_test_to_a_server_that_does_not_answer(
    api: Api, mailer: SmtpServer
) -> None:
    a_number(api.sessions)
    mailer.stop()
    r = api.write.post(f"{URL}/test", json={"address": "a@example.jp"})
    assert r.status_code == 200, r.text
    assert (r.json()["outcome"], r.json()["accepted"]) == ("unreachable", False)


def test_issue18_MAIL_3_send_test_checks_the_address_and_number_first(
    api: Api, mailer: SmtpServer
) -> None:
    a_number(api.sessions)
    before = api.state()
    r = api.write.post(f"{URL}/test", json={"address": "taro@@example.jp"})
    refused(api, r, 422, "address_at_count", "address")
    r = api.write.post("/api/v1/numbers/0399999999/mail/test", json={"address": "a@example.jp"})
    refused(api, r, 404, "not_found", "number")
    r = api.write.post(f"{URL}/test", json={"address": "a" * 255})
    refused(api, r, 422, "invalid_request", "address")
    r = api.write.post(f"{URL}/test", json={"address": "a@example.jp", "cc": "b@example.jp"})
    refused(api, r, 422, "invalid_request", "cc")
    assert mailer.inbox.messages == []
    assert api.state() == before


def test_issue18_MAIL_2_send_test_without_a_mailer_is_404_send_test_unavailable(
    api: Api,
) -> None:
    a_number(api.sessions)
    assert api.deps.send_test is None
    r = api.write.post(f"{URL}/test", json={"address": "a@example.jp"})
    refused(api, r, 404, "send_test_unavailable", None)
