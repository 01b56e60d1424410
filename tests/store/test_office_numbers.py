"""Issue 17 (CALL-1, MAIL-9): office numbers in the store, on SQLite and PostgreSQL.

A number rings up to eight devices at once (``PJSIP/201&PJSIP/202&…``, each
checked as one device is) or waits in an Asterisk queue with its own
timeout, never both; devices and queue members can be given names for the
mail. Every refusal leaves the stored number exactly as it was. The longest
values fit the columns, which PostgreSQL enforces.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import db, service, validation
from store.errors import DomainError, InvalidInput, LimitExceeded, NotFound
from store.models import DeviceLabel, Presentation

NUMBER, TZ = "0312345678", "Asia/Tokyo"
GROUP = "PJSIP/201&PJSIP/202&Local/desk@phones"


@pytest.fixture
def office(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone=TZ, endpoint="PJSIP/reception")
    return sessions


def shown(sessions: sessionmaker[Session]) -> dict[str, object]:
    with db.transaction(sessions, read_only=True) as s:
        return service.describe_number(service.get_number(s, NUMBER))


def test_issue17_CALL_1_a_number_rings_several_devices_and_shows_each(
    office: sessionmaker[Session],
) -> None:
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint=GROUP)
    view = shown(office)
    assert view["endpoint"] == GROUP
    assert view["devices"] == ["PJSIP/201", "PJSIP/202", "Local/desk@phones"]
    assert view["queue"] is None


def test_issue17_CALL_1_the_longest_group_fits_the_column_on_both_databases(
    office: sessionmaker[Session],
) -> None:
    longest = "&".join(
        f"PJSIPABCDEFGHIJK/{str(i) * 80}" for i in range(1, validation.MAX_DEVICES + 1)
    )
    assert len(longest) <= validation.MAX_ENDPOINT
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint=longest)
    assert shown(office)["endpoint"] == longest


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [
        ("PJSIP/201&", "endpoint_format"),
        ("&PJSIP/201", "endpoint_format"),
        ("PJSIP/201&&PJSIP/202", "endpoint_format"),
        ("PJSIP/201& PJSIP/202", "endpoint_format"),
        ("PJSIP/201&PJSIP/202,30", "endpoint_format"),
        ("PJSIP/201&PJSIP/2\r\n02", "endpoint_format"),
        ("PJSIP/201|PJSIP/202", "endpoint_format"),
        ("PJSIP/201&pjsip/201", "endpoint_duplicate_device"),
        ("&".join(f"PJSIP/{i}" for i in range(9)), "endpoint_too_many_devices"),
        ("PJSIP/" + "1" * 900, "endpoint_too_long"),
    ],
)
def test_issue17_CALL_1_a_bad_group_is_refused_and_nothing_changes(
    office: sessionmaker[Session], endpoint: str, code: str
) -> None:
    before = shown(office)
    with pytest.raises(InvalidInput) as refused, db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint=endpoint)
    assert refused.value.code == code
    assert shown(office) == before


def test_issue17_CALL_1_a_queue_replaces_the_devices_and_devices_replace_the_queue(
    office: sessionmaker[Session],
) -> None:
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, queue="sales", queue_seconds=45)
    view = shown(office)
    assert (view["endpoint"], view["devices"], view["queue"], view["queue_seconds"]) == (
        None,
        [],
        "sales",
        45,
    )
    with db.transaction(office) as s:
        settings = service.route_incoming_call(
            s,
            NUMBER,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            now=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
        )
    assert settings is not None
    assert (settings.queue, settings.queue_seconds, settings.endpoint) == ("sales", 45, None)
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint="PJSIP/201&PJSIP/202")
    view = shown(office)
    assert (view["queue"], view["queue_seconds"], view["devices"]) == (
        None,
        None,
        ["PJSIP/201", "PJSIP/202"],
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"queue": "sales", "endpoint": "PJSIP/201"}, "endpoint_or_queue"),
        ({"queue_seconds": 30}, "queue_seconds_without_queue"),
        ({"queue": "sales", "clear_queue": True}, "rule_violation"),
        ({"queue": "general"}, "queue_format"),
        ({"queue": "sales,r"}, "queue_format"),
        ({"queue": "sa les"}, "queue_format"),
        ({"queue": "q" * 81}, "queue_format"),
        ({"queue": "営業"}, "queue_format"),
        ({"queue": "sales", "queue_seconds": 4}, "queue_seconds_range"),
        ({"queue": "sales", "queue_seconds": 301}, "queue_seconds_range"),
        ({"queue": "sales", "timezone": "Mars/Olympus"}, "timezone_unknown"),
    ],
)
def test_issue17_CALL_1_a_bad_queue_is_refused_and_nothing_changes(
    office: sessionmaker[Session], change: dict[str, object], code: str
) -> None:
    before = shown(office)
    with pytest.raises(DomainError) as refused, db.transaction(office) as s:
        service.update_number(s, NUMBER, **change)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert shown(office) == before


def test_issue17_MAIL_9_devices_are_named_renamed_and_unnamed(
    sessions: sessionmaker[Session],
) -> None:
    with db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/201", " 受付 ")
        service.name_device(s, "Local/desk@phones/n", "営業一課")
        service.name_device(s, "PJSIP/201", "受付２")
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {
            "Local/desk@phones/n": "営業一課",
            "PJSIP/201": "受付２",
        }
        assert service.device_labels(s, ["PJSIP/201", "PJSIP/999", ""]) == {"PJSIP/201": "受付２"}
        assert service.device_labels(s, []) == {}
    with db.transaction(sessions) as s:
        service.unname_device(s, "PJSIP/201")
    with pytest.raises(NotFound), db.transaction(sessions) as s:
        service.unname_device(s, "PJSIP/201")
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {"Local/desk@phones/n": "営業一課"}


@pytest.mark.parametrize(
    ("interface", "label", "code"),
    [
        ("201", "受付", "interface_format"),
        ("PJSIP/201,1", "受付", "interface_format"),
        ("PJSIP/2 01", "受付", "interface_format"),
        ("PJSIP/" + "1" * 100, "受付", "interface_format"),
        ("PJSIP/201", "", "device_label_format"),
        ("PJSIP/201", "   ", "device_label_format"),
        ("PJSIP/201", "受付\n", "device_label_format"),
        ("PJSIP/201", "受\x1b付", "device_label_format"),
        ("PJSIP/201", "あ" * 21, "device_label_format"),
    ],
)
def test_issue17_MAIL_9_a_bad_device_name_is_refused_and_nothing_is_stored(
    sessions: sessionmaker[Session], interface: str, label: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused, db.transaction(sessions) as s:
        service.name_device(s, interface, label)
    assert refused.value.code == code
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {}


def test_issue17_MAIL_9_the_longest_name_and_interface_fit_on_both_databases(
    sessions: sessionmaker[Session],
) -> None:
    interface = "PJSIPABCDEFGHIJK/" + "x" * 83
    assert len(interface) == validation.MAX_INTERFACE
    with db.transaction(sessions) as s:
        service.name_device(s, interface, "あ" * validation.MAX_DEVICE_LABEL)
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {interface: "あ" * validation.MAX_DEVICE_LABEL}


def test_issue17_MAIL_9_device_names_are_counted(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validation, "MAX_DEVICE_LABELS", 2)
    with db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/201", "受付")
        service.name_device(s, "PJSIP/202", "営業")
    with pytest.raises(LimitExceeded) as refused, db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/203", "総務")
    assert refused.value.code == "device_labels_full"
    with db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/202", "営業二課")  # renaming is no new name
    with db.transaction(sessions, read_only=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(DeviceLabel)) == 2
