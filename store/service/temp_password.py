"""What the temporary-password line (the IVR) needs of the store (IVR-2 ... IVR-9).

Who calls (``caller_line``), whose temporary password the caller may set
(``temp_password_targets``), and the write itself (``set_temp_password``),
with the slow hashing done before the transaction (``hash_temp_password``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from store import passwords, validation
from store.errors import NotSubscribed, RuleViolation
from store.models import AuthUnit, Line, Number, SiteSession, TempPassword
from store.service.lines import get_number

log = structlog.get_logger("store")


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
