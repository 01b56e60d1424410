"""Lines and their numbers: provisioning (Words: 契約者回線, 契約電話番号, 追加番号).

The operator's CLI adds, changes and removes them; everything else reads
them. ``subscribed`` and ``free_slot`` are the checks every settings module
of ``store.service`` starts from (a service the number subscribes to, the
first free slot of a list).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from store import validation
from store.errors import AlreadyExists, LimitExceeded, NotFound, NotSubscribed, RuleViolation
from store.models import (
    AuthUnit,
    Line,
    NotificationSetting,
    Number,
    NumberRequestSetting,
    Service,
    SiteSession,
    VoiceWarpMode,
    VoiceWarpSetting,
)

log = structlog.get_logger("store")


ALL_SERVICES = frozenset(Service)


# --- lines -------------------------------------------------------------------


def add_line(
    session: Session,
    contract_number: str,
    *,
    auth_unit: AuthUnit = AuthUnit.LINE,
    timezone: str,
    endpoint: str | None = None,
    services: Iterable[Service] = ALL_SERVICES,
    queue: str | None = None,
    queue_seconds: int | None = None,
) -> Line:
    """A new line with its contract number (Words: 契約者回線).

    Issue 17: the number rings its devices (``endpoint``) or waits in a
    ``queue`` (with ``queue_seconds``, None: call.ring_seconds), not both.
    """
    validation.subscriber_number(contract_number, field="contract_number")
    _ensure_number_free(session, contract_number)
    line = Line(contract_number=contract_number, auth_unit=AuthUnit(auth_unit))
    session.add(line)
    _new_number(
        session, line, contract_number, True, timezone, endpoint, services, queue, queue_seconds
    )
    session.flush()
    log.info("line_added", contract_number=contract_number, auth_unit=line.auth_unit.value)
    return line


# Issue 18: what a stored number or contract number can be (String(20) of digits).
MAX_STORED_NUMBER = 20


def storable_key(number: str) -> bool:
    """True if ``number`` could be stored: ASCII digits, 1-20 of them.

    Anything else is not looked up: it is not there, and on PostgreSQL a NUL
    in a query is the database's error, not an answer.
    """
    return 0 < len(number) <= MAX_STORED_NUMBER and number.isascii() and number.isdigit()


def get_line(session: Session, contract_number: str) -> Line:
    contract = _held(session, contract_number)
    if contract is not None and contract.is_contract:
        return contract.line  # issue 18: its contract number is held (``held_numbers``)
    if not storable_key(contract_number):
        raise NotFound(f"no line with contract number {contract_number!r}", field="contract_number")
    line = session.scalars(
        select(Line)
        .where(Line.contract_number == contract_number)
        .options(selectinload(Line.numbers))
    ).one_or_none()
    if line is None:
        raise NotFound(f"no line with contract number {contract_number!r}", field="contract_number")
    return line


def list_lines(session: Session) -> Sequence[Line]:
    return session.scalars(
        select(Line).options(selectinload(Line.numbers)).order_by(Line.contract_number)
    ).all()


def remove_line(session: Session, contract_number: str) -> None:
    """Remove a line with all its numbers and their settings."""
    line = get_line(session, contract_number)
    session.delete(line)
    session.flush()
    log.info("line_removed", contract_number=contract_number)


def set_auth_unit(session: Session, contract_number: str, auth_unit: AuthUnit) -> Line:
    """Change a line's 認証単位 (the site's SITE-8 password rules are applied there).

    Every site session of the line ends: who may log in, and with which idle
    timeout, depends on the unit (SITE-1, SITE-6), as at the site's own change.
    """
    line = get_line(session, contract_number)
    line.auth_unit = AuthUnit(auth_unit)
    numbers = [n.id for n in line.numbers]
    session.execute(delete(SiteSession).where(SiteSession.number_id.in_(numbers)))
    session.flush()
    log.info("auth_unit_set", contract_number=contract_number, auth_unit=line.auth_unit.value)
    return line


# --- numbers -----------------------------------------------------------------


def add_number(
    session: Session,
    contract_number: str,
    number: str,
    *,
    timezone: str,
    endpoint: str | None = None,
    services: Iterable[Service] = ALL_SERVICES,
    queue: str | None = None,
    queue_seconds: int | None = None,
) -> Number:
    """An additional number (追加番号) on an existing line (its devices or queue as
    ``add_line``'s)."""
    validation.subscriber_number(number)
    line = get_line(session, contract_number)
    _ensure_number_free(session, number)
    added = _new_number(
        session, line, number, False, timezone, endpoint, services, queue, queue_seconds
    )
    session.flush()
    log.info("number_added", contract_number=contract_number, number=number)
    return added


def get_number(session: Session, number: str, *, lock: bool = False) -> Number:
    """The number with its settings; ``lock`` holds it until the transaction ends.

    Locking the number row serialises writers of its lists on PostgreSQL
    (SQLite transactions are already exclusive, see ``store.db``).
    """
    held = _held(session, number)
    if held is not None:
        return held  # locked already, with its settings (``held_numbers``)
    if not storable_key(number):
        raise NotFound(f"no subscriber number {number!r}", field="number")
    stmt = select(Number).where(Number.number == number)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).one_or_none()
    if found is None:
        raise NotFound(f"no subscriber number {number!r}", field="number")
    return found


# session.info key: the numbers ``held_numbers`` locked and loaded for ``get_number``
# (None: asked for and not stored).
_HELD = "chakushin_held_numbers"


def _held(session: Session, number: str) -> Number | None:
    """The held number, unless a rolled-back savepoint took it out of the session."""
    held: dict[str, Number | None] | None = session.info.get(_HELD)
    found = held.get(number) if held is not None else None
    return found if found is not None and found in session else None


@contextmanager
def held_numbers(session: Session, numbers: Iterable[str]) -> Iterator[dict[str, Number]]:
    """Issue 18: lock and load ``numbers`` with all their settings in one round of queries.

    Inside the block ``get_number`` (and so every settings function) answers
    these numbers from the session instead of a query each: a change on 1,000
    numbers (``store.bulk.apply_bulk``) reads them once. Yields the numbers
    found, by number; an unknown one is left to ``get_number``'s ``NotFound``.
    """
    asked = set(numbers)
    found = session.scalars(
        select(Number)
        .where(Number.number.in_(asked))
        .options(
            selectinload(Number.notification),
            selectinload(Number.addresses),
            selectinload(Number.designated),
            selectinload(Number.number_request),
            selectinload(Number.voice_warp),
        )
        .with_for_update()
    ).all()
    held = {n.number: n for n in found}
    outer = session.info.get(_HELD)
    # Issue 18: the numbers not found are known free (the bulk import adds them).
    absent: dict[str, Number | None] = dict.fromkeys(asked - held.keys())
    session.info[_HELD] = {**(outer or {}), **absent, **held}
    try:
        yield held
    finally:
        if outer is None:
            session.info.pop(_HELD, None)
        else:
            session.info[_HELD] = outer

@contextmanager
def one_flush(session: Session) -> Iterator[None]:
    """The flushes of the functions called inside wait for one at the end (issue 18).

    Every function of this package ends with ``session.flush()``. Called on
    numbers ``held_numbers`` loaded, they only add rows and change flags of
    objects in this session and check their rules against those same
    objects, so a bulk change (``store.bulk.apply_bulk``) or a batch of new
    numbers (``store.importing``) can write once. Only when the block ends
    without an error: a refusal leaves the writes unflushed for the caller's
    savepoint to roll back. Not for replacing a list entry of a stored
    number: the old entry's delete must be written before the new one takes
    its slot.
    """
    flush = session.flush
    session.flush = lambda objects=None: None  # type: ignore[method-assign]
    try:
        with session.no_autoflush:
            yield
    finally:
        del session.flush
    flush()



def list_numbers(session: Session, contract_number: str | None = None) -> Sequence[Number]:
    stmt = select(Number).order_by(Number.number)
    if contract_number is not None:
        stmt = stmt.where(Number.line_id == get_line(session, contract_number).id)
    return session.scalars(stmt).all()


def remove_number(session: Session, number: str) -> None:
    found = get_number(session, number, lock=True)
    if found.is_contract:
        raise RuleViolation(
            f"{number} is the contract number of its line; remove the line instead",
            code="contract_number_removal",
            field="number",
        )
    session.delete(found)
    session.flush()
    log.info("number_removed", number=number)


def update_number(
    session: Session,
    number: str,
    *,
    endpoint: str | None = None,
    clear_endpoint: bool = False,
    timezone: str | None = None,
    queue: str | None = None,
    queue_seconds: int | None = None,
    clear_queue: bool = False,
) -> Number:
    """Change a number's devices, queue or time zone; every value is checked first.

    Issue 17: a number rings its devices (``endpoint``) or waits in a queue,
    not both: setting one clears the other, and giving both is refused.
    ``queue_seconds`` needs a queue (given now or already set).
    """
    found = get_number(session, number, lock=True)
    if endpoint is not None and clear_endpoint:
        raise RuleViolation("give an endpoint or clear it, not both", field="endpoint")
    if queue is not None and clear_queue:
        raise RuleViolation("give a queue or clear it, not both", field="queue")
    if queue is not None and endpoint is not None:
        raise RuleViolation(
            "a number rings its devices or waits in a queue: give an endpoint or a queue",
            code="endpoint_or_queue",
            field="queue",
        )
    # A timeout needs a queue that is there after the change: not one cleared by
    # --no-queue or by new devices (--endpoint clears the queue).
    if queue_seconds is not None and (
        clear_queue or endpoint is not None or (queue is None and found.queue is None)
    ):
        raise RuleViolation(
            "a queue timeout needs a queue", code="queue_seconds_without_queue", field="queue"
        )
    checked_endpoint = validation.endpoint(endpoint) if endpoint is not None else None
    checked_queue = validation.queue_name(queue) if queue is not None else None
    seconds = validation.queue_seconds(queue_seconds) if queue_seconds is not None else None
    timezone = validation.time_zone(timezone) if timezone is not None else None
    if checked_endpoint is not None:
        found.endpoint, found.queue, found.queue_seconds = checked_endpoint, None, None
    if clear_endpoint:
        found.endpoint = None
    if checked_queue is not None:
        found.endpoint, found.queue = None, checked_queue
    if seconds is not None:
        found.queue_seconds = seconds
    if clear_queue:
        found.queue, found.queue_seconds = None, None
    if timezone is not None:
        found.timezone = timezone
    session.flush()
    log.info(
        "number_updated",
        number=number,
        endpoint=found.endpoint,
        queue=found.queue,
        queue_seconds=found.queue_seconds,
        timezone=found.timezone,
    )
    return found


# --- helpers of store.service ------------------------------------------------------


def _ensure_number_free(session: Session, number: str) -> None:
    taken = _held(session, number)
    if taken is None and number not in session.info.get(_HELD, {}):  # not known free
        taken = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if taken is not None:
        raise AlreadyExists(
            f"number {number} already belongs to the line {taken.line.contract_number}",
            field="number",
        )


def _new_number(
    session: Session,
    line: Line,
    number: str,
    is_contract: bool,
    timezone: str,
    endpoint: str | None,
    services: Iterable[Service],
    queue: str | None = None,
    queue_seconds: int | None = None,
) -> Number:
    _devices_or_queue(endpoint, queue, queue_seconds)
    chosen = {Service(s) for s in services}
    created = Number(
        number=number,
        is_contract=is_contract,
        timezone=validation.time_zone(timezone),
        endpoint=validation.endpoint(endpoint) if endpoint is not None else None,
        queue=validation.queue_name(queue) if queue is not None else None,
        queue_seconds=(
            validation.queue_seconds(queue_seconds) if queue_seconds is not None else None
        ),
        **{f"{s.value}_subscribed": s in chosen for s in Service},
        notification=NotificationSetting(
            started=False, designated_only=False, unanswered_only=False
        ),
        number_request=NumberRequestSetting(
            enabled=False, reject_payphone=False, reject_unavailable=False
        ),
        voice_warp=VoiceWarpSetting(
            enabled=False, mode=VoiceWarpMode.UNCONDITIONAL, ring_seconds=20
        ),
    )
    line.numbers.append(created)
    held: dict[str, Number | None] | None = session.info.get(_HELD)
    if held is not None:
        # Issue 18: added inside ``held_numbers``, it is held too: the bulk import sets
        # its settings before the flush that would let a query find it.
        held[number] = created
    return created


def _devices_or_queue(endpoint: str | None, queue: str | None, queue_seconds: int | None) -> None:
    """Issue 17: a new number rings its devices or waits in a queue, not both; a queue
    timeout needs the queue (``update_number``'s rules, with the same codes)."""
    if queue is not None and endpoint is not None:
        raise RuleViolation(
            "a number rings its devices or waits in a queue: give an endpoint or a queue",
            code="endpoint_or_queue",
            field="queue",
        )
    if queue_seconds is not None and queue is None:
        raise RuleViolation(
            "a queue timeout needs a queue", code="queue_seconds_without_queue", field="queue"
        )


def subscribed(session: Session, number: str, service: Service) -> Number:
    """The number, locked, if it subscribes to ``service``; else ``NotSubscribed``."""
    found = get_number(session, number, lock=True)
    if not found.subscribes(service):
        raise NotSubscribed(
            f"{number} does not subscribe to the {service.value} service", field="number"
        )
    return found


def free_slot(taken: Iterable[int], limit: int, full_message: str) -> int:
    """The first list position from 1 to ``limit`` not ``taken``; else ``LimitExceeded``."""
    used = set(taken)
    for slot in range(1, limit + 1):
        if slot not in used:
            return slot
    raise LimitExceeded(full_message)
