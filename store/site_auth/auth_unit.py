"""The auth unit change (SITE-8): the seeds' pages (2)…(7), one small transition each.

Seeds 「パスワード変更・認証単位の変更(2)…(7)」: each page is one change
between two of the three units, and says which passwords are needed, which
survive and which numbers need a new temporary password. ``change_auth_unit``
checks the request (the same checks for every page, in one order), then
runs the page's transition from ``TRANSITIONS``; each returns the page's
sentences for the completion page (``AuthUnitChanged.notices``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import db, passwords
from store.models import AuthUnit, Line, Number, SiteCredential
from store.site_auth.errors import OutOfScope, PasswordsRefused, violation
from store.site_auth.login_flow import count_wrong_password
from store.site_auth.password_change import replace_hash
from store.site_auth.scope import (
    all_numbers,
    check_aware,
    credential_live,
    credential_row,
    end_sessions,
    load_number,
    login_scope,
    may_log_in,
)

log = structlog.get_logger("store")


@dataclass(frozen=True)
class AuthUnitChanged:
    """SITE-8: what the completion page tells the subscriber.

    ``login_numbers``: the numbers that log in from now on.
    ``need_temp_password``: numbers that may log in under the new unit but
    have no valid password; each needs a temporary password by phone first.
    ``invalidated``: numbers whose password this change made invalid.
    ``notices``: the seeds' sentences for the page, as codes the site words. The
    session's scope has changed with the unit: the site ends it.
    """

    old_unit: AuthUnit
    new_unit: AuthUnit
    login_numbers: tuple[str, ...]
    need_temp_password: tuple[str, ...]
    invalidated: tuple[str, ...]
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class UnitChange:
    """A checked change on its way: the locked line and the credentials a page transforms.

    ``creds``: the line's credentials by number, locked; a transition that
    gives a number a password adds it here.
    """

    session: Session
    line: Line
    login: Number
    contract: Number
    creds: dict[str, SiteCredential]
    now: dt.datetime

    def copy_password(self, source: SiteCredential, number: Number) -> None:
        """Give ``number`` the password of ``source``, keeping its age (SITE-4)."""
        _set_credential(
            self.session, number, self.creds, source.password_hash, source.changed_at, self.now
        )

    def invalidate_additional_numbers(self) -> None:
        """Every live password but the contract number's becomes invalid."""
        for number, cred in self.creds.items():
            if number != self.contract.number and credential_live(cred):
                cred.invalidated_at = self.now


@dataclass(frozen=True)
class Notice:
    """One sentence of the completion page, by code; the site words it (``web.texts.NOTICES``)."""

    code: str
    params: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


def _contract_number_logs_in(change: UnitChange) -> Notice:
    return Notice("contract_number_logs_in", {"contract": change.contract.number})


def _contract_number_manages_all(change: UnitChange) -> Notice:
    return Notice("contract_number_manages_all", {"contract": change.contract.number})


_EACH_NUMBER_LOGS_IN = Notice("each_number_logs_in")


def page_2_number_to_line(change: UnitChange) -> list[Notice]:
    """(2) 電話番号単位から回線単位: only the contract number logs in, with the changer's password.

    「追加電話番号で認証変更した場合、追加電話番号でログインした際のパスワード
    となります」: the login number's password becomes the line's. (2) says
    nothing of the other passwords; they are made invalid too, so that (4)
    finds none, as it expects.
    """
    if change.login.number != change.contract.number:
        change.copy_password(change.creds[change.login.number], change.contract)
    change.invalidate_additional_numbers()
    return [
        _contract_number_logs_in(change),
        Notice("password_of_login_number", {"number": change.login.number}),
    ]


def page_3_number_to_admin_user(change: UnitChange) -> list[Notice]:
    """(3) 電話番号単位から管理者/ユーザ単位: every password stays as it is.

    「契約電話番号、追加電話番号ともに電話番号単位でログインした際のパスワード
    となります」.
    """
    return [
        Notice("passwords_of_number_unit"),
        _contract_number_manages_all(change),
    ]


def page_4_line_to_number(change: UnitChange) -> list[Notice]:
    """(4) 回線単位から電話番号単位: the contract number keeps its password, the others need one.

    And seeds 001: 「契約電話番号のパスワードはログインした際に利用したパスワード
    となります。その他の追加番号は仮パスワードを発行のうえ、本パスワードを
    設定してください」.
    """
    change.invalidate_additional_numbers()
    return [
        Notice("contract_password_of_line_unit"),
        _EACH_NUMBER_LOGS_IN,
    ]


def page_5_line_to_admin_user(change: UnitChange) -> list[Notice]:
    """(5) 回線単位から管理者/ユーザ単位: the line's password is given to every number.

    「回線単位でログインした際のパスワードと同一のパスワードが全ての番号に
    設定されます」.
    """
    source = change.creds[change.contract.number]
    for other in change.line.numbers:
        if other.id != change.contract.id:
            change.copy_password(source, other)
    return [
        Notice("line_password_given_to_all"),
        _contract_number_manages_all(change),
    ]


def page_6_admin_user_to_number(change: UnitChange) -> list[Notice]:
    """(6) 管理者/ユーザ単位から電話番号単位: every password stays as it is.

    「契約電話番号、追加電話番号ともに管理者/ユーザ単位でログインした際の
    パスワードとなります。パスワード未設定の電話番号を利用される際は、
    仮パスワードを発行の上、本パスワードを設定してください」.
    """
    return [
        Notice("passwords_of_admin_user_unit"),
        _EACH_NUMBER_LOGS_IN,
    ]


def page_7_admin_user_to_line(change: UnitChange) -> list[Notice]:
    """(7) 管理者/ユーザ単位から回線単位: only the contract number logs in, with its password.

    「追加電話番号利用時のパスワードは無効となります」.
    """
    change.invalidate_additional_numbers()
    return [
        _contract_number_logs_in(change),
        Notice("contract_password_kept_others_invalid"),
    ]


# (old unit, new unit) -> the seeds' page for that change.
TRANSITIONS: Mapping[tuple[AuthUnit, AuthUnit], Callable[[UnitChange], list[Notice]]] = {
    (AuthUnit.NUMBER, AuthUnit.LINE): page_2_number_to_line,
    (AuthUnit.NUMBER, AuthUnit.ADMIN_USER): page_3_number_to_admin_user,
    (AuthUnit.LINE, AuthUnit.NUMBER): page_4_line_to_number,
    (AuthUnit.LINE, AuthUnit.ADMIN_USER): page_5_line_to_admin_user,
    (AuthUnit.ADMIN_USER, AuthUnit.NUMBER): page_6_admin_user_to_number,
    (AuthUnit.ADMIN_USER, AuthUnit.LINE): page_7_admin_user_to_line,
}


def change_auth_unit(
    session: Session,
    login_number: str,
    new_unit: AuthUnit,
    passwords_by_number: Mapping[str, str],
    *,
    now: dt.datetime,
    verified: Mapping[tuple[str, str], bool] | None = None,
) -> AuthUnitChanged:
    """SITE-8: change the line's auth unit, following the seeds' pages (2)…(7).

    ``passwords_by_number`` maps numbers to the passwords entered on the
    page. From the number unit every number that logs in under it must be
    given with its password (pages (2), (3): 「全ての契約電話番号、追加電話番号の
    パスワードが必要」); from the line and admin/user units the login
    number's own password (pages (4)…(7): 「パスワード」を入力). From the
    admin/user unit only the contract number may change it (pages (6), (7)).
    From the number unit the contract number's password is needed too, also
    when it has no service: page (2) replaces it. Nothing is written on
    error, so wrong entries are not counted here: a page where a person types
    the passwords calls ``attempt_auth_unit_change``, which counts them.
    A wrong password is refused without saying whose it was. ``verified``:
    argon2 results by (hash, password) computed before the transaction; a
    hash not in it (changed meanwhile) is checked here.
    """
    check_aware(now)
    new_unit = AuthUnit(new_unit)
    login, line = _requested(session, login_number, new_unit)
    old_unit = line.auth_unit
    creds = _proven(session, line, login, old_unit, passwords_by_number, verified or {})

    contract = next(n for n in line.numbers if n.is_contract)
    live_before = {n for n, c in creds.items() if credential_live(c)}
    change = UnitChange(session, line, login, contract, creds, now)
    notices = TRANSITIONS[(old_unit, new_unit)](change)

    line.auth_unit = new_unit
    # Who logs in, with which password, has changed for the whole line.
    end_sessions(session, [n.id for n in line.numbers])
    session.flush()
    live_after = {n for n, c in creds.items() if credential_live(c)}
    allowed = {n.number for n in may_log_in(line, new_unit)}
    login_numbers = tuple(n for n in all_numbers(line) if n in allowed)
    need_temp = tuple(n for n in login_numbers if n not in live_after)
    if need_temp:
        notices.append(Notice("need_temp_password", {"numbers": need_temp}))
    invalidated = tuple(n for n in all_numbers(line) if n in live_before - live_after)
    log.info(
        "auth_unit_changed",
        contract_number=line.contract_number,
        by=login_number,
        old_unit=old_unit.value,
        new_unit=new_unit.value,
        need_temp_password=len(need_temp),
        invalidated=len(invalidated),
    )
    return AuthUnitChanged(
        old_unit=old_unit,
        new_unit=new_unit,
        login_numbers=login_numbers,
        need_temp_password=need_temp,
        invalidated=invalidated,
        notices=tuple(notices),
    )


def _requested(session: Session, login_number: str, new_unit: AuthUnit) -> tuple[Number, Line]:
    """The login number and its line, locked, when the login may ask for ``new_unit``."""
    login = load_number(session, login_number)
    if login is None:
        raise OutOfScope("login_not_allowed")
    line = session.scalars(
        select(Line)
        .where(Line.id == login.line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    old_unit = line.auth_unit
    if login_scope(login, line, old_unit) is None:
        raise OutOfScope("login_not_allowed")
    if new_unit is old_unit:
        raise violation("auth_unit_unchanged", "auth_unit")
    if old_unit is AuthUnit.ADMIN_USER and not login.is_contract:
        # (6)(7) 「管理者/ユーザ単位から…への変更は、契約者回線番号でのログイン時のみ行えます」
        raise OutOfScope("contract_number_only", field="auth_unit")
    return login, line


def _proven(
    session: Session,
    line: Line,
    login: Number,
    old_unit: AuthUnit,
    passwords_by_number: Mapping[str, str],
    verified: Mapping[tuple[str, str], bool],
) -> dict[str, SiteCredential]:
    """The line's credentials by number, locked, once every password the change needs is right.

    Refused in this order: a password not entered, a number without a valid
    password, a wrong password (naming no number in its text).
    """
    required = _unit_change_passwords(line, login, old_unit)
    missing = [n for n in required if not passwords_by_number.get(n)]
    if missing:
        raise PasswordsRefused("passwords_missing", missing)

    by_id = {n.id: n for n in line.numbers}
    creds = {
        by_id[c.number_id].number: c
        for c in session.scalars(
            select(SiteCredential)
            .where(SiteCredential.number_id.in_(by_id))
            .order_by(SiteCredential.number_id)
            .with_for_update()
        )
    }
    unset = [n for n in required if not credential_live(creds.get(n))]
    if unset:
        raise PasswordsRefused("passwords_not_set", unset)
    pairs = [(creds[n].password_hash, passwords_by_number[n]) for n in required]
    unknown = [pair for pair in pairs if pair not in verified]
    checked = {**verified, **dict(zip(unknown, _verify_many(unknown), strict=True))}
    wrong = [n for n, pair in zip(required, pairs, strict=True) if not checked[pair]]
    if wrong:
        raise PasswordsRefused("passwords_wrong", wrong)
    return creds


def attempt_auth_unit_change(
    sessions: sessionmaker[Session],
    login_number: str,
    new_unit: AuthUnit,
    passwords_by_number: Mapping[str, str],
    *,
    now: dt.datetime,
) -> AuthUnitChanged:
    """SITE-8 as typed on the site: ``change_auth_unit``, and each wrong password counts (SITE-4).

    The page asks for other numbers' passwords: without a count it would be
    an unlimited oracle for them. Each wrong one counts against its number as
    a wrong login does (the 10th in a row makes it invalid); the count is
    committed before ``PasswordsRefused`` is raised, hence the session
    factory (as ``login``). The argon2 checks run first, outside any
    transaction: a line may have hundreds of numbers, and SQLite has one
    writer lock.
    """
    with db.transaction(sessions, read_only=True) as session:
        pairs = _unit_change_pairs(session, login_number, passwords_by_number)
    verified = dict(zip(pairs, _verify_many(pairs), strict=True))
    try:
        with db.transaction(sessions) as session:
            return change_auth_unit(
                session, login_number, new_unit, passwords_by_number, now=now, verified=verified
            )
    except PasswordsRefused as exc:
        if exc.code != "passwords_wrong":
            raise
        refusal = exc
    with db.transaction(sessions) as session:
        for number in refusal.numbers:
            found = session.scalars(select(Number).where(Number.number == number)).one()
            cred = credential_row(session, found.id, lock=True)
            if credential_live(cred):
                count_wrong_password(session, found.id, None, cred, number, now)
        session.flush()
    log.info("auth_unit_change_refused", by=login_number, wrong=len(refusal.numbers))
    raise refusal


def _unit_change_passwords(line: Line, login: Number, old_unit: AuthUnit) -> list[str]:
    """SITE-8: the numbers whose passwords the change needs, sorted."""
    if old_unit is AuthUnit.NUMBER:
        # The contract number is always among them, even without the service
        # (then it does not log in under the number unit): (2) replaces its
        # password with the changer's, so its owner must agree.
        return sorted({n.number for n in may_log_in(line, old_unit)} | {line.contract_number})
    return [login.number]


def _unit_change_pairs(
    session: Session, login_number: str, passwords_by_number: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(hash, entered password) of the live passwords the change will check, read unlocked."""
    login = load_number(session, login_number)
    if login is None:
        return []
    required = _unit_change_passwords(login.line, login, login.line.auth_unit)
    by_number = {n.id: n.number for n in login.line.numbers}
    creds = session.scalars(
        select(SiteCredential).where(SiteCredential.number_id.in_(by_number))
    ).all()
    live = {by_number[c.number_id]: c.password_hash for c in creds if credential_live(c)}
    return [
        (live[n], passwords_by_number[n])
        for n in required
        if n in live and passwords_by_number.get(n)
    ]


def _set_credential(
    session: Session,
    number: Number,
    creds: dict[str, SiteCredential],
    password_hash: str,
    changed_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """Give ``number`` a copy of another number's password, keeping its age (SITE-4)."""
    cred = creds.get(number.number)
    if cred is None:
        cred = SiteCredential(
            number_id=number.id,
            password_hash=password_hash,
            changed_at=changed_at,
            wrong_count=0,
            otp_enabled=False,
        )
        session.add(cred)
        creds[number.number] = cred
    else:
        replace_hash(cred, password_hash, changed_at=changed_at, now=now)


def _verify_many(pairs: Sequence[tuple[str, str]]) -> list[bool]:
    """argon2 checks side by side: a line may have hundreds of numbers (SITE-8 (2))."""
    if len(pairs) <= 1:
        return [passwords.verify_password(h, p) for h, p in pairs]
    with ThreadPoolExecutor(max_workers=min(len(pairs), os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda pair: passwords.verify_password(*pair), pairs))
