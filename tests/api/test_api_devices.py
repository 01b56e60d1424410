"""Issue 18 API: device names (issue 17 MAIL-9; ``chakushin device``), on both databases."""

from __future__ import annotations

from typing import Any

from httpx import Response

from store import db, service, validation
from store.models import DeviceLabel
from tests.api.conftest import Api

LABELS = "/api/v1/device-labels"


def refused(r: Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    return body


def names(api: Api) -> dict[str, str]:
    with db.transaction(api.sessions) as s:
        return service.device_labels(s)


def test_issue18_put_device_label_names_and_renames(api: Api) -> None:
    r = api.write.put(f"{LABELS}/pjsip/201", json={"label": " 受付 "})
    assert r.status_code == 201, r.text
    # As stored: Asterisk's case, the name stripped.
    assert r.json() == {"interface": "PJSIP/201", "label": "受付"}
    r = api.write.put(f"{LABELS}/Local/desk@phones/n", json={"label": "総務"})
    assert r.status_code == 201, r.text
    assert names(api) == {"Local/desk@phones/n": "総務", "PJSIP/201": "受付"}
    after = api.state()
    r = api.write.put(f"{LABELS}/PJSIP/201", json={"label": "受付"})
    assert r.status_code == 200, r.text
    assert api.state() == after
    r = api.write.put(f"{LABELS}/PJSIP/201", json={"label": "営業"})
    assert r.status_code == 200
    assert names(api)["PJSIP/201"] == "営業"
    assert len(api.state()["device_label"]) == 2
    # The number's devices show the name.
    api.write.put("/api/v1/lines/0312345678", json={"endpoint": "PJSIP/201"})
    shown = api.read.get("/api/v1/numbers/0312345678").json()["devices"]
    assert shown == [{"interface": "PJSIP/201", "label": "営業"}]


def test_issue18_delete_device_label(api: Api) -> None:
    api.write.put(f"{LABELS}/PJSIP/201", json={"label": "受付"})
    r = api.write.delete(f"{LABELS}/pjsip/201")
    assert r.status_code == 204, r.text
    assert names(api) == {}
    refused(api.write.delete(f"{LABELS}/PJSIP/201"), 404, "not_found", "interface")
    refused(api.write.delete(f"{LABELS}/PJSIP"), 422, "interface_format", "interface")


def test_issue18_device_label_refusals_change_nothing(api: Api) -> None:
    api.write.put(f"{LABELS}/PJSIP/201", json={"label": "受付"})
    before = api.state()
    for path, body, code, field in [
        ("PJSIP/201", {"label": "x" * 21}, "device_label_format", "label"),
        ("PJSIP/201", {"label": "   "}, "device_label_format", "label"),
        ("PJSIP/201", {"label": "受付\u200b"}, "device_label_format", "label"),
        ("PJSIP/201", {"label": "受\n付"}, "device_label_format", "label"),
        ("PJSIP/201", {"label": "\u3164"}, "device_label_format", "label"),
        ("PJSIP", {"label": "受付"}, "interface_format", "interface"),
        ("PJSIP/2 01", {"label": "受付"}, "interface_format", "interface"),
        ("PJSIP/201,x", {"label": "受付"}, "interface_format", "interface"),
        ("PJSIP/" + "2" * 94, {"label": "受付"}, "interface_format", "interface"),
        ("PJSIP/201", {"label": "x" * 41}, "invalid_request", "label"),
        ("PJSIP/201", {"label": 5}, "invalid_request", "label"),
        ("PJSIP/201", {}, "invalid_request", "label"),
        ("PJSIP/201", {"label": "受付", "interface": "PJSIP/202"}, "invalid_request", "interface"),
        ("PJSIP/" + "2" * 101, {"label": "受付"}, "invalid_request", "interface"),
    ]:
        refused(api.write.put(f"{LABELS}/{path}", json=body), 422, code, field)
        assert api.state() == before, (path, body)


def test_issue18_device_labels_full_is_refused(api: Api) -> None:
    with db.transaction(api.sessions) as s:
        s.add_all(
            DeviceLabel(interface=f"PJSIP/{i}", label="x")
            for i in range(validation.MAX_DEVICE_LABELS)
        )
    before = api.state()
    refused(
        api.write.put(f"{LABELS}/PJSIP/new", json={"label": "受付"}),
        422,
        "device_labels_full",
        "interface",
    )
    assert api.state() == before
    assert api.write.put(f"{LABELS}/PJSIP/7", json={"label": "受付"}).status_code == 200


def test_issue18_device_labels_read_token_may_not_write(api: Api) -> None:
    api.write.put(f"{LABELS}/PJSIP/201", json={"label": "受付"})
    before = api.state()
    refused(api.read.put(f"{LABELS}/PJSIP/201", json={"label": "営業"}), 403, "forbidden")
    refused(api.read.put(f"{LABELS}/PJSIP/202", json={"label": "営業"}), 403, "forbidden")
    refused(api.read.delete(f"{LABELS}/PJSIP/201"), 403, "forbidden")
    assert api.state() == before
    assert api.read.get(LABELS).json()["items"] == [{"interface": "PJSIP/201", "label": "受付"}]


def test_issue18_device_labels_pages_walk_every_name_once(api: Api) -> None:
    interfaces = sorted(
        [
            "PJSIP/201",
            "PJSIP/202",
            "SIP/alice",
            "Local/desk@phones/n",
            "Local/a#1@x/n",
            "IAX2/peer:5",
            "DAHDI/1",
            "PJSIP/+8131",
        ]
    )
    for i in interfaces:
        r = api.write.put(f"{LABELS}/{i.replace('#', '%23')}", json={"label": i[-3:]})
        assert r.status_code == 201, (i, r.text)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        r = api.read.get(LABELS, params=params)
        assert r.status_code == 200, r.text
        pages += 1
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [x["interface"] for x in seen] == interfaces
    assert all(x["label"] == x["interface"][-3:] for x in seen)
    for bad in ["a/b", "%%%", "x" * 200]:
        refused(api.read.get(LABELS, params={"cursor": bad}), 422, "invalid_request", "cursor")


def test_issue18_device_label_interface_with_nul_is_the_domains_422(api: Api) -> None:
    """PostgreSQL refuses NUL in a query: the interface's form is checked first."""
    before = api.state()
    for r in [
        api.write.put(f"{LABELS}/PJSIP/%00", json={"label": "受付"}),
        api.write.delete(f"{LABELS}/PJSIP/%00"),
    ]:
        refused(r, 422, "interface_format", "interface")
    assert api.state() == before
