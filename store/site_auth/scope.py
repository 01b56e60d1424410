"""Who logs in, and what a login manages (SITE-1, SITE-6, SITE-10), and the rows it reads.

The seeds' page 「ひかり電話設定サイトの認証方法」 in functions of a line and
its auth unit; the row loaders every flow of the package shares (one lock
order: the line, then ``temp_password``, then ``site_credential``); and
``end_sessions``, which each change of a credential calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from store.models import AuthUnit, Line, Number, SiteCredential, SiteSession, TempPassword
from store.site_auth.errors import OutOfScope
from store.site_auth.limits import IDLE_TIMEOUT_LINE, IDLE_TIMEOUT_OTHER


def check_aware(now: dt.datetime) -> None:
    """Every function takes ``now`` (the rules never read the clock), and it must be aware."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")


def idle_timeout_for(auth_unit: AuthUnit, is_contract: bool) -> dt.timedelta:
    """SITE-6: how long a session may stay idle.

    The seeds (001) give 10 minutes for the line unit and 30 for the number
    unit and say nothing of the admin/user unit; it gets 30 minutes, the
    administrator (``is_contract``) as well as the users.
    """
    if AuthUnit(auth_unit) is AuthUnit.LINE:
        return IDLE_TIMEOUT_LINE
    return IDLE_TIMEOUT_OTHER


def all_numbers(line: Line) -> tuple[str, ...]:
    """Every number of the line, the contract number first."""
    return tuple(
        sorted((n.number for n in line.numbers), key=lambda n: (n != line.contract_number, n))
    )


def login_scope(found: Number, line: Line, unit: AuthUnit) -> tuple[str, ...] | None:
    """SITE-1: the numbers a login with ``found`` manages under ``unit``; None: no login.

    Seeds P.2 「ひかり電話設定サイトの認証方法」: line unit, the contract number
    manages every number; number unit, a number with the service manages
    itself; admin/user unit, the contract number (管理者) manages every
    number and an additional number with the service (ユーザ) itself. A line
    without the service on any number has no login at all (as IVR-2).
    """
    return _scope_rule(
        found.number,
        found.is_contract,
        found.mail_subscribed,
        unit,
        line_subscribed=lambda: any(n.mail_subscribed for n in line.numbers),
        line_numbers=lambda: all_numbers(line),
    )


def _scope_rule(
    number: str,
    is_contract: bool,
    subscribed: bool,
    unit: AuthUnit,
    *,
    line_subscribed: Callable[[], bool],
    line_numbers: Callable[[], tuple[str, ...]],
) -> tuple[str, ...] | None:
    """``login_scope``'s rule on plain values; the line's facts asked only when needed."""
    if not (subscribed or line_subscribed()):
        return None
    if unit is AuthUnit.LINE:
        return line_numbers() if is_contract else None
    if unit is AuthUnit.ADMIN_USER and is_contract:
        return line_numbers()
    return (number,) if subscribed else None


@dataclass(frozen=True)
class Reach:
    """SITE-1: what a logged-in number reaches now: the numbers it manages (contract
    number first), its line's auth unit, whether it is the contract number."""

    numbers: tuple[str, ...]
    unit: AuthUnit
    is_contract: bool


def login_reach(session: Session, login_number: str) -> Reach:
    """SITE-1: ``managed_numbers`` with the login's auth unit, read as columns.

    Issue 18: every page request asks this; for the administrator of a line
    of 1,000 numbers it read the line's 1,000 ``Number`` rows (about 40 ms
    of CPU). Now: one row of the login's number and line, the line's digits
    when the scope is the whole line, and whether any number of the line has
    the service only when the login's own has not; no ORM row is loaded.
    Raises ``OutOfScope`` (``login_not_allowed``) as ``managed_numbers``.
    """
    login = session.execute(
        select(
            Number.line_id,
            Number.is_contract,
            Number.mail_subscribed,
            Line.auth_unit,
            Line.contract_number,
        )
        .join(Line, Line.id == Number.line_id)
        .where(Number.number == login_number)
    ).one_or_none()
    if login is None:
        raise OutOfScope("login_not_allowed")
    line_id, is_contract, subscribed, unit, contract_number = login

    def line_subscribed() -> bool:
        return bool(
            session.scalar(
                select(Number.id)
                .where(Number.line_id == line_id, Number.mail_subscribed.is_(True))
                .limit(1)
            )
        )

    def line_numbers() -> tuple[str, ...]:
        digits = session.scalars(select(Number.number).where(Number.line_id == line_id))
        return tuple(sorted(digits, key=lambda n: (n != contract_number, n)))

    unit = AuthUnit(unit)
    scope = _scope_rule(
        login_number,
        is_contract,
        subscribed,
        unit,
        line_subscribed=line_subscribed,
        line_numbers=line_numbers,
    )
    if scope is None:
        raise OutOfScope("login_not_allowed")
    return Reach(scope, unit, is_contract)


def password_scope(found: Number, line: Line) -> tuple[str, ...]:
    """SITE-10: whose password a login may change.

    Seeds パスワード変更・認証単位の変更(1): 「認証単位が「契約者/ユーザ単位」で、
    かつ契約者回線番号でログインした場合は、同一回線内の全ての電話番号の
    パスワードを変更できます」. Every other login changes its own password.
    """
    if line.auth_unit is AuthUnit.ADMIN_USER and found.is_contract:
        return all_numbers(line)
    return (found.number,)


def may_log_in(line: Line, unit: AuthUnit) -> tuple[Number, ...]:
    """SITE-1: the numbers of the line that log in under ``unit``."""
    return tuple(n for n in line.numbers if login_scope(n, line, unit) is not None)


def load_number(session: Session, number: str) -> Number | None:
    """The number with its line and the line's numbers (the scope needs them all)."""
    return session.scalars(
        select(Number)
        .where(Number.number == number)
        .options(selectinload(Number.line).selectinload(Line.numbers))
    ).one_or_none()


def temp_row(session: Session, number_id: int, *, lock: bool) -> TempPassword | None:
    stmt = select(TempPassword).where(TempPassword.number_id == number_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def credential_row(session: Session, number_id: int, *, lock: bool) -> SiteCredential | None:
    stmt = select(SiteCredential).where(SiteCredential.number_id == number_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def credential_live(cred: SiteCredential | None) -> bool:
    """SITE-4: the number has a password that still logs in."""
    return cred is not None and cred.invalidated_at is None


def otp_address_verified(cred: SiteCredential) -> bool:
    """SITE-5: the OTP address followed its verification link (本登録)."""
    return cred.otp_address is not None and cred.otp_address_verified_at is not None


def managed_numbers(session: Session, login_number: str) -> tuple[str, ...]:
    """SITE-1: the numbers a logged-in session manages now (its auth unit may have changed).

    Raises ``OutOfScope`` (``login_not_allowed``) when the number may no
    longer log in; the site then ends the session.
    """
    return login_reach(session, login_number).numbers


def end_sessions(session: Session, number_ids: Iterable[int], *, keep: str | None = None) -> None:
    """End every site session (SITE-6) of these numbers, in the caller's transaction.

    Called wherever a number's credential changes (a new password, an
    invalidation, a new temporary password, an auth unit change, a new
    confirmation ID or password or OTP address): a session opened before must
    not outlive the secret it was opened with. ``keep``: the ``id_hash`` of the
    session that made the change, when it goes on (the site gives it a new id).
    """
    gone = delete(SiteSession).where(SiteSession.number_id.in_(list(number_ids)))
    if keep is not None:
        gone = gone.where(SiteSession.id_hash != keep)
    session.execute(gone)
