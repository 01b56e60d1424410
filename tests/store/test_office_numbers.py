"""Issue 17 (CALL-1, MAIL-9): office numbers in the store, on SQLite and PostgreSQL.

A number rings up to eight devices at once (``PJSIP/201&PJSIP/202&…``, each
checked as one device is) or waits in an Asterisk queue with its own
timeout, never both; devices and queue members can be given names for the
mail. Every refusal leaves the stored number exactly as it was. The longest
values fit the columns, which PostgreSQL enforces.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

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


def test_issue17_CALL_1_a_queue_timeout_given_with_devices_is_refused(
    office: sessionmaker[Session],
) -> None:
    """--endpoint clears the queue: a timeout in the same change would be left without one,
    hidden, and come back as the timeout of a later queue (found by a second pair of eyes)."""
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, queue="sales", queue_seconds=45)
    before = shown(office)
    with pytest.raises(DomainError) as refused, db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint="PJSIP/201&PJSIP/202", queue_seconds=60)
    assert refused.value.code == "queue_seconds_without_queue"
    assert shown(office) == before


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("pjsip/201&Local/desk@phones&iax2/peer", "PJSIP/201&Local/desk@phones&IAX2/peer"),
        ("LOCAL/desk@phones&Pjsip/202", "Local/desk@phones&PJSIP/202"),
        ("Custom/x&CUSTOM/y", "Custom/x&CUSTOM/y"),  # not one of Asterisk's own: as typed
    ],
)
def test_issue17_MAIL_9_technologies_are_stored_as_asterisk_names_them(
    office: sessionmaker[Session], typed: str, stored: str
) -> None:
    """Asterisk reads PJSIP/201 and pjsip/201 alike and reports PJSIP/201; a device named
    under either spelling is one device, so the mail and the site name it alike."""
    with db.transaction(office) as s:
        service.update_number(s, NUMBER, endpoint=typed)
        service.name_device(s, "pjsip/201", "受付")
        service.name_device(s, "PJSIP/201", "総務")
    assert shown(office)["endpoint"] == stored
    with db.transaction(office, read_only=True) as s:
        assert service.device_labels(s) == {"PJSIP/201": "総務"}
        assert service.device_labels(s, ["pjsip/201"]) == {"PJSIP/201": "総務"}


@pytest.mark.parametrize(
    "label",
    [
        "\u3164",  # Hangul filler: a letter that shows nothing
        "\u2800",  # braille blank
        "\u115f\u1160",
        "\uffa0",
        "a" + "\u0301" * 20,  # stacked combining accents
        "\u200b受付",  # zero-width space
        "受付\u202e",  # right-to-left override
    ],
)
def test_issue17_MAIL_9_a_device_name_that_shows_nothing_or_hides_text_is_refused(
    sessions: sessionmaker[Session], label: str
) -> None:
    with pytest.raises(InvalidInput) as refused, db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/201", label)
    assert refused.value.code == "device_label_format"
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {}


def test_issue17_MAIL_9_the_name_limit_holds_for_writers_at_the_same_moment(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two operators naming a device each at the last free place: one is refused. While the
    first has counted and inserted (not committed), the second waits for it, on PostgreSQL
    (the table lock; seen waiting in pg_stat_activity) as on SQLite (BEGIN IMMEDIATE)."""
    monkeypatch.setattr(validation, "MAX_DEVICE_LABELS", 2)
    with db.transaction(sessions) as s:
        service.name_device(s, "PJSIP/1", "総務")
    outcome: dict[str, str] = {}

    def second() -> None:
        try:
            with db.transaction(sessions) as s:
                service.name_device(s, "PJSIP/3", "営業")
            outcome["second"] = "named"
        except LimitExceeded:
            outcome["second"] = "refused"

    first = sessions()
    try:
        service.name_device(first, "PJSIP/2", "受付")  # counted 1 and inserted, not committed
        other = threading.Thread(target=second)
        other.start()
        bind = first.get_bind()
        if bind.dialect.name == "postgresql":
            watcher = db.make_engine(bind.engine.url.render_as_string(hide_password=False))
            try:
                deadline = time.monotonic() + 20
                while not _someone_waits_on_a_lock(watcher):
                    assert other.is_alive(), f"the second writer did not wait: {outcome}"
                    assert time.monotonic() < deadline, "the second writer never waited"
                    time.sleep(0.05)
            finally:
                watcher.dispose()
        first.commit()
    finally:
        first.close()
    other.join(30)
    assert outcome == {"second": "refused"}
    with db.transaction(sessions, read_only=True) as s:
        assert service.device_labels(s) == {"PJSIP/1": "総務", "PJSIP/2": "受付"}


def _someone_waits_on_a_lock(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)
