"""Issue 18 (100,000 numbers): what a request asks of the database does not grow with it.

Counted statements instead of timings (bench/scale.py times them): a bulk
change on more numbers reads them in the same number of SELECTs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import bulk, db, service
from store.bulk import BulkChange
from store.models import Presentation

TZ = "Asia/Tokyo"
T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
C = "0353000000"
NUMBERS = [C] + [f"03530000{i:02d}" for i in range(1, 40)]
CHANGE = BulkChange(
    mail_started=True, unanswered_only=True, add_address="bulk@example.jp", number_request=True
)


@contextmanager
def statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements run on the sessions' engine inside the block."""
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _line(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        for number in NUMBERS[1:]:
            service.add_number(s, C, number, timezone=TZ)
        for number in NUMBERS:
            service.add_address(s, number, "desk@example.jp")


def _selects_of_bulk(sessions: sessionmaker[Session], numbers: list[str]) -> int:
    with statements(sessions) as seen, db.transaction(sessions) as s:
        result = bulk.apply_bulk(s, numbers, CHANGE)
    assert result.numbers == tuple(numbers)
    return seen.count("SELECT")


def test_issue18_bulk_reads_numbers_in_the_same_selects_for_10_or_40(
    sessions: sessionmaker[Session],
) -> None:
    _line(sessions)
    few = _selects_of_bulk(sessions, NUMBERS[:10])
    many = _selects_of_bulk(sessions, NUMBERS[10:])
    assert few == many, (few, many)
    with db.transaction(sessions, read_only=True) as s:
        found = service.describe_number(service.get_number(s, NUMBERS[-1]))
    assert found["mail"]["started"] and found["mail"]["unanswered_only"]
    assert [a["address"] for a in found["mail"]["addresses"]] == [
        "desk@example.jp",
        "bulk@example.jp",
    ]
    assert found["number_request"]["enabled"]


def test_issue18_routing_reads_a_number_and_its_settings_in_two_selects(
    sessions: sessionmaker[Session],
) -> None:
    _line(sessions)
    with db.transaction(sessions) as s:
        service.add_nuisance(s, NUMBERS[3], "0901111111")
        service.set_number_request(s, NUMBERS[3], enabled=True)
    with statements(sessions) as seen, db.transaction(sessions) as s:
        found = service.route_incoming_call(
            s, NUMBERS[3], caller_number="0902222222", presentation=Presentation.ALLOWED, now=T0
        )
    assert found is not None
    assert found.nuisance_numbers == frozenset({"0901111111"}) and found.number_request
    assert (found.voice_warp, found.forward_ring_seconds) == (None, 20)
    assert seen.count("SELECT") == 2, seen
    with db.transaction(sessions, read_only=True) as s:
        number = service.get_number(s, NUMBERS[3])
        assert (number.last_caller_number, number.last_call_at) == ("0902222222", T0)
