"""The API's chat and webhook destinations (issue 19, CHAT-1, CHAT-2), on both databases.

``GET/POST /numbers/{n}/destinations``, ``PATCH/DELETE .../{position}`` and
``POST .../{position}/rotate-secret``, every value through ``store.destinations``;
no answer holds a URL's secret part, a token or a signing secret except the
secret once when it is made; a refused request changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap
from chakushin.config import ChatConfig, Config
from store import db, destinations, service
from store.models import Service
from tests.api.conftest import Api
from tests.web.chat_receiver import receiving

NUMBER, OTHER = "0312345678", "0312345679"
URL = f"/api/v1/numbers/{NUMBER}/destinations"
SLACK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/SlackS3cr3tToken0123"
DISCORD = "https://discord.com/api/webhooks/123456789012345678/DiscordS3cr3tToken"
HOOK = "https://hooks.example.com/in/HookS3cr3tPath"
TOKEN = "0123456789abcdefCHATWORKs3cr3t99"


def a_number(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_number(s, NUMBER, OTHER, timezone="Asia/Tokyo", services=())


def no_credentials(text: str) -> None:
    assert "S3cr3t" not in text and TOKEN not in text, text


def refused(api: Api, method: str, url: str, status: int, code: str, **kw: Any) -> dict[str, Any]:
    before = api.state()
    answer = api.write.request(method, url, **kw)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    assert api.state() == before
    no_credentials(answer.text)
    return problem


def test_CHAT_1_api_add_list_patch_delete_masked(api: Api) -> None:
    a_number(api.sessions)
    added = api.write.post(URL, json={"kind": "slack", "url": SLACK, "label": " 営業部 "})
    assert added.status_code == 201, added.text
    assert added.json() == {
        "position": 1,
        "kind": "slack",
        "name": "営業部",
        "label": "営業部",
        "shown_url": "https://hooks.slack.com/services/T0…/••••",
        "room_id": None,
        "send": True,
        "signed": False,
        "test_sent_at": None,
        "secret": None,
    }
    chatwork = api.write.post(
        URL, json={"kind": "chatwork", "room_id": "42", "token": TOKEN, "send": False}
    )
    assert chatwork.status_code == 201, chatwork.text
    no_credentials(added.text + chatwork.text)
    got = api.read.get(URL)
    assert got.status_code == 200
    body = got.json()
    assert (body["number"], body["count"], body["max"]) == (NUMBER, 2, 3)
    assert [
        (d["position"], d["name"], d["shown_url"], d["send"]) for d in body["destinations"]
    ] == [
        (1, "営業部", "https://hooks.slack.com/services/T0…/••••", True),
        (2, "Chatwork", "chatwork room 42", False),
    ]
    no_credentials(got.text)
    patched = api.write.patch(f"{URL}/2", json={"send": True, "label": "本社"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["send"], patched.json()["name"]) == (True, "本社")
    assert api.write.patch(f"{URL}/2", json={}).json()["name"] == "本社"
    deleted = api.write.delete(f"{URL}/1")
    assert deleted.status_code == 204 and deleted.content == b""
    assert [d["position"] for d in api.read.get(URL).json()["destinations"]] == [2]


def test_CHAT_2_api_webhook_secret_once_and_rotated(api: Api) -> None:
    a_number(api.sessions)
    added = api.write.post(URL, json={"kind": "webhook", "url": HOOK})
    assert added.status_code == 201, added.text
    secret = added.json()["secret"]
    assert secret.startswith("whsec_") and added.json()["signed"] is True
    listed = api.read.get(URL).text
    assert secret not in listed and "whsec_" not in listed
    no_credentials(listed)
    rotated = api.write.post(f"{URL}/1/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert rotated.json()["position"] == 1 and new.startswith("whsec_") and new != secret
    with db.transaction(api.sessions) as s:
        assert destinations.destination_row(s, NUMBER, 1).secret == new
    api.write.post(URL, json={"kind": "slack", "url": SLACK})
    refused(api, "POST", f"{URL}/2/rotate-secret", 422, "destination_not_webhook")
    refused(api, "POST", f"{URL}/3/rotate-secret", 404, "destination_not_found")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"kind": "webhook", "url": "https://user:pass@hooks.example.com/"},
            422,
            "chat_url_userinfo",
        ),
        ({"kind": "webhook", "url": HOOK + "#frag"}, 422, "chat_url_fragment"),
        ({"kind": "webhook", "url": "https://hooks.example.com/a b"}, 422, "chat_url_chars"),
        ({"kind": "webhook", "url": "https://hooks.example.com/\r\nX: y"}, 422, "chat_url_chars"),
        ({"kind": "webhook", "url": "https://例え.jp/"}, 422, "chat_url_not_ascii"),
        ({"kind": "webhook", "url": HOOK + "a" * (501 - len(HOOK))}, 422, "chat_url_too_long"),
        ({"kind": "webhook", "url": "x" * 1001}, 422, "invalid_request"),
        ({"kind": "webhook", "url": "http://hooks.example.com/"}, 422, "chat_url_http"),
        ({"kind": "webhook", "url": "https://127.0.0.1/"}, 422, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://[::1]/"}, 422, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://10.0.0.1/"}, 422, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://169.254.169.254/"}, 422, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://localhost/"}, 422, "chat_url_not_public"),
        ({"kind": "webhook", "url": "https://2130706433/"}, 422, "chat_url_ip_form"),
        ({"kind": "webhook", "url": "https://0x7f.1/"}, 422, "chat_url_ip_form"),
        ({"kind": "slack", "url": "https://evil.example/services/T0/B0/x"}, 422, "chat_url_slack"),
        (
            {"kind": "discord", "url": "https://discord.com/api/webhooks/123456789012345678"},
            422,
            "chat_url_discord",
        ),
        (
            {
                "kind": "teams",
                "url": "https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/c",
            },
            422,
            "chat_url_teams_connector",
        ),
        ({"kind": "chatwork", "room_id": "12ab", "token": TOKEN}, 422, "chatwork_room_format"),
        (
            {"kind": "chatwork", "room_id": "12", "token": "abc def 0123456789"},
            422,
            "chatwork_token_format",
        ),
        ({"kind": "chatwork", "room_id": "12"}, 422, "chatwork_token_format"),
        ({"kind": "slack", "url": SLACK, "token": TOKEN}, 422, "destination_chatwork_only"),
        ({"kind": "slack"}, 422, "chat_url_empty"),
        ({"kind": "line", "url": SLACK}, 422, "invalid_request"),
        ({"kind": "slack", "url": SLACK, "send": "yes"}, 422, "invalid_request"),
        ({"kind": "slack", "url": SLACK, "secret": "mine"}, 422, "invalid_request"),
        ({"kind": "slack", "url": SLACK, "label": "a\nb"}, 422, "destination_label_format"),
        ({"kind": "slack", "url": DISCORD}, 422, "chat_url_slack"),
        ({"kind": "discord", "url": DISCORD}, 409, "destination_duplicate"),
    ],
)
def test_CHAT_1_api_hostile_bodies_change_nothing(
    api: Api, body: dict[str, Any], status: int, code: str
) -> None:
    a_number(api.sessions)
    assert api.write.post(URL, json={"kind": "discord", "url": DISCORD}).status_code == 201
    problem = refused(api, "POST", URL, status, code, json=body)
    assert "hooks.example.com/" not in problem["title"]


def test_CHAT_1_api_a_fourth_destination_and_positions(api: Api) -> None:
    a_number(api.sessions)
    for body in (
        {"kind": "slack", "url": SLACK},
        {"kind": "discord", "url": DISCORD},
        {"kind": "webhook", "url": HOOK},
    ):
        assert api.write.post(URL, json=body).status_code == 201
    problem = refused(
        api, "POST", URL, 422, "destinations_full", json={"kind": "webhook", "url": HOOK + "2"}
    )
    assert problem["params"] == {"limit": 3}
    refused(api, "PATCH", f"{URL}/4", 422, "invalid_request", json={"send": False})
    refused(api, "DELETE", f"{URL}/0", 422, "invalid_request")
    refused(api, "PATCH", f"{URL}/1", 422, "invalid_request", json={"send": 0})
    refused(api, "PATCH", f"{URL}/1", 422, "destination_label_format", json={"label": "x" * 21})


def test_CHAT_1_api_scope_subscription_and_unknown_numbers(api: Api) -> None:
    a_number(api.sessions)
    assert api.read.post(URL, json={"kind": "slack", "url": SLACK}).status_code == 403
    assert api.anon.get(URL).status_code == 401
    refused(
        api,
        "POST",
        f"/api/v1/numbers/{OTHER}/destinations",
        422,
        "not_subscribed",
        json={"kind": "slack", "url": SLACK},
    )
    refused(api, "GET", "/api/v1/numbers/0399999999/destinations", 404, "not_found")
    refused(api, "DELETE", f"{URL}/1", 404, "destination_not_found")
    with db.transaction(api.sessions) as s:
        assert service.get_number(s, OTHER).subscribes(Service.MAIL) is False


def test_CHAT_3_api_allowed_hosts_from_its_deps(api: Api) -> None:
    a_number(api.sessions)
    url = "http://127.0.0.1:8123/hook"
    refused(api, "POST", URL, 422, "chat_url_http", json={"kind": "webhook", "url": url})
    api.deps.chat_allow_hosts = ("127.0.0.1",)
    added = api.write.post(URL, json={"kind": "webhook", "url": url})
    assert added.status_code == 201, added.text
    assert added.json()["shown_url"] == "http://127.0.0.1:8123/••••"


def test_MAIL_2_api_destination_send_test_posts_now(api: Api) -> None:
    """``POST .../destinations/{position}/test``: the 送信テスト posted now to a real receiver
    through the node's sender; accepted, its time is stamped (as the site's button);
    refused, 200 with the outcome and nothing stamped; no sender on the node: 404."""
    a_number(api.sessions)
    api.deps.chat_allow_hosts = ("127.0.0.1",)
    test_url = f"{URL}/1/test"
    refused(api, "POST", URL + "/1/test", 404, "send_test_unavailable")
    config = Config(chat=ChatConfig(allow_hosts=("127.0.0.1",), timeout_seconds=5.0))
    api.deps.chat_send_test = bootstrap.chat_send_test(config, api.sessions)
    with receiving() as receiver:
        added = api.write.post(URL, json={"kind": "webhook", "url": receiver.url("/S3cr3t")})
        assert added.status_code == 201, added.text
        assert api.read.post(test_url).status_code == 403
        assert receiver.received == []
        answer = api.write.post(test_url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["position"], body["outcome"], body["accepted"]) == (1, "sent", True)
        assert body["reply"].startswith("HTTP 200")
        [got] = receiver.wait_for(1)
        assert got.headers["webhook-id"].startswith("msg_test_") and got.path == "/S3cr3t"
        listed = api.read.get(URL).json()["destinations"][0]
        assert listed["test_sent_at"] == api.clock().isoformat().replace("+00:00", "Z")
        receiver.answers.append(410)
        before = api.state()
        gone = api.write.post(test_url).json()
        assert (gone["outcome"], gone["accepted"], gone["permanent"]) == ("refused", False, True)
        assert gone["reply"].startswith("HTTP 410")
        assert api.state() == before
        receiver.answers.append(503)
        later = api.write.post(test_url).json()
        assert (later["outcome"], later["accepted"]) == ("deferred", False)
    refused(api, "POST", f"{URL}/2/test", 404, "destination_not_found")
    refused(api, "POST", f"/api/v1/numbers/{OTHER}/destinations/1/test", 422, "not_subscribed")
