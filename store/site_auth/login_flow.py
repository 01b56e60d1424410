"""Logging in with a number and its password or temporary password (SITE-1, SITE-2, SITE-4).

``login`` takes a session *factory*: a wrong entry must be counted (3 wrong
temporary passwords, 10 wrong passwords) even though the call then fails,
and a caller's ``transaction()`` rolls back whatever the block wrote when it
raises. It commits its counters in its own transaction first and raises
afterwards, and runs the slow argon2 checks between its transactions, so no
database lock is held while it hashes.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from store import db, passwords
from store.models import AuthUnit, Number, SiteCredential, TempPassword
from store.site_auth.errors import (
    GENERIC_LOGIN_REASONS,
    LoginRefused,
    invalid_input,
    invalid_number,
)
from store.site_auth.limits import PASSWORD_MAX_WRONG, PASSWORD_VALIDITY, TEMP_PASSWORD_MAX_WRONG
from store.site_auth.scope import (
    check_aware,
    credential_live,
    credential_row,
    end_sessions,
    idle_timeout_for,
    load_number,
    login_scope,
    otp_address_verified,
    temp_row,
)

log = structlog.get_logger("store")


@dataclass(frozen=True)
class LoginResult:
    """A successful login and what the site must do next.

    ``must_change_password``: a temporary password was used (SITE-2) or the
    password is 60 days old (SITE-4, ``password_expired``); only the password
    change page may follow. ``otp_required``: a one-time password must follow
    (SITE-5); with an expired password it comes first, the change after it
    (``check_otp_code`` says so), so that the password alone changes nothing.
    ``otp_choice_required``: the subscriber has not chosen yet whether to use
    one (seeds P.7); asked after any password change.
    """

    number: str
    contract_number: str
    auth_unit: AuthUnit
    is_contract: bool
    scope: tuple[str, ...]
    via_temp_password: bool
    password_expired: bool
    must_change_password: bool
    otp_required: bool
    otp_choice_required: bool
    idle_timeout: dt.timedelta


# SITE-1: a subscriber number has at most 11 digits (``validation.subscriber_number``).
MAX_LOGIN_NUMBER = 11


def _login_number_format(number: str) -> None:
    """SITE-1: 「電話番号(ハイフンなし)」を半角で入力; longer than any number: refused
    before it is looked up (a forged field of any length)."""
    if not number or not number.isascii() or not number.isdigit():
        raise invalid_number("number_not_digits", "number")
    if len(number) > MAX_LOGIN_NUMBER:
        raise invalid_number("number_format", "number")


def temp_dead_reason(temp: TempPassword, now: dt.datetime) -> str | None:
    """SITE-2: why a temporary password no longer logs in, or None while it does.

    「設定後24時間以上経過すると無効」: invalid from the 24th hour on, so at
    ``expires_at`` itself. 「連続して3回間違ると無効」. A login does not spend
    it (issue 14): a subscriber who logs out of the forced change, or closes
    the browser, logs in with it again rather than pay for another call. It
    ends when a password is set from it (``change_password`` deletes it) or
    a newer one replaces it by phone (another hash).
    """
    if temp.wrong_count >= TEMP_PASSWORD_MAX_WRONG:
        return "temp_password_invalidated"
    if now >= temp.expires_at:
        return "temp_password_expired"
    return None


@dataclass
class _Examined:
    found: Number
    scope: tuple[str, ...]
    temp: TempPassword | None
    cred: SiteCredential | None


def _examine(session: Session, number: str, *, lock: bool) -> _Examined | str:
    found = load_number(session, number)
    if found is None:
        return "unknown_number"
    scope = login_scope(found, found.line, found.line.auth_unit)
    if scope is None:
        return "unit_mismatch"
    # Lock order, here and in change_password: temp_password, then site_credential.
    temp = temp_row(session, found.id, lock=lock)
    cred = credential_row(session, found.id, lock=lock)
    return _Examined(found, scope, temp, cred)


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash_password(secrets.token_hex(16))


class Verifier:
    """argon2 results by hash, so that each stored hash is checked at most once."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.results: dict[str, bool] = {}

    def __call__(self, password_hash: str) -> bool:
        if password_hash not in self.results:
            self.results[password_hash] = passwords.verify_password(password_hash, self.password)
        return self.results[password_hash]


@dataclass(frozen=True)
class _ToCheck:
    """The stored hashes a login's decision will ask about, read before any lock."""

    live_temp: str | None = None
    live_cred: str | None = None
    dead_temp: str | None = None


def _to_check(ex: _Examined, now: dt.datetime) -> _ToCheck | str:
    """The hashes to check, or the reason of the refusal when nothing can log in."""
    temp, cred = ex.temp, ex.cred
    temp_dead = None if temp is None else temp_dead_reason(temp, now)
    hashes = _ToCheck(
        live_temp=temp.password_hash if temp is not None and temp_dead is None else None,
        live_cred=cred.password_hash if cred is not None and credential_live(cred) else None,
        dead_temp=temp.password_hash if temp is not None and temp_dead is not None else None,
    )
    if hashes.live_temp is None and hashes.live_cred is None:
        if temp_dead is not None:
            return temp_dead
        return "password_invalidated" if cred is not None else "no_password"
    return hashes


def _precheck(hashes: _ToCheck, verify: Verifier) -> None:
    """Run the argon2 checks of the decision ahead, so that it finds them done."""
    if hashes.live_temp is not None and verify(hashes.live_temp):
        return
    if hashes.live_cred is not None:
        if verify(hashes.live_cred):
            return
        if hashes.dead_temp is not None:
            verify(hashes.dead_temp)


def login(
    sessions: sessionmaker[Session], number: str, password: str, *, now: dt.datetime
) -> LoginResult:
    """SITE-1/2/4: log in with a number and its password or temporary password.

    Raises ``InvalidNumber`` (not half-width digits, e.g. with hyphens),
    ``InvalidInput`` (empty password) or ``LoginRefused``. A wrong entry
    counts against every secret of the number that could still log in (the
    temporary password: invalid at the 3rd; the password: invalid at the
    10th, ``invalidated_at`` set); a success resets both counts. A temporary
    password allows exactly the forced password change, as often as the
    subscriber logs in with it until a password is set from it (issue 14:
    logging out of the change page must not cost another call). Concurrent
    attempts are counted exactly once each: the counters change under row
    locks (SQLite: the writer lock), and the slow argon2 checks run before,
    outside any transaction.
    """
    check_aware(now)
    _login_number_format(number)
    if not password:
        raise invalid_input("password_empty", "password")
    verify = Verifier(password)
    with db.transaction(sessions, read_only=True) as session:
        first = _examine(session, number, lock=False)
        hashes = _to_check(first, now) if isinstance(first, _Examined) else first
    if isinstance(hashes, str):
        # Nothing to count. A generic refusal costs the same argon2 work as a
        # wrong password, so that its timing tells nothing either.
        if hashes in GENERIC_LOGIN_REASONS:
            verify(_dummy_hash())
        log.info("login_refused", number=number, reason=hashes)
        raise LoginRefused(hashes)
    _precheck(hashes, verify)
    with db.transaction(sessions) as session:
        outcome = _decide_login(session, number, verify, now)
    if isinstance(outcome, LoginRefused):
        log.info("login_refused", number=number, reason=outcome.reason)
        raise outcome
    log.info(
        "login_succeeded",
        number=number,
        via_temp_password=outcome.via_temp_password,
        must_change_password=outcome.must_change_password,
        otp_required=outcome.otp_required,
    )
    return outcome


def _decide_login(
    session: Session, number: str, verify: Verifier, now: dt.datetime
) -> LoginResult | LoginRefused:
    """The locked half of ``login``: decide with fresh rows, move the counters."""
    ex = _examine(session, number, lock=True)
    if isinstance(ex, str):  # the line changed between the two transactions
        return LoginRefused(ex)
    dead = _to_check(ex, now)
    if isinstance(dead, str):  # e.g. the 10th of parallel wrong entries came first
        return LoginRefused(dead)
    temp, cred = ex.temp, ex.cred
    temp_dead = None if temp is None else temp_dead_reason(temp, now)
    temp_live = temp is not None and temp_dead is None
    cred_live = credential_live(cred)

    via_temp = temp is not None and temp_live and verify(temp.password_hash)
    via_cred = not via_temp and cred is not None and cred_live and verify(cred.password_hash)
    if not (via_temp or via_cred):
        reason = count_wrong_password(
            session,
            ex.found.id,
            temp if temp_live else None,
            cred if cred_live else None,
            number,
            now,
        )
        # The subscriber typed the temporary password after it became invalid
        # (e.g. after 24 hours): tell them why, as the seeds do. The entry
        # still counted against the password.
        if (
            reason == "wrong_password"
            and temp is not None
            and temp_dead is not None
            and verify(temp.password_hash)
        ):
            reason = temp_dead
        session.flush()
        return LoginRefused(reason)

    if temp is not None and temp_live:
        temp.wrong_count = 0
    if cred is not None and cred_live:
        cred.wrong_count = 0
    session.flush()
    line = ex.found.line
    expired = not via_temp and cred is not None and now >= cred.changed_at + PASSWORD_VALIDITY
    otp_ready = cred is not None and cred.otp_enabled and otp_address_verified(cred)
    return LoginResult(
        number=ex.found.number,
        contract_number=line.contract_number,
        auth_unit=line.auth_unit,
        is_contract=ex.found.is_contract,
        scope=ex.scope,
        via_temp_password=via_temp,
        password_expired=expired,
        must_change_password=via_temp or expired,
        otp_required=otp_ready,
        otp_choice_required=cred is None or cred.otp_chosen_at is None,
        idle_timeout=idle_timeout_for(line.auth_unit, ex.found.is_contract),
    )


def count_wrong_password(
    session: Session,
    number_id: int,
    temp: TempPassword | None,
    cred: SiteCredential | None,
    number: str,
    now: dt.datetime,
) -> str:
    """A wrong entry: one more on each live secret; the reason, naming one just invalidated.

    The login, the password change (SITE-10) and the auth unit change
    (SITE-8) count through here. A secret made invalid ends every session of
    the number (SITE-2, SITE-4): whoever was logged in with it is logged out.
    """
    reason = "wrong_password"
    if cred is not None:
        cred.wrong_count += 1
        if cred.wrong_count >= PASSWORD_MAX_WRONG:
            cred.invalidated_at = now
            reason = "password_invalidated"
            log.warning("password_invalidated", number=number, wrong_count=cred.wrong_count)
    if temp is not None:
        temp.wrong_count += 1
        if temp.wrong_count >= TEMP_PASSWORD_MAX_WRONG:
            reason = "temp_password_invalidated"
            log.warning("temp_password_invalidated", number=number)
    if reason != "wrong_password":
        end_sessions(session, [number_id])
    return reason
