"""The domain layer: every write to lines, numbers and their settings.

The CLI, the IVR, the notifier and the site all call these functions with a
session inside one transaction (``store.db.transaction``). Each function
checks every rule before it changes anything and raises a typed
``DomainError`` on the first break, so the caller's rollback leaves the
database as it was. Numbers are addressed by their digits, as people do.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from store import outbox, passwords, validation
from store.errors import (
    AlreadyExists,
    InvalidInput,
    LimitExceeded,
    NotFound,
    NotSubscribed,
    RuleViolation,
)
from store.models import (
    MAX_DEDUP_KEY,
    AuthUnit,
    CallOutcome,
    DesignatedNumber,
    DestinationAddress,
    Line,
    MailKind,
    NotificationSetting,
    NuisanceEntry,
    Number,
    NumberRequestSetting,
    Presentation,
    Service,
    SiteSession,
    StoredCall,
    StoredDecision,
    TempPassword,
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
) -> Line:
    """A new line with its contract number (Words: 契約者回線)."""
    validation.subscriber_number(contract_number, field="contract_number")
    _ensure_number_free(session, contract_number)
    line = Line(contract_number=contract_number, auth_unit=AuthUnit(auth_unit))
    session.add(line)
    _new_number(session, line, contract_number, True, timezone, endpoint, services)
    session.flush()
    log.info("line_added", contract_number=contract_number, auth_unit=line.auth_unit.value)
    return line


def get_line(session: Session, contract_number: str) -> Line:
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
) -> Number:
    """An additional number (追加番号) on an existing line."""
    validation.subscriber_number(number)
    line = get_line(session, contract_number)
    _ensure_number_free(session, number)
    added = _new_number(session, line, number, False, timezone, endpoint, services)
    session.flush()
    log.info("number_added", contract_number=contract_number, number=number)
    return added


def get_number(session: Session, number: str, *, lock: bool = False) -> Number:
    """The number with its settings; ``lock`` holds it until the transaction ends.

    Locking the number row serialises writers of its lists on PostgreSQL
    (SQLite transactions are already exclusive, see ``store.db``).
    """
    stmt = select(Number).where(Number.number == number)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).one_or_none()
    if found is None:
        raise NotFound(f"no subscriber number {number!r}", field="number")
    return found


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
) -> Number:
    found = get_number(session, number, lock=True)
    if endpoint is not None and clear_endpoint:
        raise RuleViolation("give an endpoint or clear it, not both", field="endpoint")
    if endpoint is not None:
        found.endpoint = validation.endpoint(endpoint)
    if clear_endpoint:
        found.endpoint = None
    if timezone is not None:
        found.timezone = validation.time_zone(timezone)
    session.flush()
    log.info("number_updated", number=number, endpoint=found.endpoint, timezone=found.timezone)
    return found


def set_services(
    session: Session,
    number: str,
    *,
    enable: Iterable[Service] = (),
    disable: Iterable[Service] = (),
) -> Number:
    """Subscribe or unsubscribe services; an unsubscribed service is also switched off."""
    enable, disable = set(enable), set(disable)
    both = enable & disable
    if both:
        raise RuleViolation(
            f"service(s) {', '.join(sorted(both))} both enabled and disabled", field="services"
        )
    found = get_number(session, number, lock=True)
    for service in enable:
        setattr(found, f"{service.value}_subscribed", True)
    for service in disable:
        setattr(found, f"{service.value}_subscribed", False)
    if Service.MAIL in disable:
        found.notification.started = False
    if Service.NUMBER_REQUEST in disable:
        found.number_request.enabled = False
    if Service.VOICE_WARP in disable:
        found.voice_warp.enabled = False
    session.flush()
    log.info(
        "services_set",
        number=number,
        enabled=sorted(s.value for s in enable),
        disabled=sorted(s.value for s in disable),
    )
    return found


# --- notification mail (MAIL-1 ... MAIL-5) -----------------------------------


def start_mail(session: Session, number: str) -> NotificationSetting:
    """MAIL-1: start the service; needs at least one destination address."""
    found = _subscribed(session, number, Service.MAIL)
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
    found = _subscribed(session, number, Service.MAIL)
    found.notification.started = False
    session.flush()
    log.info("mail_stopped", number=number)
    return found.notification


def add_address(
    session: Session, number: str, address: str, *, send: bool = True
) -> DestinationAddress:
    """MAIL-2/3: a destination address in the first free of five slots."""
    validation.mail_address(address)
    found = _subscribed(session, number, Service.MAIL)
    key = address.lower()
    if any(a.address_key == key for a in found.addresses):
        raise AlreadyExists(f"{number}: address {address!r} is already set", field="address")
    position = _free_slot(
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
    found = _subscribed(session, number, Service.MAIL)
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
    found = _subscribed(session, number, Service.MAIL)
    entry = _find_address(found, address)
    entry.send = send
    session.flush()
    log.info("address_send_set", number=number, position=entry.position, send=send)
    return entry


def set_addresses(
    session: Session, number: str, rows: Sequence[tuple[str, bool]]
) -> list[DestinationAddress]:
    """MAIL-1/2/3 as one form: the number's destination addresses become ``rows``.

    ``rows`` are (address, send) in the order shown; an address already set
    (ignoring case) keeps its slot, the others are removed, new ones take
    free slots. Every rule is checked on the final list before anything is
    written: MAIL-3 for each address, no duplicates, at most five, and a
    started service keeps at least one (MAIL-1).
    """
    for index, (address, _send) in enumerate(rows, start=1):
        validation.mail_address(address, field=f"address_{index}")
    keys = [address.lower() for address, _ in rows]
    for index, key in enumerate(keys, start=1):
        if key in keys[: index - 1]:
            raise AlreadyExists(
                f"{number}: address {rows[index - 1][0]!r} is given twice", field=f"address_{index}"
            )
    if len(rows) > validation.MAX_ADDRESSES:
        raise LimitExceeded(
            f"{number}: {len(rows)} destination addresses; MAIL-2 allows at most "
            f"{validation.MAX_ADDRESSES}",
            field="address",
        )
    found = _subscribed(session, number, Service.MAIL)
    if not rows and found.notification.started:
        raise RuleViolation(
            f"{number}: a started service keeps at least one destination address; "
            "stop the service first (MAIL-1)",
            code="last_address_of_started",
            field="address_1",
        )
    wanted = dict(zip(keys, rows, strict=True))
    for entry in list(found.addresses):
        if entry.address_key not in wanted:
            found.addresses.remove(entry)
    session.flush()  # free the slots before new addresses take them
    kept = {entry.address_key: entry for entry in found.addresses}
    for key, (address, send) in wanted.items():
        if key in kept:
            kept[key].address, kept[key].send = address, send
            continue
        position = _free_slot(
            [a.position for a in found.addresses], validation.MAX_ADDRESSES, "no free slot"
        )
        found.addresses.append(
            DestinationAddress(position=position, address=address, address_key=key, send=send)
        )
    session.flush()
    log.info("addresses_set", number=number, count=len(rows), send=sum(s for _, s in rows))
    return list(found.addresses)


def set_designated_numbers(
    session: Session, number: str, rows: Sequence[tuple[str, bool]]
) -> list[DesignatedNumber]:
    """MAIL-5 as one form: the designated numbers become ``rows`` (caller, designated flag).

    Each is a diallable number, none twice, at most 30; checked before anything is written.
    """
    for index, (caller_number, _flag) in enumerate(rows, start=1):
        validation.diallable_number(caller_number, field=f"caller_number_{index}")
    callers = [caller for caller, _ in rows]
    for index, caller in enumerate(callers, start=1):
        if caller in callers[: index - 1]:
            raise AlreadyExists(
                f"{number}: {caller} is given twice", field=f"caller_number_{index}"
            )
    if len(rows) > validation.MAX_DESIGNATED:
        raise LimitExceeded(
            f"{number}: {len(rows)} designated numbers; MAIL-5 allows at most "
            f"{validation.MAX_DESIGNATED}",
            field="caller_number",
        )
    found = _subscribed(session, number, Service.MAIL)
    wanted = dict(rows)
    for entry in list(found.designated):
        if entry.caller_number not in wanted:
            found.designated.remove(entry)
    session.flush()
    kept = {entry.caller_number: entry for entry in found.designated}
    for caller, flag in wanted.items():
        if caller in kept:
            kept[caller].designated = flag
            continue
        position = _free_slot(
            [d.position for d in found.designated], validation.MAX_DESIGNATED, "no free slot"
        )
        found.designated.append(
            DesignatedNumber(position=position, caller_number=caller, designated=flag)
        )
    session.flush()
    log.info("designated_set", number=number, count=len(rows))
    return list(found.designated)


def set_conditions(
    session: Session,
    number: str,
    *,
    designated_only: bool | None = None,
    unanswered_only: bool | None = None,
) -> NotificationSetting:
    """MAIL-4: the two conditions; ``None`` leaves one as it is."""
    found = _subscribed(session, number, Service.MAIL)
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
    """MAIL-5: a designated caller number in the first free of 30 slots."""
    validation.diallable_number(caller_number)
    found = _subscribed(session, number, Service.MAIL)
    if any(d.caller_number == caller_number for d in found.designated):
        raise AlreadyExists(
            f"{number}: {caller_number} is already a designated number", field="caller_number"
        )
    position = _free_slot(
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
    found = _subscribed(session, number, Service.MAIL)
    found.designated.remove(_find_designated(found, caller_number))
    session.flush()
    log.info("designated_removed", number=number)


def set_designated_flag(
    session: Session, number: str, caller_number: str, designated: bool
) -> DesignatedNumber:
    found = _subscribed(session, number, Service.MAIL)
    entry = _find_designated(found, caller_number)
    entry.designated = designated
    session.flush()
    log.info("designated_flag_set", number=number, position=entry.position, designated=designated)
    return entry


# --- supplementary services (CALL-2 ... CALL-4) ------------------------------


def add_nuisance(
    session: Session, number: str, caller_number: str, *, hidden: bool = False
) -> NuisanceEntry:
    """CALL-2: a rejected caller in the first free of 30 slots."""
    validation.diallable_number(caller_number)
    found = _subscribed(session, number, Service.NUISANCE)
    if any(n.caller_number == caller_number for n in found.nuisance):
        raise AlreadyExists(
            f"{number}: this caller is already on the nuisance list", field="caller_number"
        )
    position = _free_slot(
        [n.position for n in found.nuisance],
        validation.MAX_NUISANCE,
        f"{number}: the nuisance list already has {validation.MAX_NUISANCE} entries "
        f"(CALL-2 allows at most {validation.MAX_NUISANCE}); remove one first",
    )
    entry = NuisanceEntry(position=position, caller_number=caller_number, hidden=hidden)
    found.nuisance.append(entry)
    session.flush()
    log.info("nuisance_added", number=number, position=position, hidden=hidden)
    return entry


def remove_nuisance(
    session: Session, number: str, *, caller_number: str | None = None, position: int | None = None
) -> None:
    """Remove by caller number, or by list position (the only handle on hidden entries)."""
    found = _subscribed(session, number, Service.NUISANCE)
    if (caller_number is None) == (position is None):
        raise RuleViolation("give either a caller number or a list position", field="caller_number")
    for entry in found.nuisance:
        if entry.position == position or (
            caller_number is not None and entry.caller_number == caller_number
        ):
            found.nuisance.remove(entry)
            session.flush()
            log.info("nuisance_removed", number=number, position=entry.position)
            return
    what = f"position {position}" if position is not None else "this caller"
    raise NotFound(f"{number}: {what} is not on the nuisance list", field="caller_number")


def set_number_request(
    session: Session,
    number: str,
    *,
    enabled: bool | None = None,
    reject_payphone: bool | None = None,
    reject_unavailable: bool | None = None,
) -> NumberRequestSetting:
    """CALL-3: Number Request on/off and whether payphone/unavailable are refused too."""
    found = _subscribed(session, number, Service.NUMBER_REQUEST)
    setting = found.number_request
    if enabled is not None:
        setting.enabled = enabled
    if reject_payphone is not None:
        setting.reject_payphone = reject_payphone
    if reject_unavailable is not None:
        setting.reject_unavailable = reject_unavailable
    session.flush()
    log.info(
        "number_request_set",
        number=number,
        enabled=setting.enabled,
        reject_payphone=setting.reject_payphone,
        reject_unavailable=setting.reject_unavailable,
    )
    return setting


def set_voice_warp(
    session: Session,
    number: str,
    *,
    enabled: bool | None = None,
    mode: VoiceWarpMode | None = None,
    destination: str | None = None,
    ring_seconds: int | None = None,
) -> VoiceWarpSetting:
    """CALL-4: forwarding mode, destination, ring time, on/off (on needs a destination)."""
    if destination is not None:
        validation.diallable_number(destination, field="destination")
    if ring_seconds is not None:
        validation.ring_seconds(ring_seconds)
    found = _subscribed(session, number, Service.VOICE_WARP)
    if destination == number:
        raise RuleViolation(
            f"{number}: cannot forward a number to itself",
            code="forward_to_self",
            field="destination",
        )
    setting = found.voice_warp
    new_destination = destination if destination is not None else setting.destination
    new_enabled = enabled if enabled is not None else setting.enabled
    if new_enabled and new_destination is None:
        raise RuleViolation(
            f"{number}: set a forwarding destination before switching Voice Warp on",
            code="forward_without_destination",
            field="destination",
        )
    if mode is not None:
        setting.mode = VoiceWarpMode(mode)
    if ring_seconds is not None:
        setting.ring_seconds = ring_seconds
    setting.destination = new_destination
    setting.enabled = new_enabled
    session.flush()
    log.info(
        "voice_warp_set",
        number=number,
        enabled=setting.enabled,
        mode=setting.mode.value,
        ring_seconds=setting.ring_seconds,
    )
    return setting


# --- temporary passwords (IVR-2, IVR-5, IVR-6, IVR-9) ------------------------------

TEMP_PASSWORD_VALIDITY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class CallerLine:
    """What the temporary-password line knows about a caller (IVR-2)."""

    caller_number: str
    contract_number: str
    caller_is_contract: bool
    # Numbers of the caller's line that subscribe to the mail service.
    service_numbers: frozenset[str]


def caller_line(session: Session, caller_number: str) -> CallerLine | None:
    """IVR-2: the caller's line if the caller is a number of a line with the service."""
    found = session.scalars(
        select(Number)
        .where(Number.number == caller_number)
        .options(selectinload(Number.line).selectinload(Line.numbers))
    ).one_or_none()
    if found is None:
        return None
    service_numbers = frozenset(n.number for n in found.line.numbers if n.mail_subscribed)
    if not service_numbers:
        return None
    return CallerLine(
        caller_number=found.number,
        contract_number=found.line.contract_number,
        caller_is_contract=found.is_contract,
        service_numbers=service_numbers,
    )


def temp_password_targets(line: CallerLine, auth_unit: AuthUnit) -> frozenset[str]:
    """The numbers whose temporary password this caller may set with this unit.

    IVR-4: line unit sets the contract number's. IVR-5: number unit, any
    number of the line with the service. IVR-6: admin/user unit, from the
    contract number any number of the line (itself as administrator), from
    an additional number only the caller's own.
    """
    if auth_unit is AuthUnit.LINE:
        return frozenset({line.contract_number})
    if auth_unit is AuthUnit.NUMBER:
        return line.service_numbers
    if line.caller_is_contract:
        return line.service_numbers | {line.contract_number}
    return line.service_numbers & {line.caller_number}


@dataclass(frozen=True)
class HashedTempPassword:
    """A validated temporary password, already hashed (outside any transaction)."""

    password_hash: str


def hash_temp_password(temp_password: str) -> HashedTempPassword:
    """IVR-7 check, then the slow KDF; call before opening the transaction."""
    validation.temp_password(temp_password)
    return HashedTempPassword(passwords.hash_password(temp_password))


def set_temp_password(
    session: Session,
    caller_number: str,
    target_number: str,
    hashed: HashedTempPassword,
    auth_unit: AuthUnit,
    *,
    now: dt.datetime,
) -> TempPassword:
    """IVR-9: store the temporary password of ``target_number`` for 24 hours.

    A newer one replaces an older one and resets its wrong-entry count; the
    line's auth unit becomes the chosen one. The caller's right to set it is
    checked again here, whoever calls.
    """
    line = caller_line(session, caller_number)
    if line is None:
        raise NotSubscribed(
            f"{caller_number} is not a number of a line with the service", field="caller_number"
        )
    if target_number not in temp_password_targets(line, auth_unit):
        raise RuleViolation(
            f"{caller_number} may not set the temporary password of {target_number} "
            f"with auth unit {auth_unit.value}",
            code="temp_password_target",
            field="number",
        )
    target = get_number(session, target_number, lock=True)
    current = target.temp_password
    if current is None:
        current = TempPassword(
            password_hash=hashed.password_hash,
            auth_unit=auth_unit,
            created_at=now,
            expires_at=now + TEMP_PASSWORD_VALIDITY,
        )
        target.temp_password = current
    current.password_hash = hashed.password_hash
    current.auth_unit = auth_unit
    current.created_at = now
    current.expires_at = now + TEMP_PASSWORD_VALIDITY
    current.wrong_count = 0
    current.used_at = None
    target.line.auth_unit = auth_unit
    # A new temporary password ends every site session of the number (as
    # store.site_auth.end_sessions does for the site's own changes).
    session.execute(delete(SiteSession).where(SiteSession.number_id == target.id))
    session.flush()
    # The caller's own number is logged by the voice flow, which knows whether
    # it was presented (MAIL-9 everywhere): here only a number keyed in is.
    shown = "caller" if target_number == caller_number else target_number
    log.info("temp_password_set", number=shown, auth_unit=auth_unit.value)
    return current


# --- incoming calls (CALL-1 ... CALL-4) and the nuisance feature code -----------


@dataclass(frozen=True)
class RoutingSettings:
    """What the routing decision needs of a subscriber number (only services it has)."""

    number: str
    endpoint: str | None
    nuisance_numbers: frozenset[str]
    number_request: bool
    reject_payphone: bool
    reject_unavailable: bool
    voice_warp: VoiceWarpMode | None  # None: off or not subscribed
    forward_to: str | None
    forward_ring_seconds: int


def route_incoming_call(
    session: Session,
    number: str,
    *,
    caller_number: str,
    presentation: Presentation,
    now: dt.datetime,
) -> RoutingSettings | None:
    """The number's routing settings; records the call as its last one (CALL-2).

    ``None`` for a number that is not provisioned.
    """
    found = session.scalars(
        select(Number).where(Number.number == number).with_for_update()
    ).one_or_none()
    if found is None:
        return None
    found.last_caller_number = caller_number or None
    found.last_caller_presentation = presentation
    found.last_call_at = now
    session.flush()
    nr, vw = found.number_request, found.voice_warp
    nr_on = found.number_request_subscribed and nr.enabled
    vw_on = found.voice_warp_subscribed and vw.enabled and vw.destination is not None
    return RoutingSettings(
        number=found.number,
        endpoint=found.endpoint,
        nuisance_numbers=frozenset(e.caller_number for e in found.nuisance)
        if found.nuisance_subscribed
        else frozenset(),
        number_request=nr_on,
        reject_payphone=nr_on and nr.reject_payphone,
        reject_unavailable=nr_on and nr.reject_unavailable,
        voice_warp=vw.mode if vw_on else None,
        forward_to=vw.destination if vw_on else None,
        forward_ring_seconds=vw.ring_seconds,
    )


class LastCallerResult(enum.StrEnum):
    ADDED = "added"
    ADDED_HIDDEN = "added_hidden"
    ALREADY_LISTED = "already_listed"
    LIST_FULL = "list_full"
    NO_LAST_CALL = "no_last_call"
    NO_NUMBER = "no_number"


def add_last_caller_to_nuisance(
    session: Session, number: str
) -> tuple[LastCallerResult, str | None]:
    """CALL-2 feature code: put the number's last caller on its nuisance list.

    A caller who withheld the number is listed hidden: refused like any
    other, never shown. Returns the result and the number to read back
    (only when it was presented).
    """
    found = _subscribed(session, number, Service.NUISANCE)
    if found.last_call_at is None:
        return LastCallerResult.NO_LAST_CALL, None
    caller = found.last_caller_number
    if caller is None:
        return LastCallerResult.NO_NUMBER, None
    try:
        validation.diallable_number(caller)
    except InvalidInput:
        return LastCallerResult.NO_NUMBER, None
    hidden = found.last_caller_presentation is not Presentation.ALLOWED
    if any(e.caller_number == caller for e in found.nuisance):
        return LastCallerResult.ALREADY_LISTED, None
    try:
        add_nuisance(session, number, caller, hidden=hidden)
    except LimitExceeded:
        return LastCallerResult.LIST_FULL, None
    if hidden:
        return LastCallerResult.ADDED_HIDDEN, None
    return LastCallerResult.ADDED, caller


# --- call decisions and the outbox (MAIL-10) ----------------------------------


@dataclass(frozen=True)
class QueuedMail:
    """One mail a decision calls for, composed, ready for the outbox."""

    recipient: str
    subject: str
    message: str  # the whole RFC 5322 message
    message_id: str


def find_number(session: Session, number: str) -> Number | None:
    return session.scalars(select(Number).where(Number.number == number)).one_or_none()


def load_numbers(session: Session, numbers: Iterable[str]) -> dict[str, Number]:
    """The given subscriber numbers with their mail settings, in one round of queries."""
    found = session.scalars(
        select(Number)
        .where(Number.number.in_(set(numbers)))
        .options(
            selectinload(Number.notification),
            selectinload(Number.addresses),
            selectinload(Number.designated),
        )
    ).all()
    return {n.number: n for n in found}


def decided_linkedids(session: Session, linkedids: Iterable[str]) -> set[str]:
    return set(
        session.scalars(select(StoredCall.linkedid).where(StoredCall.linkedid.in_(set(linkedids))))
    )


@dataclass(frozen=True)
class CallDecision:
    """One finished call and its decision, ready to store (MAIL-10)."""

    linkedid: str
    subscriber_number: str
    caller_number: str
    presentation: Presentation
    outcome: CallOutcome
    dial_status: str
    forward_dial_status: str
    started_at: dt.datetime
    ended_at: dt.datetime
    mailed: bool
    reason: str
    rule: str
    mails: Sequence[QueuedMail]
    # Recorded as malformed (issue 12): never linked to a subscriber's number.
    malformed: bool = False


def record_call_decisions(
    session: Session, decisions: Sequence[CallDecision], *, now: dt.datetime
) -> set[str]:
    """MAIL-10: calls, their one decision each and their mails, in the caller's transaction.

    ``now`` stamps the records, the decisions and the mails, which are due
    at once: the delivery worker compares these stamps with the same clock.

    Returns the Linkedids written; a call decided before (a replay after a
    restart, another notifier) is skipped: a call is decided exactly once.
    Rows go in with three bulk flushes whatever the batch size.
    """
    skip = decided_linkedids(session, (d.linkedid for d in decisions))
    todo = [d for d in decisions if d.linkedid not in skip]
    todo = list({d.linkedid: d for d in todo}.values())  # the same call twice in one batch
    if not todo:
        return set()
    number_ids = {
        n: i
        for n, i in session.execute(
            select(Number.number, Number.id).where(
                Number.number.in_({d.subscriber_number for d in todo})
            )
        )
    }
    calls = [
        StoredCall(
            linkedid=d.linkedid,
            subscriber_number=d.subscriber_number,
            number_id=None if d.malformed else number_ids.get(d.subscriber_number),
            caller_number=d.caller_number or None,
            presentation=d.presentation,
            outcome=d.outcome,
            dial_status=d.dial_status or None,
            forward_dial_status=d.forward_dial_status or None,
            started_at=d.started_at,
            ended_at=d.ended_at,
            recorded_at=now,
        )
        for d in todo
    ]
    session.add_all(calls)
    session.flush()
    made = [
        StoredDecision(
            call_id=call.id,
            mailed=d.mailed,
            reason=d.reason,
            rule=d.rule,
            recipients=[m.recipient for m in d.mails],
            decided_at=now,
        )
        for call, d in zip(calls, todo, strict=True)
    ]
    session.add_all(made)
    session.flush()
    outbox.enqueue(
        session,
        (
            outbox.QueuedMessage(
                dedup_key=call_mail_key(d.linkedid, mail.recipient),
                kind=MailKind.CALL_NOTIFICATION,
                decision_id=decision.id,
                recipient=mail.recipient,
                subject=mail.subject,
                message=mail.message,
                message_id=mail.message_id,
            )
            for decision, d in zip(made, todo, strict=True)
            for mail in d.mails
        ),
        now=now,
    )
    session.flush()
    return {d.linkedid for d in todo}


def call_mail_key(linkedid: str, recipient: str) -> str:
    """The outbox key of one call's mail to one recipient (MAIL-10: queued once).

    A 64-character Linkedid and a 254-character address would not fit the
    200-character column: such a key names the recipient by its digest.
    """
    key = f"call:{linkedid}:{recipient.lower()}"
    if len(key) <= MAX_DEDUP_KEY:
        return key
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()
    return f"call:{linkedid}:sha256:{digest}"


def record_call_decision(session: Session, *, now: dt.datetime, **fields: Any) -> bool:
    """One call's decision (see ``record_call_decisions``); False if decided before."""
    fields.setdefault("rule", "")
    return bool(record_call_decisions(session, [CallDecision(**fields)], now=now))


# --- views ---------------------------------------------------------------------


def describe_number(found: Number) -> dict[str, Any]:
    """Everything about one number as plain data (hidden nuisance entries masked)."""
    n = found.notification
    nr = found.number_request
    vw = found.voice_warp
    return {
        "number": found.number,
        "contract_number": found.line.contract_number,
        "is_contract": found.is_contract,
        "auth_unit": found.line.auth_unit.value,
        "endpoint": found.endpoint,
        "timezone": found.timezone,
        "services": sorted(s.value for s in Service if found.subscribes(s)),
        "mail": {
            "started": n.started,
            "designated_only": n.designated_only,
            "unanswered_only": n.unanswered_only,
            "addresses": [
                {"position": a.position, "address": a.address, "send": a.send}
                for a in found.addresses
            ],
            "designated_numbers": [
                {
                    "position": d.position,
                    "caller_number": d.caller_number,
                    "designated": d.designated,
                }
                for d in found.designated
            ],
        },
        "nuisance_list": [
            {
                "position": e.position,
                "caller_number": None if e.hidden else e.caller_number,
                "hidden": e.hidden,
            }
            for e in found.nuisance
        ],
        "number_request": {
            "enabled": nr.enabled,
            "reject_payphone": nr.reject_payphone,
            "reject_unavailable": nr.reject_unavailable,
        },
        "voice_warp": {
            "enabled": vw.enabled,
            "mode": vw.mode.value,
            "destination": vw.destination,
            "ring_seconds": vw.ring_seconds,
        },
    }


# --- helpers -------------------------------------------------------------------


def _ensure_number_free(session: Session, number: str) -> None:
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
) -> Number:
    subscribed = {Service(s) for s in services}
    created = Number(
        number=number,
        is_contract=is_contract,
        timezone=validation.time_zone(timezone),
        endpoint=validation.endpoint(endpoint) if endpoint is not None else None,
        **{f"{s.value}_subscribed": s in subscribed for s in Service},
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
    return created


def _subscribed(session: Session, number: str, service: Service) -> Number:
    found = get_number(session, number, lock=True)
    if not found.subscribes(service):
        raise NotSubscribed(
            f"{number} does not subscribe to the {service.value} service", field="number"
        )
    return found


def _free_slot(taken: Iterable[int], limit: int, full_message: str) -> int:
    used = set(taken)
    for slot in range(1, limit + 1):
        if slot not in used:
            return slot
    raise LimitExceeded(full_message)


def _find_address(found: Number, address: str) -> DestinationAddress:
    key = address.lower()
    for entry in found.addresses:
        if entry.address_key == key:
            return entry
    raise NotFound(f"{found.number}: no destination address {address!r}", field="address")


def _find_designated(found: Number, caller_number: str) -> DesignatedNumber:
    for entry in found.designated:
        if entry.caller_number == caller_number:
            return entry
    raise NotFound(
        f"{found.number}: {caller_number} is not a designated number", field="caller_number"
    )
