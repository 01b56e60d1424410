"""Migration 0012 (CALL-2, issue 16): one visible and one hidden nuisance entry per caller.

Upgraded from 0011 with entries in it, on both backends: every entry kept;
then a visible and a hidden entry of the same caller can both be stored.
Downgraded: the hidden entry whose digits are also listed visibly goes (the
visible one still refuses the caller), everything else stays.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from store import db, service

CONTRACT, EXTRA, TZ = "0312345678", "0312345679", "Asia/Tokyo"
WITHHELD, OTHER = "0311112222", "0398765432"


def entries(engine: Engine) -> list[tuple[str, int, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.number, e.position, e.caller_number, e.hidden FROM nuisance_entry e"
                " JOIN number n ON n.id = e.number_id ORDER BY n.number, e.position"
            )
        )
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]


def insert(engine: Engine, number: str, position: int, caller: str, hidden: bool) -> None:
    with engine.begin() as conn:
        number_id = conn.execute(
            sa.text("SELECT id FROM number WHERE number = :n"), {"n": number}
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO nuisance_entry (number_id, position, caller_number, hidden, added_at)"
                " VALUES (:id, :p, :c, :h, CURRENT_TIMESTAMP)"
            ),
            {"id": number_id, "p": position, "c": caller, "h": hidden},
        )


def test_issue16_CALL_2_migration_0012_upgrades_from_0011_with_entries_and_downgrades(
    empty_db: Engine,
) -> None:
    # The entries are written through the domain layer at the head (whose
    # models have the columns of later revisions), then taken down to 0011:
    # none of them is a twin, so all stay.
    db.upgrade(empty_db)
    sessions = db.session_factory(empty_db)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone=TZ)
        service.add_number(s, CONTRACT, EXTRA, timezone=TZ)
        service.add_nuisance(s, CONTRACT, WITHHELD, hidden=True)
        service.add_nuisance(s, CONTRACT, OTHER)
        service.add_nuisance(s, EXTRA, WITHHELD)
    command.downgrade(db.alembic_config(empty_db), "0011")
    assert db.current_revision(empty_db) == "0011"
    before = entries(empty_db)
    assert [(n, p, c) for n, p, c, _ in before] == [
        (CONTRACT, 1, WITHHELD),
        (CONTRACT, 2, OTHER),
        (EXTRA, 1, WITHHELD),
    ]

    db.upgrade(empty_db, "0012")
    assert db.current_revision(empty_db) == "0012"
    assert entries(empty_db) == before
    insert(empty_db, CONTRACT, 3, WITHHELD, False)  # the visible twin of the hidden entry
    insert(empty_db, EXTRA, 2, WITHHELD, True)  # the hidden twin of a visible one
    for number, position, hidden in ((CONTRACT, 4, True), (CONTRACT, 4, False)):
        try:
            insert(empty_db, number, position, WITHHELD, hidden)
        except IntegrityError:
            continue
        raise AssertionError(f"a third entry of one caller was stored (hidden={hidden})")

    command.downgrade(db.alembic_config(empty_db), "0011")
    assert db.current_revision(empty_db) == "0011"
    # Each caller once again: the hidden twins went, the visible entries refuse them still.
    assert entries(empty_db) == [
        (CONTRACT, 2, OTHER, False),
        (CONTRACT, 3, WITHHELD, False),
        (EXTRA, 1, WITHHELD, False),
    ]
    db.upgrade(empty_db, "0012")
    assert db.current_revision(empty_db) == "0012"
    db.upgrade(empty_db)  # and on to the head (0013, 0014 of issues 16 and 17)
    assert db.current_revision(empty_db) == db.head_revision(empty_db) == db.HEAD_REVISION
