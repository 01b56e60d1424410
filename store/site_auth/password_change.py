"""The password change page (SITE-10), with the SITE-3 rules and the SITE-2/SITE-4 counts.

``change_password`` holds the rules and writes nothing on error;
``attempt_password_change`` is what the site calls: it does the argon2 work
before the transaction and counts a wrong current password, committed
before it raises (hence the session factory).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from store import db, password_rules, passwords
from store.errors import RuleViolation
from store.models import Number, PasswordHistory, SiteCredential, TempPassword
from store.site_auth.errors import CurrentPasswordRefused, OutOfScope, invalid_input, violation
from store.site_auth.limits import TEMP_PASSWORD_MAX_WRONG
from store.site_auth.login_flow import Verifier, count_wrong_password
from store.site_auth.scope import (
    check_aware,
    credential_live,
    credential_row,
    end_sessions,
    load_number,
    login_scope,
    password_scope,
    temp_row,
)

log = structlog.get_logger("store")


@dataclass(frozen=True)
class PasswordChanged:
    """SITE-10: the number whose password changed.

    ``relogin_required``: the login's own password changed, so the site sends
    the subscriber to the login page (seeds (1) step 3: 「ログイン画面へ」);
    an administrator who changed another number's password goes back
    (「戻る」).
    """

    number: str
    relogin_required: bool


@dataclass(frozen=True)
class PasswordChecks:
    """The argon2 work of a password change, done before its transaction.

    ``current``: the entered current password against stored hashes;
    ``new``: the new password against stored hashes (SITE-3: not the
    current one); ``new_hash``: the new password hashed. A hash not checked
    here (changed meanwhile) is checked under the lock.
    """

    current: Verifier
    new: Verifier
    new_hash: str | None = None


def _temp_usable_for_change(temp: TempPassword | None, now: dt.datetime) -> bool:
    """The temporary password still proves the login for its forced change (SITE-2)."""
    return temp is not None and temp.wrong_count < TEMP_PASSWORD_MAX_WRONG and now < temp.expires_at


def _change_request(
    session: Session,
    login_number: str,
    target_number: str,
    current: str,
    new: str,
    confirm: str,
) -> tuple[Number, Number]:
    """The login and target numbers of a password change; every check before argon2."""
    if not current:
        raise invalid_input("current_password_empty", "current_password")
    login = load_number(session, login_number)
    if login is None or login_scope(login, login.line, login.line.auth_unit) is None:
        raise OutOfScope("login_not_allowed")
    if target_number not in password_scope(login, login.line):
        raise OutOfScope("out_of_scope", field="target_number")
    target = next(n for n in login.line.numbers if n.number == target_number)

    password_rules.check_password(new, number=target_number, field="new_password")
    if new != confirm:
        raise violation("confirm_mismatch", "confirm_password")
    return login, target


def change_password(
    session: Session,
    login_number: str,
    target_number: str,
    current: str,
    new: str,
    confirm: str,
    *,
    now: dt.datetime,
    checks: PasswordChecks | None = None,
) -> PasswordChanged:
    """SITE-2/3/10: set the password of ``target_number``.

    ``current`` is the password of the *login* number: its temporary
    password after a temporary-password login, otherwise its password (also
    when 60 days old). An administrator (admin/user unit, contract number)
    may change any number of the line, proving who they are with their own
    password; every other login changes its own password only, and a
    temporary-password login only its own. The new password follows SITE-3
    and must differ from the target's current password. The old hash goes to
    the history; counts and invalidation are cleared; the target's temporary
    password is removed. Errors carry ``field`` (``current_password``,
    ``new_password``, ``confirm_password``, ``target_number``) and nothing is
    written, so a wrong current password is not counted here: the site calls
    ``attempt_password_change``, which counts it (SITE-4) and does the argon2
    work before the transaction (``checks``). Every session of the target
    number ends (an older one must not go on with the old password); the
    site gives the changing session a new id if it goes on.
    """
    check_aware(now)
    login, target = _change_request(session, login_number, target_number, current, new, confirm)
    verify_current = checks.current if checks is not None else Verifier(current)
    verify_new = checks.new if checks is not None else Verifier(new)

    # Lock order as in login: temp_password, then site_credential.
    target_temp = temp_row(session, target.id, lock=True)
    target_cred = credential_row(session, target.id, lock=True)
    if login.id == target.id:
        login_temp, login_cred = target_temp, target_cred
    else:
        login_temp = temp_row(session, login.id, lock=False)
        login_cred = credential_row(session, login.id, lock=False)

    via_temp = (
        login_temp is not None
        and _temp_usable_for_change(login_temp, now)
        and verify_current(login_temp.password_hash)
    )
    via_cred = (
        not via_temp
        and login_cred is not None
        and credential_live(login_cred)
        and verify_current(login_cred.password_hash)
    )
    if not (via_temp or via_cred):
        raise violation("current_password_wrong", "current_password")
    if via_temp and target.id != login.id:
        raise OutOfScope("temp_password_own_only", field="target_number")
    if target_cred is not None:
        if via_cred and target.id == login.id:
            if new == current:  # no second argon2 run for what a comparison shows
                raise password_rules.PasswordRuleError(
                    "password_same_as_current", field="new_password"
                )
        else:
            password_rules.check_not_current(
                new,
                target_cred.password_hash,
                lambda password_hash, _new: verify_new(password_hash),
                field="new_password",
            )

    new_hash = checks.new_hash if checks is not None else None
    if new_hash is None:
        new_hash = passwords.hash_password(new)
    if target_cred is None:
        session.add(
            SiteCredential(
                number_id=target.id,
                password_hash=new_hash,
                changed_at=now,
                wrong_count=0,
                otp_enabled=False,
            )
        )
    else:
        replace_hash(target_cred, new_hash, changed_at=now, now=now)
    if target_temp is not None:
        session.delete(target_temp)
    end_sessions(session, [target.id])
    session.flush()
    log.info("password_changed", number=target_number, by=login_number, via_temp_password=via_temp)
    return PasswordChanged(number=target_number, relogin_required=target.id == login.id)


def attempt_password_change(
    sessions: sessionmaker[Session],
    login_number: str,
    target_number: str,
    current: str,
    new: str,
    confirm: str,
    *,
    now: dt.datetime,
) -> PasswordChanged:
    """SITE-10 as typed on the site: ``change_password``; a wrong current password counts.

    The page is a guessing surface for the login number's password (a
    session left open, or taken over): each wrong current password counts
    against the login number's live secrets as a wrong login does (SITE-4:
    the 10th in a row makes the password invalid; SITE-2: the 3rd the
    temporary password), committed before ``CurrentPasswordRefused`` is
    raised; an invalidation ends the number's sessions. A right one resets
    the count. Errors in the new password are checked first and count
    nothing. The argon2 checks and the new hash run before the transaction,
    outside SQLite's one writer lock; the stored hashes are read again under
    the lock, and one changed meanwhile is checked there.
    """
    check_aware(now)
    checks = PasswordChecks(Verifier(current), Verifier(new))
    with db.transaction(sessions, read_only=True) as session:
        login, target = _change_request(session, login_number, target_number, current, new, confirm)
        login_temp = temp_row(session, login.id, lock=False)
        login_cred = credential_row(session, login.id, lock=False)
        target_cred = credential_row(session, target.id, lock=False)
        temp_hash = (
            login_temp.password_hash
            if login_temp is not None and _temp_usable_for_change(login_temp, now)
            else None
        )
        cred_hash = (
            login_cred.password_hash
            if login_cred is not None and credential_live(login_cred)
            else None
        )
        target_hash = None if target_cred is None else target_cred.password_hash
        login_wrong = 0 if login_cred is None else login_cred.wrong_count
        same_number = login.id == target.id
    via_temp = temp_hash is not None and checks.current(temp_hash)
    via_cred = not via_temp and cred_hash is not None and checks.current(cred_hash)
    if via_temp or via_cred:
        if target_hash is not None and not (via_cred and same_number):
            checks.new(target_hash)
        if not (via_cred and same_number and new == current) and not (
            target_hash is not None and checks.new.results.get(target_hash)
        ):
            checks = PasswordChecks(checks.current, checks.new, passwords.hash_password(new))
    try:
        with db.transaction(sessions) as session:
            changed = change_password(
                session, login_number, target_number, current, new, confirm, now=now, checks=checks
            )
    except RuleViolation as exc:
        if exc.code != "current_password_wrong":
            raise
    else:
        if not same_number and login_wrong:
            # The administrator's own password was right: its count starts again.
            with db.transaction(sessions) as session:
                _reset_wrong_count(session, login_number)
        return changed
    with db.transaction(sessions) as session:
        refusal = _count_wrong_current(session, login_number, checks.current, now)
    log.info("password_change_refused", by=login_number, reason=refusal.code)
    raise refusal


def _reset_wrong_count(session: Session, number: str) -> None:
    found = load_number(session, number)
    if found is None:
        return
    cred = credential_row(session, found.id, lock=True)
    if cred is not None and credential_live(cred):
        cred.wrong_count = 0
    session.flush()


def _count_wrong_current(
    session: Session, login_number: str, verify: Verifier, now: dt.datetime
) -> CurrentPasswordRefused:
    """Count a wrong current password against each live secret it was checked against.

    A secret set or changed since the check (not among ``verify``'s results)
    is not counted: the entry was not a guess at it.
    """
    found = load_number(session, login_number)
    if found is None:
        return CurrentPasswordRefused("current_password_wrong", counted=False)
    # Lock order as in login: temp_password, then site_credential.
    temp = temp_row(session, found.id, lock=True)
    cred = credential_row(session, found.id, lock=True)

    def checked_wrong(password_hash: str) -> bool:
        return verify.results.get(password_hash) is False

    live_temp = (
        temp
        if temp is not None
        and _temp_usable_for_change(temp, now)
        and checked_wrong(temp.password_hash)
        else None
    )
    live_cred = (
        cred
        if cred is not None and credential_live(cred) and checked_wrong(cred.password_hash)
        else None
    )
    if live_temp is None and live_cred is None:
        return CurrentPasswordRefused("current_password_wrong", counted=False)
    reason = count_wrong_password(session, found.id, live_temp, live_cred, login_number, now)
    session.flush()
    code = "current_password_wrong" if reason == "wrong_password" else reason
    return CurrentPasswordRefused(code, counted=True)


def replace_hash(
    cred: SiteCredential, new_hash: str, *, changed_at: dt.datetime, now: dt.datetime
) -> None:
    """A new password hash for ``cred``; the old one goes to the history (SITE-3)."""
    if cred.password_hash != new_hash:
        cred.history.append(PasswordHistory(password_hash=cred.password_hash, created_at=now))
    cred.password_hash = new_hash
    cred.changed_at = changed_at
    cred.wrong_count = 0
    cred.invalidated_at = None
