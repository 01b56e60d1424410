"""Migration 0014 (issue 17): office numbers, upgraded from 0013 with data, on both backends.

A number stored at 0013 keeps its endpoint and settings; after the upgrade
it can hold eight devices (up to 800 characters, which PostgreSQL enforces),
a queue, and calls record who answered; device names can be given. Downgraded,
the queue and the names go and the endpoint stays.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from store import db, service, validation

NUMBER, TZ = "0312345678", "Asia/Tokyo"


def number_row(engine: Engine) -> tuple[str | None, bool]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT endpoint, mail_subscribed FROM number WHERE number = :n"),
            {"n": NUMBER},
        ).one()
    return row[0], bool(row[1])


def test_issue17_CALL_1_migration_0014_upgrades_from_0013_with_data_and_downgrades(
    empty_db: Engine,
) -> None:
    db.upgrade(empty_db)
    sessions = db.session_factory(empty_db)
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone=TZ, endpoint="PJSIP/reception")
        service.add_address(s, NUMBER, "desk@example.jp")
    command.downgrade(db.alembic_config(empty_db), "0013")
    assert db.current_revision(empty_db) == "0013"
    assert number_row(empty_db) == ("PJSIP/reception", True)
    with empty_db.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("number")}
        assert "queue" not in columns
        assert not sa.inspect(conn).has_table("device_label")

    db.upgrade(empty_db, "0014")
    assert db.current_revision(empty_db) == "0014"
    assert number_row(empty_db) == ("PJSIP/reception", True)
    longest = "&".join(f"PJSIPABCDEFGHIJK/{str(i) * 80}" for i in range(1, 9))
    assert len(longest) <= validation.MAX_ENDPOINT
    with db.transaction(sessions) as s:
        service.update_number(s, NUMBER, endpoint=longest)
        service.name_device(s, "PJSIP/201", "受付")
    assert number_row(empty_db) == (longest, True)
    with db.transaction(sessions) as s:
        service.update_number(s, NUMBER, queue="sales", queue_seconds=45)
    with db.transaction(sessions, read_only=True) as s:
        view = service.describe_number(service.get_number(s, NUMBER))
        assert (view["queue"], view["queue_seconds"], view["endpoint"]) == ("sales", 45, None)
        assert service.device_labels(s) == {"PJSIP/201": "受付"}

    with db.transaction(sessions) as s:
        service.update_number(s, NUMBER, endpoint="PJSIP/201&PJSIP/202")
    command.downgrade(db.alembic_config(empty_db), "0013")
    assert number_row(empty_db) == ("PJSIP/201&PJSIP/202", True)
    db.upgrade(empty_db)
    assert db.current_revision(empty_db) == db.head_revision(empty_db) == db.HEAD_REVISION
