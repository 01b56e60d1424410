"""The notification mail settings of a number (MAIL-1 ... MAIL-5).

Start and stop (MAIL-1), the destination addresses (MAIL-2, MAIL-3), the
two conditions (MAIL-4) and the designated numbers (MAIL-5), one entry at a
time (the CLI) or a whole list as one form (the site).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.orm import Session

from store import validation
from store.errors import AlreadyExists, LimitExceeded, NotFound, RuleViolation
from store.models import DesignatedNumber, DestinationAddress, NotificationSetting, Number, Service
from store.service.lines import free_slot, subscribed

log = structlog.get_logger("store")


def start_mail(session: Session, number: str) -> NotificationSetting:
    """MAIL-1: start the service; needs at least one destination address."""
    found = subscribed(session, number, Service.MAIL)
    if not found.addresses:
        raise RuleViolation(
            f"{number}: set at least one destination address before starting the service",
            code="start_without_address",
            field="started",
        )
    found.notification.started = True
    session.flush()
    log.info("mail_started", number=number)
    return found.notification


def stop_mail(session: Session, number: str) -> NotificationSetting:
    found = subscribed(session, number, Service.MAIL)
    found.notification.started = False
    session.flush()
    log.info("mail_stopped", number=number)
    return found.notification


def add_address(
    session: Session, number: str, address: str, *, send: bool = True
) -> DestinationAddress:
    """MAIL-2/3: a destination address in the first free of five slots."""
    validation.mail_address(address)
    found = subscribed(session, number, Service.MAIL)
    key = address.lower()
    if any(a.address_key == key for a in found.addresses):
        raise AlreadyExists(f"{number}: address {address!r} is already set", field="address")
    position = free_slot(
        [a.position for a in found.addresses],
        validation.MAX_ADDRESSES,
        f"{number}: already {validation.MAX_ADDRESSES} destination addresses (MAIL-2 allows "
        f"at most {validation.MAX_ADDRESSES}); remove one first",
    )
    entry = DestinationAddress(position=position, address=address, address_key=key, send=send)
    found.addresses.append(entry)
    session.flush()
    log.info("address_added", number=number, position=position, send=send)
    return entry


def remove_address(session: Session, number: str, address: str) -> None:
    found = subscribed(session, number, Service.MAIL)
    entry = _find_address(found, address)
    if found.notification.started and len(found.addresses) == 1:
        raise RuleViolation(
            f"{number}: {address!r} is the last destination address of a started service; "
            "stop the service first (MAIL-1)",
            code="last_address_of_started",
            field="address",
        )
    found.addresses.remove(entry)
    session.flush()
    log.info("address_removed", number=number, position=entry.position)


def set_address_send(session: Session, number: str, address: str, send: bool) -> DestinationAddress:
    found = subscribed(session, number, Service.MAIL)
    entry = _find_address(found, address)
    entry.send = send
    session.flush()
    log.info("address_send_set", number=number, position=entry.position, send=send)
    return entry


def set_addresses(
    session: Session, number: str, slots: Sequence[tuple[str, bool] | None]
) -> list[DestinationAddress]:
    """MAIL-1/2/3 as one form: slot ``i`` of ``slots`` becomes the number's slot ``i + 1``.

    Each slot is (address, send) or ``None`` (empty); an address stays in
    the slot it was typed in (the page's row 3 is slot 3, issue 14 flow 7),
    an unchanged one keeps its entry, spelling and flag as given. Every rule
    is checked on the final list before anything is written: MAIL-3 for each
    address, no duplicates, at most five, and a started service keeps at
    least one (MAIL-1).
    """
    wanted = {position: row for position, row in enumerate(slots, start=1) if row is not None}
    keys: dict[str, int] = {}
    for position, (address, _send) in wanted.items():
        validation.mail_address(address, field=f"address_{position}")
        key = address.lower()
        if key in keys:
            raise AlreadyExists(
                f"{number}: address {address!r} is given twice", field=f"address_{position}"
            )
        keys[key] = position
    if len(wanted) > validation.MAX_ADDRESSES or any(p > validation.MAX_ADDRESSES for p in wanted):
        raise LimitExceeded(
            f"{number}: {len(wanted)} destination addresses; MAIL-2 allows at most "
            f"{validation.MAX_ADDRESSES}",
            field="address",
        )
    found = subscribed(session, number, Service.MAIL)
    if not wanted and found.notification.started:
        raise RuleViolation(
            f"{number}: a started service keeps at least one destination address; "
            "stop the service first (MAIL-1)",
            code="last_address_of_started",
            field="address_1",
        )
    kept: set[int] = set()
    for entry in list(found.addresses):
        row = wanted.get(entry.position)
        if row is not None and row[0].lower() == entry.address_key:
            entry.address, entry.send = row
            kept.add(entry.position)
        else:
            found.addresses.remove(entry)
    session.flush()  # free the slots and keys before the new entries take them
    for position, (address, send) in sorted(wanted.items()):
        if position not in kept:
            found.addresses.append(
                DestinationAddress(
                    position=position, address=address, address_key=address.lower(), send=send
                )
            )
    session.flush()
    log.info(
        "addresses_set",
        number=number,
        count=len(wanted),
        send=sum(send for _, send in wanted.values()),
    )
    return list(found.addresses)


def set_designated_numbers(
    session: Session, number: str, slots: Sequence[tuple[str, bool] | None]
) -> list[DesignatedNumber]:
    """MAIL-5 as one form: slot ``i`` of ``slots`` becomes designated slot ``i + 1``.

    Each slot is (caller number, designated flag) or ``None`` (empty); a
    number stays in the row it was typed in, taken as people type it
    (``validation.typed_number``: ０３…, 03-1234-5678). Each is a diallable
    number, none twice, at most 30, and while MAIL-4 (a) is on one keeps its
    flag; all checked before anything is written.
    """
    wanted: dict[int, tuple[str, bool]] = {}
    for position, row in enumerate(slots, start=1):
        if row is None:
            continue
        caller = validation.diallable_number(
            validation.typed_number(row[0]), field=f"caller_number_{position}"
        )
        if any(caller == other for other, _ in wanted.values()):
            raise AlreadyExists(
                f"{number}: {caller} is given twice", field=f"caller_number_{position}"
            )
        wanted[position] = (caller, row[1])
    if len(wanted) > validation.MAX_DESIGNATED or any(
        p > validation.MAX_DESIGNATED for p in wanted
    ):
        raise LimitExceeded(
            f"{number}: {len(wanted)} designated numbers; MAIL-5 allows at most "
            f"{validation.MAX_DESIGNATED}",
            field="caller_number",
        )
    found = subscribed(session, number, Service.MAIL)
    _keep_one_designated(found, flagged=sum(flag for _, flag in wanted.values()))
    kept: set[int] = set()
    for entry in list(found.designated):
        row = wanted.get(entry.position)
        if row is not None and row[0] == entry.caller_number:
            entry.designated = row[1]
            kept.add(entry.position)
        else:
            found.designated.remove(entry)
    session.flush()  # free the slots and numbers before the new entries take them
    for position, (caller, flag) in sorted(wanted.items()):
        if position not in kept:
            found.designated.append(
                DesignatedNumber(position=position, caller_number=caller, designated=flag)
            )
    session.flush()
    log.info("designated_set", number=number, count=len(wanted))
    return list(found.designated)


def mail_warnings(found: Number) -> list[str]:
    """Codes of stored settings under which no call is mailed (MAIL-4 (a), MAIL-5).

    ``set_conditions`` refuses condition (a) without a designated number, but a
    number stored so before that rule (or by hand in the database) mails
    nothing, silently: ``designated_only_without_numbers`` says so wherever the
    number is shown (the site's number pages, ``number show``).
    """
    notification = found.notification
    if notification.designated_only and not any(d.designated for d in found.designated):
        return ["designated_only_without_numbers"]
    return []


def set_conditions(
    session: Session,
    number: str,
    *,
    designated_only: bool | None = None,
    unanswered_only: bool | None = None,
) -> NotificationSetting:
    """MAIL-4: the two conditions; ``None`` leaves one as it is.

    Seeds P.10: condition (a) needs the designated numbers (お知らせ対象電話番号設定
    「…を指定した場合に本設定が必要です」): it is refused while no number has its
    指定 flag (``designated_only_without_numbers``), since no mail would go out.
    """
    found = subscribed(session, number, Service.MAIL)
    if designated_only and not any(d.designated for d in found.designated):
        raise RuleViolation(
            f"{number}: notifying only calls from designated numbers (MAIL-4 (a)) needs at "
            "least one designated number with its flag on (MAIL-5); add one first",
            code="designated_only_without_numbers",
            field="designated_only",
        )
    if designated_only is not None:
        found.notification.designated_only = designated_only
    if unanswered_only is not None:
        found.notification.unanswered_only = unanswered_only
    session.flush()
    log.info(
        "conditions_set",
        number=number,
        designated_only=found.notification.designated_only,
        unanswered_only=found.notification.unanswered_only,
    )
    return found.notification


def add_designated(
    session: Session, number: str, caller_number: str, *, designated: bool = True
) -> DesignatedNumber:
    """MAIL-5: a designated caller number (as typed, issue 14) in the first free of 30 slots."""
    caller_number = validation.diallable_number(validation.typed_number(caller_number))
    found = subscribed(session, number, Service.MAIL)
    if any(d.caller_number == caller_number for d in found.designated):
        raise AlreadyExists(
            f"{number}: {caller_number} is already a designated number", field="caller_number"
        )
    position = free_slot(
        [d.position for d in found.designated],
        validation.MAX_DESIGNATED,
        f"{number}: already {validation.MAX_DESIGNATED} designated numbers (MAIL-5 allows at "
        f"most {validation.MAX_DESIGNATED}); remove one first",
    )
    entry = DesignatedNumber(position=position, caller_number=caller_number, designated=designated)
    found.designated.append(entry)
    session.flush()
    log.info("designated_added", number=number, position=position, designated=designated)
    return entry


def remove_designated(session: Session, number: str, caller_number: str) -> None:
    found = subscribed(session, number, Service.MAIL)
    entry = _find_designated(found, caller_number)
    _keep_one_designated(
        found, flagged=sum(d.designated for d in found.designated if d is not entry)
    )
    found.designated.remove(entry)
    session.flush()
    log.info("designated_removed", number=number)


def set_designated_flag(
    session: Session, number: str, caller_number: str, designated: bool
) -> DesignatedNumber:
    found = subscribed(session, number, Service.MAIL)
    entry = _find_designated(found, caller_number)
    others = sum(d.designated for d in found.designated if d is not entry)
    _keep_one_designated(found, flagged=others + designated)
    entry.designated = designated
    session.flush()
    log.info("designated_flag_set", number=number, position=entry.position, designated=designated)
    return entry


def _keep_one_designated(found: Number, *, flagged: int) -> None:
    """MAIL-4 (a) stays meaningful: while it is on, ``flagged`` (what would remain) is not 0.

    Refused, not warned (issue 14): the same rule as switching (a) on without
    a designated number (``set_conditions``), whoever writes.
    """
    if found.notification.designated_only and flagged == 0:
        raise RuleViolation(
            f"{found.number}: notifying only calls from designated numbers (MAIL-4 (a)) is on; "
            "keep at least one designated number with its flag on (MAIL-5), or switch the "
            "condition off first",
            code="last_designated_of_designated_only",
            field="caller_number",
        )


def _find_address(found: Number, address: str) -> DestinationAddress:
    key = address.lower()
    for entry in found.addresses:
        if entry.address_key == key:
            return entry
    raise NotFound(f"{found.number}: no destination address {address!r}", field="address")


def _find_designated(found: Number, caller_number: str) -> DesignatedNumber:
    caller_number = validation.typed_number(caller_number)
    for entry in found.designated:
        if entry.caller_number == caller_number:
            return entry
    raise NotFound(
        f"{found.number}: {caller_number} is not a designated number", field="caller_number"
    )
