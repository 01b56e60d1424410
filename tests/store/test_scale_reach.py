"""Issue 18 (100,000 numbers): the site's scope and the bulk change, counted, not timed.

bench/scale.py times them on a line of 1,000 numbers; here the same work on
lines of 10 and of 40 numbers: the scope of a login (SITE-1, asked by every
page request) loads no ORM row and runs the same statements for both, and a
bulk change (SITE-7) flushes and takes savepoints once per number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import bulk, db, service, site_auth
from store.bulk import BulkChange
from store.models import AuthUnit, Service
from store.site_auth import OutOfScope

TZ = "Asia/Tokyo"
C = "0353000000"
NUMBERS = [C] + [f"03530000{i:02d}" for i in range(1, 40)]


@contextmanager
def statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements run on the sessions' engine inside the block (first word)."""
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _line(sessions: sessionmaker[Session], numbers: list[str]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, numbers[0], timezone=TZ)
        for number in numbers[1:]:
            service.add_number(s, numbers[0], number, timezone=TZ)


def _reach(sessions: sessionmaker[Session], login: str) -> tuple[site_auth.Reach, int, int]:
    """The login's reach, the statements it ran and the ORM rows it left in the session."""
    with statements(sessions) as seen, db.transaction(sessions, read_only=True) as s:
        found = site_auth.login_reach(s, login)
        loaded = len(s.identity_map)
    return found, len(seen), loaded


def test_issue18_SITE_1_scope_reads_columns_the_same_for_10_or_40_numbers(
    sessions: sessionmaker[Session],
) -> None:
    few = ["0353100000"] + [f"03531000{i:02d}" for i in range(1, 10)]
    _line(sessions, few)
    _line(sessions, NUMBERS)
    small, small_statements, small_rows = _reach(sessions, few[0])
    big, big_statements, big_rows = _reach(sessions, C)
    assert small.numbers == tuple(few) and big.numbers == tuple(NUMBERS)
    assert (big.unit, big.is_contract) == (AuthUnit.LINE, True)
    assert (small_rows, big_rows) == (0, 0)
    assert small_statements == big_statements <= 3, (small_statements, big_statements)
    with db.transaction(sessions, read_only=True) as s:
        assert site_auth.managed_numbers(s, C) == tuple(NUMBERS)


def test_issue18_SITE_1_scope_of_a_contract_without_the_service(
    sessions: sessionmaker[Session],
) -> None:
    """Line unit: the contract number manages the line while any number has the service."""
    _line(sessions, NUMBERS[:3])
    with db.transaction(sessions) as s:
        service.set_services(s, C, disable=[Service.MAIL])
    found, _, loaded = _reach(sessions, C)
    assert found.numbers == tuple(NUMBERS[:3]) and loaded == 0
    with db.transaction(sessions) as s:
        service.set_auth_unit(s, C, AuthUnit.ADMIN_USER)
    assert _reach(sessions, NUMBERS[1])[0].numbers == (NUMBERS[1],)
    assert _reach(sessions, C)[0] == site_auth.Reach(tuple(NUMBERS[:3]), AuthUnit.ADMIN_USER, True)
    with db.transaction(sessions) as s:
        for number in NUMBERS[1:3]:
            service.set_services(s, number, disable=[Service.MAIL])
    with pytest.raises(OutOfScope), db.transaction(sessions, read_only=True) as s:
        site_auth.login_reach(s, C)
    with pytest.raises(OutOfScope), db.transaction(sessions, read_only=True) as s:
        site_auth.login_reach(s, "0353999999")


# --- SITE-7: a bulk change on many numbers ---------------------------------------------------

CHANGE = BulkChange(
    mail_started=True, unanswered_only=True, add_address="bulk@example.jp", number_request=True
)


def _bulk(sessions: sessionmaker[Session], numbers: list[str], change: BulkChange) -> list[str]:
    with statements(sessions) as seen, db.transaction(sessions) as s:
        result = bulk.apply_bulk(s, numbers, change)
    assert result.numbers == tuple(numbers)
    return seen


def test_issue18_SITE_7_bulk_takes_the_same_savepoints_and_writes_for_10_or_40(
    sessions: sessionmaker[Session],
) -> None:
    _line(sessions, NUMBERS)
    with db.transaction(sessions) as s:
        for number in NUMBERS:
            service.add_address(s, number, "desk@example.jp")
    few, many = _bulk(sessions, NUMBERS[:10], CHANGE), _bulk(sessions, NUMBERS[10:], CHANGE)
    # One savepoint for the whole change and one for the run; no savepoint per number.
    assert few.count("SAVEPOINT") == many.count("SAVEPOINT") == 2, (few, many)
    # The writes: one INSERT a new address at most, the updates batched by one flush.
    assert many.count("UPDATE") == few.count("UPDATE"), (few, many)
    assert many.count("INSERT") <= 30, many
    again = BulkChange(mail_started=False, unanswered_only=False, number_request=False)
    assert len(_bulk(sessions, NUMBERS[:10], again)) == len(_bulk(sessions, NUMBERS[10:], again))
    with db.transaction(sessions, read_only=True) as s:
        for number in (NUMBERS[0], NUMBERS[-1]):
            found = service.describe_number(service.get_number(s, number))
            assert not found["mail"]["started"] and not found["mail"]["unanswered_only"]
            assert [a["address"] for a in found["mail"]["addresses"]] == [
                "desk@example.jp",
                "bulk@example.jp",
            ]
            assert not found["number_request"]["enabled"]


def test_issue18_SITE_7_started_flags_of_the_list_in_one_parameter_on_postgresql(
    sessions: sessionmaker[Session],
) -> None:
    """The list's started flags (``bulk.mail_started``): on PostgreSQL the numbers are one
    array parameter, not one each (binding 1,000 of them was half the page's CPU)."""
    _line(sessions, NUMBERS)
    with db.transaction(sessions) as s:
        service.add_address(s, NUMBERS[5], "desk@example.jp")
        service.start_mail(s, NUMBERS[5])
    engine = sessions.kw["bind"]
    bound: list[int] = []

    def record(_c: object, _cur: object, _stmt: str, params: object, *_: object) -> None:
        bound.append(len(params) if isinstance(params, (dict, tuple, list)) else 1)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with db.transaction(sessions, read_only=True) as s:
            few = bulk.mail_started(s, [*NUMBERS[:10], "0353999999"])
            many = bulk.mail_started(s, [*NUMBERS, *NUMBERS[:3]])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert few == {n: n == NUMBERS[5] for n in NUMBERS[:10]}
    assert many == {n: n == NUMBERS[5] for n in NUMBERS}
    if engine.dialect.name == "postgresql":
        assert bound[-2] == bound[-1] == 1, bound
