"""The settings site's authentication rules (SITE-1 ... SITE-6, SITE-8, SITE-10), without HTTP.

The site (Starlette) calls these functions; they hold every rule of the
seeds' pages "ひかり電話設定サイトの認証方法", "ひかり電話設定サイトへ接続" and
"パスワード変更・認証単位の変更(1)…(9)" so that the rules do not depend on the
web layer. Like ``store.service``, each function checks every rule before it
writes and raises a typed ``DomainError``; unlike it, the ``message`` of an
error here is the Japanese text the site shows (the subscriber reads it), and
``field`` names the form field it belongs next to. Passwords, codes and tokens
are never logged, never put in an error, and stored only hashed (argon2id for
passwords, SHA-256 for the random tokens and the short-lived codes).

Some functions take a session *factory* instead of a session: ``login``,
``check_otp_code``, ``attempt_auth_unit_change``, ``change_otp_address``
and ``change_otp_confirmation``. A wrong entry must be counted (3 wrong
temporary passwords, 10 wrong passwords, 5 wrong codes, wrong confirmation
IDs/passwords per day) even though the call then fails, and a caller's
``transaction()`` rolls back whatever the block wrote when it raises. These
commit their counters in their own transaction first and raise afterwards.
They also run the slow argon2 checks between their transactions, so no
database lock is held while they hash.

Every function takes ``now``: the rules never read the clock.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import os
import secrets
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import structlog
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from store import db, outbox, password_rules, passwords, validation
from store.errors import DomainError, InvalidAddress, InvalidInput, InvalidNumber, RuleViolation
from store.mail_message import build_message, domain_of, header_address
from store.models import (
    AuthUnit,
    Line,
    MailKind,
    Number,
    OtpEvent,
    OtpEventKind,
    PasswordHistory,
    SiteCredential,
    SiteSession,
    SiteToken,
    SiteTokenKind,
    TempPassword,
)

log = structlog.get_logger("store")

T = TypeVar("T")

TEMP_PASSWORD_MAX_WRONG = 3  # SITE-2: 連続して3回間違ると、仮パスワードが無効
PASSWORD_MAX_WRONG = 10  # SITE-4: 連続して10回間違ると、パスワードが無効
PASSWORD_VALIDITY = dt.timedelta(days=60)  # SITE-4: 有効期限は60日間
ADDRESS_LINK_VALIDITY = dt.timedelta(hours=24)  # SITE-5: 本登録お手続きURLの有効期限は24時間
OTP_CODE_VALIDITY = dt.timedelta(seconds=300)  # SITE-5: ワンタイムパスワードの有効時間は300秒
# A new code is mailed at most this often: pressing 「送信」 again and again
# must not flood the subscriber's mailbox (the seeds set no figure).
OTP_CODE_RESEND_AFTER = dt.timedelta(seconds=30)
OTP_CODE_DIGITS = 6  # SITE-5: "a 6+ digit code"
# SITE-5: the seeds set no limit on wrong one-time passwords; with 10^6 codes,
# 5 guesses per mailed code keep the odds of a guess at 1 in 200,000.
OTP_CODE_MAX_WRONG = 5
# Issue 12: without a cap across codes, 5 guesses a code and a code every
# 30 seconds are ~10 guesses a minute and thousands of mails a day. Both are
# counted per number over this rolling window (limits: ``OtpLimits``).
OTP_LIMIT_WINDOW = dt.timedelta(hours=24)
# SITE-6 (seeds 001): 「電話番号単位」で30分間…「回線単位」で10分間何も操作しなかった場合
IDLE_TIMEOUT_LINE = dt.timedelta(minutes=10)
IDLE_TIMEOUT_OTHER = dt.timedelta(minutes=30)

SITE_NAME = "着信お知らせメール設定サイト"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"

_RESET = "仮パスワード設定用の番号に電話をして、仮パスワードを設定し直してください。"

# Stable code -> the Japanese text the site shows for it.
MESSAGES: dict[str, str] = {
    # SITE-1
    "number_not_digits": "電話番号はハイフンなしの半角数字で入力してください。",
    "password_empty": "パスワードを入力してください。",
    "login_refused": "電話番号またはパスワードが正しくありません。",
    # SITE-2 / SITE-4: the seeds tell the subscriber to set a temporary password again.
    "temp_password_expired": (
        f"仮パスワードの設定から24時間以上経過したため、仮パスワードが無効になりました。{_RESET}"
    ),
    "temp_password_invalidated": (
        f"仮パスワードを3回続けて間違えたため、仮パスワードが無効になりました。{_RESET}"
    ),
    "temp_password_used": f"この仮パスワードは使用済みです。{_RESET}",
    "password_invalidated": (
        "パスワードが無効になりました(パスワードを10回続けて間違えた場合などに無効になります)。"
        f"{_RESET}"
    ),
    # SITE-10
    "current_password_empty": "現在のパスワードを入力してください。",
    "current_password_wrong": "現在のパスワードが正しくありません。",
    "confirm_mismatch": "新しいパスワードと確認用のパスワードが一致しません。",
    "login_not_allowed": "ログインし直してください。",
    "out_of_scope": "この電話番号のパスワードは変更できません。",
    "temp_password_own_only": (
        "仮パスワードでログインした場合は、ログインした電話番号のパスワードを先に変更してください。"
    ),
    # SITE-8
    "auth_unit_unchanged": "現在と同じ認証単位です。",
    "contract_number_only": (
        "管理者/ユーザ単位からの認証単位の変更は、契約電話番号でログインした場合のみ行えます。"
    ),
    "passwords_missing": "次の電話番号のパスワードを入力してください: {numbers}",
    "passwords_not_set": (
        "次の電話番号はパスワードが設定されていないか無効です。"
        "仮パスワードを設定し、パスワードを設定してから認証単位を変更してください: {numbers}"
    ),
    # Names no number: the page must not tell which password was wrong (an oracle).
    "passwords_wrong": "入力されたパスワードが正しくありません。",
    # SITE-5
    "otp_address_invalid": "メールアドレスの形式が正しくありません。",
    "no_site_password": "先にパスワードを設定してください。",
    "otp_already_enabled": (
        "ワンタイムパスワードは利用中です。受信用メールアドレスの変更から手続きしてください。"
    ),
    "otp_not_enrolled": "ワンタイムパスワード利用情報が登録されていません。",
    "otp_address_unverified": (
        "ワンタイムパスワード受信用メールアドレスの本登録を先に完了してください。"
    ),
    "confirmation_mismatch": "確認用IDまたは確認用パスワードが正しくありません。",
    "confirmation_new_missing": "新しい確認用IDまたは新しい確認用パスワードを入力してください。",
    "confirmation_id_confirm_mismatch": "新しい確認用IDと確認のための入力が一致しません。",
    "confirmation_password_confirm_mismatch": (
        "新しい確認用パスワードと確認のための入力が一致しません。"
    ),
    "token_invalid": (
        "このURLは無効です。設定サイトにログインして、もう一度お手続きをお願いします。"
    ),
    "token_used": "このURLは使用済みです。メールアドレスの本登録は完了しています。",
    "token_expired": (
        "メールアドレスの本登録お手続きURLの有効期限(24時間)を過ぎています。"
        "再度設定サイトにログインしてお手続きをお願いします。"
    ),
    "otp_code_empty": "ワンタイムパスワードを入力してください。",
    "otp_code_format": "ワンタイムパスワードは、メールに記載された半角数字6桁を入力してください。",
    "otp_code_missing": "ワンタイムパスワードを送信してください。",
    "otp_code_wrong": "ワンタイムパスワードが正しくありません。",
    "otp_code_expired": (
        "ワンタイムパスワードの有効時間(300秒)を過ぎています。"
        "再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_code_used": (
        "このワンタイムパスワードは使用済みです。再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_code_too_soon": (
        "ワンタイムパスワードは送信済みです。届くまでしばらくお待ちください"
        "(30秒たつと、もう一度送信できます)。"
    ),
    "otp_code_void": (
        "ワンタイムパスワードを5回間違えたため、無効になりました。"
        "再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_wrong_limit": (
        "ワンタイムパスワードの誤りが24時間で{limit}回に達したため、"
        "ワンタイムパスワードでのログインを停止しています。"
        "24時間ほどたってから、もう一度ログインしてください。"
    ),
    "otp_mail_limit": (
        "ワンタイムパスワードの送信が24時間で{limit}回に達したため、これ以上送信できません。"
        "24時間ほどたってから、もう一度ログインしてください。"
    ),
    # Issue 12: wrong confirmation IDs/passwords per number over 24 hours.
    "confirmation_limit": (
        "確認用IDまたは確認用パスワードの誤りが24時間で{limit}回に達したため、"
        "この電話番号の確認用ID・確認用パスワードの入力を停止しています"
        "(正しい確認用ID・確認用パスワードも受け付けません)。"
        "{until}以降に、もう一度お試しください。"
    ),
    # Issue 12: verification mails (the link of SITE-5) per number and per line over 24 hours.
    "verification_number_limit": (
        "この電話番号のメールアドレス本登録お手続きメールの送信が24時間で{limit}通に達したため、"
        "これ以上送信できません(メールアドレスは登録されていません)。"
        "{until}以降に、もう一度お試しください。"
    ),
    "verification_line_limit": (
        "この回線のメールアドレス本登録お手続きメールの送信が24時間で{limit}通に達したため、"
        "これ以上送信できません(メールアドレスは登録されていません)。"
        "{until}以降に、もう一度お試しください。"
    ),
}

# One-time-password refusals after which the login cannot go on today: the
# site ends the login stage and shows the message on the login page.
OTP_STAGE_ENDING = frozenset({"otp_wrong_limit", "otp_mail_limit"})

# Reasons a login fails that an attacker must not tell apart: the site shows
# one message (code ``login_refused``) for all of them.
GENERIC_LOGIN_REASONS = frozenset(
    {"wrong_password", "unknown_number", "unit_mismatch", "no_password"}
)


# --- errors ---------------------------------------------------------------------------


class LoginRefused(DomainError, PermissionError):
    """SITE-1/2/4: the login failed; the wrong-entry counters it moved are committed.

    ``reason`` is the precise cause, for logs: ``wrong_password``,
    ``unknown_number``, ``unit_mismatch`` (the number may not log in with the
    line's auth unit), ``no_password`` (never had one), or one the subscriber
    must be told, as the seeds do: ``temp_password_expired``,
    ``temp_password_invalidated``, ``temp_password_used``,
    ``password_invalidated``. For the first four ``code`` and ``message`` are
    the same (``login_refused``), so ``as_dict()`` reveals nothing; ``generic``
    says which kind it is.
    """

    code = "login_refused"

    def __init__(self, reason: str) -> None:
        code = "login_refused" if reason in GENERIC_LOGIN_REASONS else reason
        super().__init__(MESSAGES[code], code=code, field="password")
        self.reason = reason

    @property
    def generic(self) -> bool:
        return self.reason in GENERIC_LOGIN_REASONS


class OutOfScope(DomainError, PermissionError):
    """The login may not act on this number (SITE-1 scope, SITE-8 contract-only changes)."""

    code = "out_of_scope"

    def __init__(self, code: str, *, field: str = "number") -> None:
        super().__init__(MESSAGES[code], code=code, field=field)


class OtpRefused(RuleViolation):
    """SITE-5: a one-time-password step that the rules refuse (link, code, address, ID)."""

    code = "otp_refused"

    def __init__(
        self,
        code: str,
        *,
        field: str | None = None,
        limit: int | None = None,
        until: str = "",
    ) -> None:
        message = (
            MESSAGES[code] if limit is None else MESSAGES[code].format(limit=limit, until=until)
        )
        super().__init__(message, code=code, field=field)


class ConfirmationRefused(OtpRefused):
    """Issue 12: the confirmation ID/password were wrong, or the number is at its cap.

    ``code``: ``confirmation_mismatch`` or ``confirmation_limit``.
    ``counted``: this entry was wrong and counted (the site's per-address
    throttle counts it too); false for a refusal at the cap, where nothing
    was looked at. ``retry_at``: with ``confirmation_limit``, when the number
    may try again (its oldest counted wrong entry leaves the 24 hours).
    """

    def __init__(
        self,
        code: str,
        *,
        field: str | None,
        counted: bool,
        limit: int | None = None,
        until: str = "",
        retry_at: dt.datetime | None = None,
    ) -> None:
        super().__init__(code, field=field, limit=limit, until=until)
        self.counted = counted
        self.retry_at = retry_at


class VerificationRefused(OtpRefused):
    """Issue 12: the number (or its line) had its share of verification mails in 24 hours.

    ``code``: ``verification_number_limit`` or ``verification_line_limit``.
    ``retry_at``: when the next mail may go (the oldest counted one leaves the window).
    Nothing was stored or mailed.
    """

    def __init__(
        self, code: str, *, limit: int, until: str, retry_at: dt.datetime, field: str | None
    ) -> None:
        super().__init__(code, field=field, limit=limit, until=until)
        self.retry_at = retry_at


class PasswordsRefused(RuleViolation):
    """SITE-8: passwords missing, unset or wrong; ``numbers`` lists the numbers concerned."""

    code = "passwords_refused"

    def __init__(self, code: str, numbers: Iterable[str]) -> None:
        self.numbers = tuple(numbers)
        message = MESSAGES[code].format(numbers="、".join(self.numbers))
        super().__init__(message, code=code, field="passwords")


def _violation(code: str, field: str) -> RuleViolation:
    return RuleViolation(MESSAGES[code], code=code, field=field)


# --- who logs in, and what a login manages (SITE-1, SITE-6) ------------------------------


def idle_timeout_for(auth_unit: AuthUnit, is_contract: bool) -> dt.timedelta:
    """SITE-6: how long a session may stay idle.

    The seeds (001) give 10 minutes for the line unit and 30 for the number
    unit and say nothing of the admin/user unit; it gets 30 minutes, the
    administrator (``is_contract``) as well as the users.
    """
    if AuthUnit(auth_unit) is AuthUnit.LINE:
        return IDLE_TIMEOUT_LINE
    return IDLE_TIMEOUT_OTHER


def _all_numbers(line: Line) -> tuple[str, ...]:
    """Every number of the line, the contract number first."""
    return tuple(
        sorted((n.number for n in line.numbers), key=lambda n: (n != line.contract_number, n))
    )


def _login_scope(found: Number, line: Line, unit: AuthUnit) -> tuple[str, ...] | None:
    """SITE-1: the numbers a login with ``found`` manages under ``unit``; None: no login.

    Seeds P.2 「ひかり電話設定サイトの認証方法」: line unit, the contract number
    manages every number; number unit, a number with the service manages
    itself; admin/user unit, the contract number (管理者) manages every
    number and an additional number with the service (ユーザ) itself. A line
    without the service on any number has no login at all (as IVR-2).
    """
    if not any(n.mail_subscribed for n in line.numbers):
        return None
    if unit is AuthUnit.LINE:
        return _all_numbers(line) if found.is_contract else None
    if unit is AuthUnit.ADMIN_USER and found.is_contract:
        return _all_numbers(line)
    return (found.number,) if found.mail_subscribed else None


def _password_scope(found: Number, line: Line) -> tuple[str, ...]:
    """SITE-10: whose password a login may change.

    Seeds パスワード変更・認証単位の変更(1): 「認証単位が「契約者/ユーザ単位」で、
    かつ契約者回線番号でログインした場合は、同一回線内の全ての電話番号の
    パスワードを変更できます」. Every other login changes its own password.
    """
    if line.auth_unit is AuthUnit.ADMIN_USER and found.is_contract:
        return _all_numbers(line)
    return (found.number,)


def _may_log_in(line: Line, unit: AuthUnit) -> tuple[Number, ...]:
    return tuple(n for n in line.numbers if _login_scope(n, line, unit) is not None)


def _load_number(session: Session, number: str) -> Number | None:
    return session.scalars(
        select(Number)
        .where(Number.number == number)
        .options(selectinload(Number.line).selectinload(Line.numbers))
    ).one_or_none()


def _temp_row(session: Session, number_id: int, *, lock: bool) -> TempPassword | None:
    stmt = select(TempPassword).where(TempPassword.number_id == number_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def _credential_row(session: Session, number_id: int, *, lock: bool) -> SiteCredential | None:
    stmt = select(SiteCredential).where(SiteCredential.number_id == number_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def managed_numbers(session: Session, login_number: str) -> tuple[str, ...]:
    """SITE-1: the numbers a logged-in session manages now (its auth unit may have changed).

    Raises ``OutOfScope`` (``login_not_allowed``) when the number may no
    longer log in; the site then ends the session.
    """
    found = _load_number(session, login_number)
    scope = None if found is None else _login_scope(found, found.line, found.line.auth_unit)
    if scope is None:
        raise OutOfScope("login_not_allowed")
    return scope


# --- login (SITE-1, SITE-2, SITE-4) --------------------------------------------------------


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


def _check_aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")


def _login_number_format(number: str) -> None:
    """SITE-1: 「電話番号(ハイフンなし)」を半角で入力."""
    if not number or not number.isascii() or not number.isdigit():
        raise InvalidNumber(MESSAGES["number_not_digits"], code="number_not_digits", field="number")


def _temp_dead_reason(temp: TempPassword, now: dt.datetime) -> str | None:
    """SITE-2: why a temporary password no longer logs in, or None while it does.

    「設定後24時間以上経過すると無効」: invalid from the 24th hour on, so at
    ``expires_at`` itself. 「連続して3回間違ると無効」. It logs in once.
    """
    if temp.used_at is not None:
        return "temp_password_used"
    if temp.wrong_count >= TEMP_PASSWORD_MAX_WRONG:
        return "temp_password_invalidated"
    if now >= temp.expires_at:
        return "temp_password_expired"
    return None


def _credential_live(cred: SiteCredential | None) -> bool:
    return cred is not None and cred.invalidated_at is None


@dataclass
class _Examined:
    found: Number
    scope: tuple[str, ...]
    temp: TempPassword | None
    cred: SiteCredential | None


def _examine(session: Session, number: str, *, lock: bool) -> _Examined | str:
    found = _load_number(session, number)
    if found is None:
        return "unknown_number"
    scope = _login_scope(found, found.line, found.line.auth_unit)
    if scope is None:
        return "unit_mismatch"
    # Lock order, here and in change_password: temp_password, then site_credential.
    temp = _temp_row(session, found.id, lock=lock)
    cred = _credential_row(session, found.id, lock=lock)
    return _Examined(found, scope, temp, cred)


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash_password(secrets.token_hex(16))


class _Verifier:
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
    temp_dead = None if temp is None else _temp_dead_reason(temp, now)
    hashes = _ToCheck(
        live_temp=temp.password_hash if temp is not None and temp_dead is None else None,
        live_cred=cred.password_hash if cred is not None and _credential_live(cred) else None,
        dead_temp=temp.password_hash if temp is not None and temp_dead is not None else None,
    )
    if hashes.live_temp is None and hashes.live_cred is None:
        if temp_dead is not None:
            return temp_dead
        return "password_invalidated" if cred is not None else "no_password"
    return hashes


def _precheck(hashes: _ToCheck, verify: _Verifier) -> None:
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
    password is spent by the login it allows (``used_at``), leaving exactly
    the forced password change. Concurrent attempts are counted exactly once
    each: the counters change under row locks (SQLite: the writer lock),
    and the slow argon2 checks run before, outside any transaction.
    """
    _check_aware(now)
    _login_number_format(number)
    if not password:
        raise InvalidInput(MESSAGES["password_empty"], code="password_empty", field="password")
    verify = _Verifier(password)
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
    session: Session, number: str, verify: _Verifier, now: dt.datetime
) -> LoginResult | LoginRefused:
    """The locked half of ``login``: decide with fresh rows, move the counters."""
    ex = _examine(session, number, lock=True)
    if isinstance(ex, str):  # the line changed between the two transactions
        return LoginRefused(ex)
    dead = _to_check(ex, now)
    if isinstance(dead, str):  # e.g. the 10th of parallel wrong entries came first
        return LoginRefused(dead)
    temp, cred = ex.temp, ex.cred
    temp_dead = None if temp is None else _temp_dead_reason(temp, now)
    temp_live = temp is not None and temp_dead is None
    cred_live = _credential_live(cred)

    via_temp = temp is not None and temp_live and verify(temp.password_hash)
    via_cred = not via_temp and cred is not None and cred_live and verify(cred.password_hash)
    if not (via_temp or via_cred):
        reason = _count_wrong(
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
        if via_temp:
            temp.used_at = now
    if cred is not None and cred_live:
        cred.wrong_count = 0
    session.flush()
    line = ex.found.line
    expired = not via_temp and cred is not None and now >= cred.changed_at + PASSWORD_VALIDITY
    otp_ready = cred is not None and cred.otp_enabled and _otp_address_verified(cred)
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


def _count_wrong(
    session: Session,
    number_id: int,
    temp: TempPassword | None,
    cred: SiteCredential | None,
    number: str,
    now: dt.datetime,
) -> str:
    """A wrong entry: one more on each live secret; the reason, naming one just invalidated.

    A secret made invalid ends every session of the number (SITE-2, SITE-4):
    whoever was logged in with it is logged out.
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


def end_sessions(session: Session, number_ids: Iterable[int]) -> None:
    """End every site session (SITE-6) of these numbers, in the caller's transaction.

    Called wherever a number's credential changes (a new password, an
    invalidation, a new temporary password, an auth unit change): a session
    opened before must not outlive the secret it was opened with. The site
    gives the session that made the change a new id if it goes on.
    """
    session.execute(delete(SiteSession).where(SiteSession.number_id.in_(list(number_ids))))


# --- password change (SITE-2, SITE-3, SITE-10) -------------------------------------------


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


class CurrentPasswordRefused(RuleViolation):
    """SITE-10, SITE-4: the current password was wrong; the counters it moved are committed.

    ``code``: ``current_password_wrong``, or ``password_invalidated`` /
    ``temp_password_invalidated`` when this entry made the login number's
    password (10th in a row) or temporary password (3rd) invalid: then every
    session of the number has ended, as after wrong logins. ``counted``: the
    entry counted against a live secret of the login number (the site's
    per-address throttle counts it too).
    """

    def __init__(self, code: str, *, counted: bool) -> None:
        super().__init__(MESSAGES[code], code=code, field="current_password")
        self.counted = counted


@dataclass(frozen=True)
class PasswordChecks:
    """The argon2 work of a password change, done before its transaction.

    ``current``: the entered current password against stored hashes;
    ``new``: the new password against stored hashes (SITE-3: not the
    current one); ``new_hash``: the new password hashed. A hash not checked
    here (changed meanwhile) is checked under the lock.
    """

    current: _Verifier
    new: _Verifier
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
        raise InvalidInput(
            MESSAGES["current_password_empty"],
            code="current_password_empty",
            field="current_password",
        )
    login = _load_number(session, login_number)
    if login is None or _login_scope(login, login.line, login.line.auth_unit) is None:
        raise OutOfScope("login_not_allowed")
    if target_number not in _password_scope(login, login.line):
        raise OutOfScope("out_of_scope", field="target_number")
    target = next(n for n in login.line.numbers if n.number == target_number)

    password_rules.check_password(new, number=target_number, field="new_password")
    if new != confirm:
        raise _violation("confirm_mismatch", "confirm_password")
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
    _check_aware(now)
    login, target = _change_request(session, login_number, target_number, current, new, confirm)
    verify_current = checks.current if checks is not None else _Verifier(current)
    verify_new = checks.new if checks is not None else _Verifier(new)

    # Lock order as in login: temp_password, then site_credential.
    target_temp = _temp_row(session, target.id, lock=True)
    target_cred = _credential_row(session, target.id, lock=True)
    if login.id == target.id:
        login_temp, login_cred = target_temp, target_cred
    else:
        login_temp = _temp_row(session, login.id, lock=False)
        login_cred = _credential_row(session, login.id, lock=False)

    via_temp = (
        login_temp is not None
        and _temp_usable_for_change(login_temp, now)
        and verify_current(login_temp.password_hash)
    )
    via_cred = (
        not via_temp
        and login_cred is not None
        and _credential_live(login_cred)
        and verify_current(login_cred.password_hash)
    )
    if not (via_temp or via_cred):
        raise _violation("current_password_wrong", "current_password")
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
        _replace_hash(target_cred, new_hash, changed_at=now, now=now)
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
    _check_aware(now)
    checks = PasswordChecks(_Verifier(current), _Verifier(new))
    with db.transaction(sessions, read_only=True) as session:
        login, target = _change_request(session, login_number, target_number, current, new, confirm)
        login_temp = _temp_row(session, login.id, lock=False)
        login_cred = _credential_row(session, login.id, lock=False)
        target_cred = _credential_row(session, target.id, lock=False)
        temp_hash = (
            login_temp.password_hash
            if login_temp is not None and _temp_usable_for_change(login_temp, now)
            else None
        )
        cred_hash = (
            login_cred.password_hash
            if login_cred is not None and _credential_live(login_cred)
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
    found = _load_number(session, number)
    if found is None:
        return
    cred = _credential_row(session, found.id, lock=True)
    if cred is not None and _credential_live(cred):
        cred.wrong_count = 0
    session.flush()


def _count_wrong_current(
    session: Session, login_number: str, verify: _Verifier, now: dt.datetime
) -> CurrentPasswordRefused:
    """Count a wrong current password against each live secret it was checked against.

    A secret set or changed since the check (not among ``verify``'s results)
    is not counted: the entry was not a guess at it.
    """
    found = _load_number(session, login_number)
    if found is None:
        return CurrentPasswordRefused("current_password_wrong", counted=False)
    # Lock order as in login: temp_password, then site_credential.
    temp = _temp_row(session, found.id, lock=True)
    cred = _credential_row(session, found.id, lock=True)

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
        if cred is not None and _credential_live(cred) and checked_wrong(cred.password_hash)
        else None
    )
    if live_temp is None and live_cred is None:
        return CurrentPasswordRefused("current_password_wrong", counted=False)
    reason = _count_wrong(session, found.id, live_temp, live_cred, login_number, now)
    session.flush()
    code = "current_password_wrong" if reason == "wrong_password" else reason
    return CurrentPasswordRefused(code, counted=True)


def _replace_hash(
    cred: SiteCredential, new_hash: str, *, changed_at: dt.datetime, now: dt.datetime
) -> None:
    if cred.password_hash != new_hash:
        cred.history.append(PasswordHistory(password_hash=cred.password_hash, created_at=now))
    cred.password_hash = new_hash
    cred.changed_at = changed_at
    cred.wrong_count = 0
    cred.invalidated_at = None


# --- auth unit change (SITE-8) -------------------------------------------------------------


@dataclass(frozen=True)
class AuthUnitChanged:
    """SITE-8: what the completion page tells the subscriber.

    ``login_numbers``: the numbers that log in from now on.
    ``need_temp_password``: numbers that may log in under the new unit but
    have no valid password; each needs a temporary password by phone first.
    ``invalidated``: numbers whose password this change made invalid.
    ``notices``: the seeds' sentences for the page, in Japanese. The
    session's scope has changed with the unit: the site ends it.
    """

    old_unit: AuthUnit
    new_unit: AuthUnit
    login_numbers: tuple[str, ...]
    need_temp_password: tuple[str, ...]
    invalidated: tuple[str, ...]
    notices: tuple[str, ...]


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
    verified = verified or {}
    _check_aware(now)
    new_unit = AuthUnit(new_unit)
    login = _load_number(session, login_number)
    if login is None:
        raise OutOfScope("login_not_allowed")
    line = session.scalars(
        select(Line)
        .where(Line.id == login.line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    old_unit = line.auth_unit
    if _login_scope(login, line, old_unit) is None:
        raise OutOfScope("login_not_allowed")
    if new_unit is old_unit:
        raise _violation("auth_unit_unchanged", "auth_unit")
    if old_unit is AuthUnit.ADMIN_USER and not login.is_contract:
        # (6)(7) 「管理者/ユーザ単位から…への変更は、契約者回線番号でのログイン時のみ行えます」
        raise OutOfScope("contract_number_only", field="auth_unit")

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
    unset = [n for n in required if not _credential_live(creds.get(n))]
    if unset:
        raise PasswordsRefused("passwords_not_set", unset)
    pairs = [(creds[n].password_hash, passwords_by_number[n]) for n in required]
    unknown = [pair for pair in pairs if pair not in verified]
    checked = {**verified, **dict(zip(unknown, _verify_many(unknown), strict=True))}
    wrong = [n for n, pair in zip(required, pairs, strict=True) if not checked[pair]]
    if wrong:
        raise PasswordsRefused("passwords_wrong", wrong)

    contract = next(n for n in line.numbers if n.is_contract)
    live_before = {n for n, c in creds.items() if _credential_live(c)}
    notices: list[str] = []

    if new_unit is AuthUnit.LINE:
        if old_unit is AuthUnit.NUMBER and login.number != contract.number:
            # (2) 「追加電話番号で認証変更した場合、追加電話番号でログインした際の
            # パスワードとなります」: the login number's password becomes the line's.
            source = creds[login.number]
            _set_credential(session, contract, creds, source.password_hash, source.changed_at, now)
        # (2)(7) Only the contract number logs in; (7) 「追加電話番号利用時の
        # パスワードは無効となります」. (2) says nothing of the other passwords;
        # they are made invalid too, so that (4) finds none, as it expects.
        for number, cred in creds.items():
            if number != contract.number and _credential_live(cred):
                cred.invalidated_at = now
        notices.append(
            f"認証単位変更後にログインする際の電話番号は、契約電話番号({contract.number})になります。"
        )
        if old_unit is AuthUnit.NUMBER:
            notices.append(
                f"パスワードは、{login.number}番でログインした際のパスワードになります。"
            )
        else:
            notices.append(
                "パスワードは、契約電話番号でログインした際のパスワードです。"
                "追加電話番号のパスワードは無効になりました。"
            )
    elif new_unit is AuthUnit.ADMIN_USER:
        if old_unit is AuthUnit.LINE:
            # (5) 「回線単位でログインした際のパスワードと同一のパスワードが
            # 全ての番号に設定されます」.
            source = creds[contract.number]
            for other in line.numbers:
                if other.id != contract.id:
                    _set_credential(
                        session, other, creds, source.password_hash, source.changed_at, now
                    )
            notices.append(
                "回線単位でログインした際のパスワードと同じパスワードが全ての電話番号に設定されました。"
            )
        else:
            # (3) 「契約電話番号、追加電話番号ともに電話番号単位でログインした際の
            # パスワードとなります」: every password stays as it is.
            notices.append(
                "パスワードは、各電話番号で電話番号単位でログインした際のパスワードです。"
            )
        notices.append(
            f"契約電話番号({contract.number})でログインすると全ての電話番号を、"
            "追加番号でログインするとその電話番号の設定ができます。"
        )
    else:  # AuthUnit.NUMBER
        if old_unit is AuthUnit.LINE:
            # (4), and seeds 001: 「契約電話番号のパスワードはログインした際に利用した
            # パスワードとなります。その他の追加番号は仮パスワードを発行のうえ、
            # 本パスワードを設定してください」.
            for number, cred in creds.items():
                if number != contract.number and _credential_live(cred):
                    cred.invalidated_at = now
            notices.append("契約電話番号のパスワードは、回線単位でログインした際のパスワードです。")
        else:
            # (6) 「契約電話番号、追加電話番号ともに管理者/ユーザ単位でログインした
            # 際のパスワードとなります。パスワード未設定の電話番号を利用される際は、
            # 仮パスワードを発行の上、本パスワードを設定してください」.
            notices.append(
                "パスワードは、各電話番号で管理者/ユーザ単位でログインした際のパスワードです。"
            )
        notices.append("ログインする際は、設定したいサービスをご契約の電話番号を入力してください。")

    line.auth_unit = new_unit
    # Who logs in, with which password, has changed for the whole line.
    end_sessions(session, by_id)
    session.flush()
    live_after = {n for n, c in creds.items() if _credential_live(c)}
    allowed = {n.number for n in _may_log_in(line, new_unit)}
    login_numbers = tuple(n for n in _all_numbers(line) if n in allowed)
    need_temp = tuple(n for n in login_numbers if n not in live_after)
    if need_temp:
        notices.append(
            "次の電話番号は、仮パスワードを設定したうえでパスワードを設定してください: "
            + "、".join(need_temp)
        )
    invalidated = tuple(n for n in _all_numbers(line) if n in live_before - live_after)
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
            cred = _credential_row(session, found.id, lock=True)
            if _credential_live(cred):
                _count_wrong(session, found.id, None, cred, number, now)
        session.flush()
    log.info("auth_unit_change_refused", by=login_number, wrong=len(refusal.numbers))
    raise refusal


def _unit_change_passwords(line: Line, login: Number, old_unit: AuthUnit) -> list[str]:
    """SITE-8: the numbers whose passwords the change needs, sorted."""
    if old_unit is AuthUnit.NUMBER:
        # The contract number is always among them, even without the service
        # (then it does not log in under the number unit): (2) replaces its
        # password with the changer's, so its owner must agree.
        return sorted({n.number for n in _may_log_in(line, old_unit)} | {line.contract_number})
    return [login.number]


def _unit_change_pairs(
    session: Session, login_number: str, passwords_by_number: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(hash, entered password) of the live passwords the change will check, read unlocked."""
    login = _load_number(session, login_number)
    if login is None:
        return []
    required = _unit_change_passwords(login.line, login, login.line.auth_unit)
    by_number = {n.id: n.number for n in login.line.numbers}
    creds = session.scalars(
        select(SiteCredential).where(SiteCredential.number_id.in_(by_number))
    ).all()
    live = {by_number[c.number_id]: c.password_hash for c in creds if _credential_live(c)}
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
        _replace_hash(cred, password_hash, changed_at=changed_at, now=now)


def _verify_many(pairs: Sequence[tuple[str, str]]) -> list[bool]:
    """argon2 checks side by side: a line may have hundreds of numbers (SITE-8 (2))."""
    if len(pairs) <= 1:
        return [passwords.verify_password(h, p) for h, p in pairs]
    with ThreadPoolExecutor(max_workers=min(len(pairs), os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda pair: passwords.verify_password(*pair), pairs))


# --- one-time password (SITE-5) ----------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _otp_digest(number_id: int, code: str) -> str:
    # The number in the digest keeps equal codes of two numbers apart (token_hash is unique).
    return _digest(f"otp_code:{number_id}:{code}")


def _otp_address_verified(cred: SiteCredential) -> bool:
    return cred.otp_address is not None and cred.otp_address_verified_at is not None


def _otp_address(address: str) -> str:
    """MAIL-3 rules for the OTP address, with the site's Japanese message."""
    try:
        return validation.mail_address(address, field="otp_address")
    except InvalidAddress as exc:
        raise InvalidAddress(
            MESSAGES["otp_address_invalid"], code=exc.code, field="otp_address"
        ) from None


def _check_link_base(link_base: str) -> None:
    """The site's own verification URL (configuration, not user input)."""
    if (
        not link_base.startswith(("https://", "http://"))
        or any(c in link_base for c in "?#")
        or not link_base.isprintable()
        or any(c.isspace() for c in link_base)
    ):
        raise ValueError(f"link_base {link_base!r}: an absolute http(s) URL without query")


def _number_and_credential(
    session: Session, number: str, *, with_line: bool = False
) -> tuple[Number, SiteCredential]:
    found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if found is None:
        raise OutOfScope("login_not_allowed")
    if with_line:  # before the credential row: the lock order of ``change_auth_unit``
        lock_line(session, found)
    cred = _credential_row(session, found.id, lock=True)
    if cred is None:
        raise OtpRefused("no_site_password")
    return found, cred


def _compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    now: dt.datetime,
    timezone: str,
) -> tuple[str, str]:
    """The whole RFC 5322 message the outbox sends, and its Message-ID.

    Headers pass the notifier's guards (no control characters; MAIL-3
    addresses), as every mail header this product builds.
    """
    # Short enough not to be folded with a domain of usual length.
    message_id = email.utils.make_msgid(domain=domain_of(header_address(sender, field="sender")))
    msg = build_message(
        sender=sender,
        recipient=recipient,
        subject=subject,
        body=body,
        date=now.astimezone(zoneinfo.ZoneInfo(timezone)),
        message_id=message_id,
    )
    return msg.as_string(), message_id


def _queue_mail(
    session: Session,
    *,
    kind: MailKind,
    dedup_key: str,
    found: Number,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    now: dt.datetime,
) -> None:
    message, message_id = _compose(
        sender=sender,
        recipient=recipient,
        subject=subject,
        body=body,
        now=now,
        timezone=found.timezone,
    )
    outbox.enqueue(
        session,
        [
            outbox.QueuedMessage(
                dedup_key=dedup_key,
                kind=kind,
                recipient=recipient,
                subject=subject,
                message=message,
                message_id=message_id,
            )
        ],
        now=now,
    )


def _local(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).strftime(TIME_FORMAT)


def issue_address_verification(
    session: Session,
    found: Number,
    address: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5: a 24-hour verification link for ``address``, mailed to it; replaces older links.

    The caller has checked the address (MAIL-3) and the right to change it,
    and locked the number's line (``lock_line``) before its credential row.
    Issue 12: the mail is counted (``otp_event``); at the caps of
    ``verification_refusal`` it raises ``VerificationRefused`` and adds
    nothing (the caller's transaction then stores nothing either).
    """
    _check_link_base(link_base)
    lock_line(session, found)  # no-op when the caller holds it already
    refusal = verification_refusal(session, found, now, limits or DEFAULT_OTP_LIMITS)
    if refusal is not None:
        log.warning("otp_verification_limited", number=found.number, reason=refusal.code)
        raise refusal
    token = password_rules.new_token()
    session.execute(
        delete(SiteToken).where(
            SiteToken.number_id == found.id,
            SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION,
        )
    )
    token_hash = _digest(token)
    expires_at = now + ADDRESS_LINK_VALIDITY
    session.add(
        SiteToken(
            number_id=found.id,
            kind=SiteTokenKind.ADDRESS_VERIFICATION,
            token_hash=token_hash,
            address=address,
            created_at=now,
            expires_at=expires_at,
            wrong_count=0,
        )
    )
    body = (
        "ワンタイムパスワード受信用メールアドレスの仮登録を受け付けました。\n"
        "\n"
        f"電話番号: {found.number}\n"
        "\n"
        "次のURLを開いて、メールアドレスの本登録を完了してください。\n"
        f"{link_base}?token={token}\n"
        "\n"
        f"このURLの有効期限は24時間です({_local(expires_at, found.timezone)}まで)。\n"
        "24時間を経過した場合は、再度設定サイトにログインしてお手続きをお願いします。\n"
        "\n"
        "このメールにお心当たりのない場合は、このメールを破棄してください。\n"
        "このメールは送信専用です。\n"
    )
    _queue_mail(
        session,
        kind=MailKind.ADDRESS_VERIFICATION,
        dedup_key=f"address_verification:{token_hash}",
        found=found,
        sender=sender,
        recipient=address,
        subject=f"【{SITE_NAME}】メールアドレスの本登録のお手続き",
        body=body,
        now=now,
    )
    _record_otp_event(session, found.id, OtpEventKind.VERIFICATION_MAILED, now)
    session.flush()
    return token


def lock_line(session: Session, found: Number) -> None:
    """The line's row, locked: the per-line count of verification mails is serialised.

    Taken before any credential row of the line (``change_auth_unit`` takes
    the line, then credentials: one lock order).
    """
    session.execute(select(Line.id).where(Line.id == found.line_id).with_for_update())


def lock_lines_of(session: Session, numbers: Sequence[str]) -> None:
    """``lock_line`` for the lines of ``numbers`` (a CSV file), in one order (by id)."""
    line_ids = select(Number.line_id).where(Number.number.in_(numbers))
    session.execute(
        select(Line.id).where(Line.id.in_(line_ids)).order_by(Line.id).with_for_update()
    )


def _verification_times(
    session: Session, condition: ColumnElement[bool], now: dt.datetime
) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(OtpEvent.at)
            .join(Number, Number.id == OtpEvent.number_id)
            .where(
                condition,
                OtpEvent.kind == OtpEventKind.VERIFICATION_MAILED,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
            .order_by(OtpEvent.at)
        )
    )


def line_verification_cap(session: Session, found: Number, limits: OtpLimits) -> int:
    """Issue 12: verification mails a line may send in 24 hours.

    Per line, not per login session: a session is free to make again (the
    flaw of issue 12 item 2), and the only login that manages many numbers
    is the contract number, which manages its whole line (SITE-1), under
    any auth unit and across auth-unit changes. One mail for each number of
    the line lets a bulk enrolment of every number through (SITE-9), plus
    ``verification_mails_per_day`` for retries; the same file sent again is
    refused, so a line cannot be used to mail many addresses day after day.
    """
    numbers = session.scalar(
        select(func.count()).select_from(Number).where(Number.line_id == found.line_id)
    )
    return int(numbers or 0) + limits.verification_mails_per_day


def verification_refusal(
    session: Session,
    found: Number,
    now: dt.datetime,
    limits: OtpLimits,
    *,
    pending_line: int = 0,
    field: str | None = None,
) -> VerificationRefused | None:
    """Issue 12: ``VerificationRefused`` if one more verification mail for ``found`` at ``now``
    would pass the number's cap (``limits.verification_mails_per_day`` in 24 hours) or its
    line's (``line_verification_cap``); else None. ``pending_line``: mails of the line not
    counted yet (earlier rows of the same CSV file, ``otp_csv.check_rows``)."""
    cap = limits.verification_mails_per_day
    code, pending = "verification_number_limit", 0
    times = _verification_times(session, OtpEvent.number_id == found.id, now)
    if len(times) < cap:
        code, pending = "verification_line_limit", pending_line
        cap = line_verification_cap(session, found, limits)
        times = _verification_times(session, Number.line_id == found.line_id, now)
        if len(times) + pending < cap:
            return None
    # Possible again once enough counted mails left the window (``pending`` < cap:
    # a file has one row per number, and the line's cap is above its numbers).
    oldest = times[max(0, len(times) + pending - cap)] if times else now
    retry_at = _aware(oldest) + OTP_LIMIT_WINDOW
    return VerificationRefused(
        code, limit=cap, until=_local(retry_at, found.timezone), retry_at=retry_at, field=field
    )


def start_otp_enrolment(
    session: Session,
    number: str,
    address: str,
    confirmation_id: str,
    confirmation_password: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5 仮登録 (seeds P.7): OTP address, confirmation ID and password; mails the link.

    Returns the token (also in the mailed link ``{link_base}?token=…``).
    The confirmation ID and (hashed) password are stored now; the address
    becomes the OTP address only when the link is followed
    (``verify_otp_address``), within 24 hours. Not while OTP is in use:
    then ``change_otp_address`` is the way (seeds (9)). Issue 12: at the
    caps of ``verification_refusal`` ``VerificationRefused``, before
    anything is hashed or stored.
    """
    _check_aware(now)
    _otp_address(address)
    password_rules.check_confirmation_id(confirmation_id)
    password_rules.check_confirmation_password(confirmation_password)
    _check_link_base(link_base)
    limits = limits or DEFAULT_OTP_LIMITS
    found, cred = _number_and_credential(session, number, with_line=True)
    if cred.otp_enabled:
        raise OtpRefused("otp_already_enabled")
    if (refusal := verification_refusal(session, found, now, limits)) is not None:
        log.warning("otp_verification_limited", number=number, reason=refusal.code)
        raise refusal
    cred.otp_confirmation_id = confirmation_id
    cred.otp_confirmation_password_hash = passwords.hash_password(confirmation_password)
    token = issue_address_verification(
        session, found, address, link_base=link_base, sender=sender, now=now, limits=limits
    )
    log.info("otp_enrolment_started", number=number)
    return token


def change_otp_address(
    sessions: sessionmaker[Session],
    number: str,
    new_address: str,
    confirmation_id: str,
    confirmation_password: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5, seeds (9): a new OTP address, proven by the confirmation ID and password.

    The current address stays the OTP address until the new one's link is
    followed. Returns the token, as ``start_otp_enrolment``. A wrong ID or
    password counts against the number (issue 12, committed before
    ``ConfirmationRefused`` is raised, hence the session factory); at
    ``limits.confirmation_failures_per_day`` in 24 hours the number is
    refused (``confirmation_limit``), even with the right values. Issue 12:
    the verification mail is counted; at the caps of ``verification_refusal``
    ``VerificationRefused`` and nothing is stored (right values or not).
    """
    _check_aware(now)
    _otp_address(new_address)
    _check_link_base(link_base)
    cap = (limits or DEFAULT_OTP_LIMITS).confirmation_failures_per_day
    field = "confirmation_id"
    stored = _read_confirmation(sessions, number, now=now, cap=cap, field=field)
    proven = _matches(stored, confirmation_id, confirmation_password)  # argon2, unlocked

    def act(session: Session, found: Number, _cred: SiteCredential) -> str:
        token = issue_address_verification(
            session, found, new_address, link_base=link_base, sender=sender, now=now, limits=limits
        )
        log.info("otp_address_change_started", number=number)
        return token

    return _when_confirmed(
        sessions,
        number,
        stored,
        proven,
        (confirmation_id, confirmation_password),
        now=now,
        cap=cap,
        field=field,
        act=act,
        with_line=True,
    )


def change_otp_confirmation(
    sessions: sessionmaker[Session],
    number: str,
    current_id: str,
    current_password: str,
    new_id: str,
    confirm_id: str,
    new_password: str,
    confirm_password: str,
    *,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> None:
    """SITE-5, seeds (10): a new confirmation ID and/or password, proven by the current ones.

    Seeds (10) ask for 「変更前の確認用ID」 to change the ID and 「変更前の
    パスワード」 to change the password; here both current values are asked
    for either change, since the ID is no secret to a session (the CSV
    download shows it). An empty new value keeps the current one; at least
    one is given, entered twice, under the SITE-5 rules. The only way to
    change them once set (the CSV only proves them, issue 12 item 9).
    Errors carry the form field and nothing is written, but for a wrong
    current ID or password: it counts against the number as on the address
    change (``change_otp_address``, the same cap).
    """
    _check_aware(now)
    if not (new_id or new_password):
        raise _violation("confirmation_new_missing", "new_confirmation_id")
    if new_id:
        password_rules.check_confirmation_id(new_id, field="new_confirmation_id")
        if new_id != confirm_id:
            raise _violation("confirmation_id_confirm_mismatch", "confirm_confirmation_id")
    if new_password:
        password_rules.check_confirmation_password(new_password, field="new_confirmation_password")
        if new_password != confirm_password:
            raise _violation(
                "confirmation_password_confirm_mismatch", "confirm_confirmation_password"
            )
    cap = (limits or DEFAULT_OTP_LIMITS).confirmation_failures_per_day
    field = "current_confirmation_id"
    stored = _read_confirmation(sessions, number, now=now, cap=cap, field=field)
    proven = _matches(stored, current_id, current_password)  # argon2, unlocked
    new_hash = passwords.hash_password(new_password) if proven and new_password else None

    def act(session: Session, _found: Number, cred: SiteCredential) -> None:
        if new_id:
            cred.otp_confirmation_id = new_id
        if new_password:
            cred.otp_confirmation_password_hash = new_hash or passwords.hash_password(new_password)
        session.flush()
        log.info(
            "otp_confirmation_changed", number=number, id=bool(new_id), password=bool(new_password)
        )

    _when_confirmed(
        sessions,
        number,
        stored,
        proven,
        (current_id, current_password),
        now=now,
        cap=cap,
        field=field,
        act=act,
    )


@dataclass(frozen=True)
class _Confirmation:
    """A number's confirmation ID and password hash as read (SITE-5)."""

    confirmation_id: str
    password_hash: str


def _confirmation_of(cred: SiteCredential) -> _Confirmation | None:
    if cred.otp_confirmation_id is None or cred.otp_confirmation_password_hash is None:
        return None
    return _Confirmation(cred.otp_confirmation_id, cred.otp_confirmation_password_hash)


def _read_confirmation(
    sessions: sessionmaker[Session], number: str, *, now: dt.datetime, cap: int, field: str
) -> _Confirmation:
    """The values to prove, read without a lock; refused at the cap before any argon2."""
    with db.transaction(sessions, read_only=True) as session:
        found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
        if found is None:
            raise OutOfScope("login_not_allowed")
        cred = _credential_row(session, found.id, lock=False)
        if cred is None:
            raise OtpRefused("no_site_password")
        stored = _confirmation_of(cred)
        if stored is None:
            raise OtpRefused("otp_not_enrolled")
        if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
            log.info("otp_confirmation_refused", number=number, reason=refusal.code)
            raise refusal
        return stored


def _matches(stored: _Confirmation, given_id: str, given_password: str) -> bool:
    id_ok = hmac.compare_digest(stored.confirmation_id.encode(), given_id.encode())
    password_ok = passwords.verify_password(stored.password_hash, given_password)
    return id_ok and password_ok


def _when_confirmed(
    sessions: sessionmaker[Session],
    number: str,
    stored: _Confirmation,
    proven: bool,
    given: tuple[str, str],
    *,
    now: dt.datetime,
    cap: int,
    field: str,
    act: Callable[[Session, Number, SiteCredential], T],
    with_line: bool = False,
) -> T:
    """Under the number's lock: ``act`` if the given values were right and the cap is not
    reached; else the wrong entry is counted and committed, then ``ConfirmationRefused``.

    The cap is checked again here: entries of other processes may have reached it
    since ``_read_confirmation`` (then nothing is counted and the answer is the
    cap, right values or not).
    """
    with db.transaction(sessions) as session:
        found, cred = _number_and_credential(session, number, with_line=with_line)
        current = _confirmation_of(cred)
        if current is None:
            raise OtpRefused("otp_not_enrolled")
        if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
            outcome = refusal
        else:
            if current != stored:  # changed meanwhile: checked again, under the lock
                proven = _matches(current, *given)
            if proven:
                return act(session, found, cred)
            outcome = count_wrong_confirmation(session, found, now, cap, field=field)
    log.info("otp_confirmation_refused", number=number, reason=outcome.code)
    raise outcome


def verify_otp_address(session: Session, token: str, *, now: dt.datetime) -> str:
    """SITE-5 本登録: follow the mailed link; returns the number whose OTP is now on.

    The link is valid for 24 hours (「24時間を経過した場合」: up to and
    including ``expires_at``) and once. The address becomes the OTP address,
    verified, and the one-time password is in use; codes mailed to an
    earlier address are void.
    """
    _check_aware(now)
    if not token:
        raise OtpRefused("token_invalid")
    row = session.scalars(
        select(SiteToken)
        .where(
            SiteToken.token_hash == _digest(token),
            SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION,
        )
        .with_for_update()
    ).one_or_none()
    if row is None or row.address is None:
        raise OtpRefused("token_invalid")
    if row.used_at is not None:
        raise OtpRefused("token_used")
    if now > row.expires_at:
        raise OtpRefused("token_expired")
    cred = _credential_row(session, row.number_id, lock=True)
    found = session.get(Number, row.number_id)
    if cred is None or found is None:
        raise OtpRefused("token_invalid")
    row.used_at = now
    cred.otp_address = row.address
    cred.otp_address_verified_at = now
    cred.otp_enabled = True
    cred.otp_chosen_at = now
    _void_codes(session, row.number_id)
    session.flush()
    log.info("otp_address_verified", number=found.number)
    return found.number


def set_otp_enabled(session: Session, number: str, enabled: bool, *, now: dt.datetime) -> None:
    """SITE-5, seeds P.7 and (8): use the one-time password or not (the subscriber's choice).

    Using it needs a verified OTP address (else ``otp_address_unverified``:
    the site shows the 仮登録 page, ``start_otp_enrolment``). Not using it
    keeps the address and the confirmation ID for a later return.
    """
    _check_aware(now)
    found, cred = _number_and_credential(session, number)
    if enabled and not _otp_address_verified(cred):
        raise OtpRefused("otp_address_unverified", field="otp_enabled")
    cred.otp_enabled = enabled
    cred.otp_chosen_at = now
    if not enabled:
        _void_codes(session, found.id)
    session.flush()
    log.info("otp_choice_set", number=number, enabled=enabled)


def _aware(value: dt.datetime | str) -> dt.datetime:
    """An aggregate (max) bypasses the column type: SQLite returns naive text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class OtpLimits:
    """Issue 12: caps per number over ``OTP_LIMIT_WINDOW`` (config: ``[site]``)."""

    wrong_codes_per_day: int = 10
    code_mails_per_day: int = 10
    # Wrong confirmation IDs/passwords (address change, confirmation change, CSV rows).
    confirmation_failures_per_day: int = 10
    # Verification mails per number (and, with the line's numbers, per line:
    # ``line_verification_cap``).
    verification_mails_per_day: int = 5


DEFAULT_OTP_LIMITS = OtpLimits()


def _otp_events(session: Session, number_id: int, kind: OtpEventKind, now: dt.datetime) -> int:
    """How many ``kind`` events the number had in the 24 hours up to ``now``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OtpEvent)
            .where(
                OtpEvent.number_id == number_id,
                OtpEvent.kind == kind,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
        )
        or 0
    )


def _record_otp_event(
    session: Session, number_id: int, kind: OtpEventKind, now: dt.datetime
) -> int:
    """Count one more ``kind`` event; returns the count in the window, this one included.

    The number's events past the window go at the same time (the table stays small).
    """
    session.execute(
        delete(OtpEvent).where(
            OtpEvent.number_id == number_id, OtpEvent.at <= now - OTP_LIMIT_WINDOW
        )
    )
    session.add(OtpEvent(number_id=number_id, kind=kind, at=now))
    session.flush()
    return _otp_events(session, number_id, kind, now)


def _confirmation_limit(
    found: Number, times: Sequence[dt.datetime], cap: int, *, field: str | None, counted: bool
) -> ConfirmationRefused:
    # The number may try again once enough wrong entries left the window to be under the cap.
    retry_at = _aware(times[len(times) - cap]) + OTP_LIMIT_WINDOW
    return ConfirmationRefused(
        "confirmation_limit",
        field=field,
        counted=counted,
        limit=cap,
        until=_local(retry_at, found.timezone),
        retry_at=retry_at,
    )


def _wrong_confirmation_times(
    session: Session, number_id: int, now: dt.datetime
) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(OtpEvent.at)
            .where(
                OtpEvent.number_id == number_id,
                OtpEvent.kind == OtpEventKind.CONFIRMATION_WRONG,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
            .order_by(OtpEvent.at)
        )
    )


def confirmation_refusal(
    session: Session, found: Number, now: dt.datetime, cap: int, *, field: str | None = None
) -> ConfirmationRefused | None:
    """Issue 12: ``confirmation_limit`` when ``found`` had ``cap`` wrong confirmation
    entries in the 24 hours up to ``now`` (its message says until when); else None."""
    times = _wrong_confirmation_times(session, found.id, now)
    if len(times) < cap:
        return None
    return _confirmation_limit(found, times, cap, field=field, counted=False)


def count_wrong_confirmation(
    session: Session, found: Number, now: dt.datetime, cap: int, *, field: str | None = None
) -> ConfirmationRefused:
    """Issue 12: count one wrong confirmation ID/password of ``found``; the refusal to raise.

    The caller holds the lock of the number's credential row, so that parallel
    entries cannot pass the cap. ``confirmation_mismatch``, or
    ``confirmation_limit`` when this entry reached the cap (counted) or others
    reached it first (not counted). The caller commits, then raises.
    """
    if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
        return refusal
    _record_otp_event(session, found.id, OtpEventKind.CONFIRMATION_WRONG, now)
    times = _wrong_confirmation_times(session, found.id, now)
    if len(times) >= cap:
        log.warning("otp_confirmation_limit_reached", number=found.number, limit=cap)
        return _confirmation_limit(found, times, cap, field=field, counted=True)
    return ConfirmationRefused("confirmation_mismatch", field=field, counted=True)


def _void_codes(session: Session, number_id: int) -> None:
    session.execute(
        delete(SiteToken).where(
            SiteToken.number_id == number_id, SiteToken.kind == SiteTokenKind.OTP_CODE
        )
    )


def send_otp_code(
    session: Session,
    number: str,
    *,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits = DEFAULT_OTP_LIMITS,
) -> None:
    """SITE-5 「ワンタイムパスワードを送信」: mail a new 6-digit code, valid 300 seconds.

    The new code replaces any earlier one of the number, used or not. At
    most ``limits.code_mails_per_day`` mails per number in 24 hours
    (``otp_mail_limit``), and none once the wrong codes reached their cap.
    """
    _check_aware(now)
    found, cred = _number_and_credential(session, number)
    if not (cred.otp_enabled and _otp_address_verified(cred)) or cred.otp_address is None:
        raise OtpRefused("otp_not_enrolled")
    wrong_cap, mail_cap = limits.wrong_codes_per_day, limits.code_mails_per_day
    if _otp_events(session, found.id, OtpEventKind.CODE_WRONG, now) >= wrong_cap:
        raise OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
    if _otp_events(session, found.id, OtpEventKind.CODE_MAILED, now) >= mail_cap:
        log.warning("otp_mail_limit_reached", number=number, limit=mail_cap)
        raise OtpRefused("otp_mail_limit", field="otp_code", limit=mail_cap)
    last_sent = session.scalar(
        select(func.max(SiteToken.created_at)).where(
            SiteToken.number_id == found.id, SiteToken.kind == SiteTokenKind.OTP_CODE
        )
    )
    if last_sent is not None and now - _aware(last_sent) < OTP_CODE_RESEND_AFTER:
        raise OtpRefused("otp_code_too_soon", field="otp_code")
    _void_codes(session, found.id)
    code = password_rules.new_otp_code(OTP_CODE_DIGITS)
    expires_at = now + OTP_CODE_VALIDITY
    session.add(
        SiteToken(
            number_id=found.id,
            kind=SiteTokenKind.OTP_CODE,
            token_hash=_otp_digest(found.id, code),
            created_at=now,
            expires_at=expires_at,
            wrong_count=0,
        )
    )
    body = (
        "設定サイトへのログインに必要なワンタイムパスワードをお知らせします。\n"
        "\n"
        f"電話番号: {found.number}\n"
        f"ワンタイムパスワード: {code}\n"
        "\n"
        f"ワンタイムパスワードの有効時間は300秒です({_local(expires_at, found.timezone)}まで)。\n"
        "300秒を経過した場合は、再度設定サイトにログインしてワンタイムパスワードを送信してください。\n"
        "\n"
        "このメールにお心当たりのない場合は、このメールを破棄してください。\n"
        "このメールは送信専用です。\n"
    )
    _queue_mail(
        session,
        kind=MailKind.ONE_TIME_PASSWORD,
        # Unique per mail; a code may repeat on a number over time.
        dedup_key=f"otp_code:{found.number}:{secrets.token_hex(8)}",
        found=found,
        sender=sender,
        recipient=cred.otp_address,
        subject=f"【{SITE_NAME}】ワンタイムパスワードのお知らせ",
        body=body,
        now=now,
    )
    _record_otp_event(session, found.id, OtpEventKind.CODE_MAILED, now)
    session.flush()
    log.info("otp_code_sent", number=number)


@dataclass(frozen=True)
class OtpAccepted:
    """SITE-5: the code was right. ``password_expired``: the SITE-4 change comes next."""

    password_expired: bool


def check_otp_code(
    sessions: sessionmaker[Session],
    number: str,
    code: str,
    *,
    now: dt.datetime,
    limits: OtpLimits = DEFAULT_OTP_LIMITS,
) -> OtpAccepted:
    """SITE-5: the mailed code completes the login; once, within 300 seconds.

    「300秒を経過した場合」: valid up to and including ``expires_at``. A wrong
    code counts; the 5th wrong entry makes the code void (a new one must be
    sent). Wrong codes are also counted per number over 24 hours: from
    ``limits.wrong_codes_per_day`` on, no code is taken, not even the right
    one (``otp_wrong_limit``, one of ``OTP_STAGE_ENDING``). The counts are
    committed before ``OtpRefused`` is raised, hence the session factory.
    """
    _check_aware(now)
    if not code:
        raise InvalidInput(MESSAGES["otp_code_empty"], code="otp_code_empty", field="otp_code")
    if not (code.isascii() and code.isdigit() and len(code) == OTP_CODE_DIGITS):
        # Never a code we mailed: refused as bad input, not counted as a guess.
        raise InvalidInput(MESSAGES["otp_code_format"], code="otp_code_format", field="otp_code")
    with db.transaction(sessions) as session:
        outcome = _check_code(session, number, code, now, limits)
    if isinstance(outcome, OtpRefused):
        log.info("otp_code_refused", number=number, reason=outcome.code)
        raise outcome
    log.info("otp_code_accepted", number=number, password_expired=outcome.password_expired)
    return outcome


def _check_code(
    session: Session, number: str, code: str, now: dt.datetime, limits: OtpLimits
) -> OtpRefused | OtpAccepted:
    found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if found is None:
        return OtpRefused("otp_code_missing", field="otp_code")
    # The credential row's lock serialises the number's code checks and
    # mails, so that parallel wrong codes cannot pass the cap.
    cred = _credential_row(session, found.id, lock=True)
    row = session.scalars(
        select(SiteToken)
        .where(SiteToken.number_id == found.id, SiteToken.kind == SiteTokenKind.OTP_CODE)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return OtpRefused("otp_code_missing", field="otp_code")
    wrong_cap = limits.wrong_codes_per_day
    if _otp_events(session, found.id, OtpEventKind.CODE_WRONG, now) >= wrong_cap:
        return OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
    if row.used_at is not None:
        return OtpRefused("otp_code_used", field="otp_code")
    if row.wrong_count >= OTP_CODE_MAX_WRONG:
        return OtpRefused("otp_code_void", field="otp_code")
    if now > row.expires_at:
        return OtpRefused("otp_code_expired", field="otp_code")
    if not hmac.compare_digest(row.token_hash, _otp_digest(found.id, code)):
        row.wrong_count += 1
        wrong_today = _record_otp_event(session, found.id, OtpEventKind.CODE_WRONG, now)
        session.flush()
        if wrong_today >= wrong_cap:
            log.warning("otp_wrong_limit_reached", number=number, limit=wrong_cap)
            return OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
        if row.wrong_count >= OTP_CODE_MAX_WRONG:
            return OtpRefused("otp_code_void", field="otp_code")
        return OtpRefused("otp_code_wrong", field="otp_code")
    row.used_at = now
    session.flush()
    return OtpAccepted(
        password_expired=cred is not None and now >= cred.changed_at + PASSWORD_VALIDITY
    )
