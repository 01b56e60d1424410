"""The settings site's authentication rules (SITE-1 ... SITE-6, SITE-8, SITE-10), without HTTP.

The site (Starlette) calls these functions; they hold every rule of the
seeds' pages "ひかり電話設定サイトの認証方法", "ひかり電話設定サイトへ接続" and
"パスワード変更・認証単位の変更(1)…(10)" so that the rules do not depend on the
web layer. Like ``store.service``, each function checks every rule before it
writes and raises a typed ``DomainError`` with a stable ``code``, its
``params`` and an English ``message`` for operators; the site words the
code for the subscriber (``web.texts.SITE_AUTH``), and ``field`` names the
form field it belongs next to. Passwords, codes and tokens are never
logged, never put in an error, and stored only hashed (argon2id for
passwords, SHA-256 for the random tokens and the short-lived codes).

Some functions take a session *factory* instead of a session: ``login``,
``check_otp_code``, ``attempt_password_change``, ``attempt_auth_unit_change``,
``prove_otp_confirmation``, ``change_confirmation_id`` and
``change_confirmation_password``. A wrong entry must be
counted even though the call then fails, and a caller's ``transaction()``
rolls back whatever the block wrote when it raises: these commit their
counters in their own transaction first and raise afterwards, and run the
slow argon2 checks between their transactions, so no database lock is held
while they hash. Every function takes ``now``: the rules never read the clock.

The modules, along the seams of the rules:

- ``errors``: the refusals, their codes and English lines;
- ``limits``: every count, validity and cap;
- ``scope``: who logs in and what a login manages (SITE-1, SITE-6);
- ``login_flow``: the login (SITE-1, SITE-2, SITE-4);
- ``password_change``: the password change (SITE-10);
- ``auth_unit``: the auth unit change, one transition per seeds' page (SITE-8);
- ``otp_enrolment``, ``otp_state``, ``otp_code``: the one-time password (SITE-5);
- ``otp_reset``: the operator's reset of a number's one-time password (SITE-5);
- ``mails``: the verification and one-time-password mails the site queues.
"""

from store.site_auth.auth_unit import (
    TRANSITIONS,
    AuthUnitChanged,
    attempt_auth_unit_change,
    change_auth_unit,
)
from store.site_auth.errors import (
    GENERIC_LOGIN_REASONS,
    OTP_STAGE_ENDING,
    ConfirmationRefused,
    CurrentPasswordRefused,
    LoginRefused,
    OtpRefused,
    OutOfScope,
    PasswordsRefused,
    VerificationRefused,
)
from store.site_auth.limits import (
    ADDRESS_LINK_VALIDITY,
    DEFAULT_OTP_LIMITS,
    IDLE_TIMEOUT_LINE,
    IDLE_TIMEOUT_OTHER,
    OTP_CODE_DIGITS,
    OTP_CODE_MAX_WRONG,
    OTP_CODE_RESEND_AFTER,
    OTP_CODE_VALIDITY,
    OTP_LIMIT_WINDOW,
    PASSWORD_MAX_WRONG,
    PASSWORD_VALIDITY,
    TEMP_PASSWORD_MAX_WRONG,
    TIME_FORMAT,
    OtpLimits,
)
from store.site_auth.login_flow import LoginResult, count_wrong_password, login
from store.site_auth.mails import SITE_NAME
from store.site_auth.otp_code import OtpAccepted, check_otp_code, send_otp_code
from store.site_auth.otp_enrolment import (
    change_confirmation_id,
    change_confirmation_password,
    enrolment_problems,
    issue_address_verification,
    prove_otp_confirmation,
    request_otp_address_change,
    set_otp_enabled,
    start_otp_enrolment,
    verify_otp_address,
)
from store.site_auth.otp_reset import OtpReset, reset_otp
from store.site_auth.otp_state import (
    confirmation_refusal,
    count_wrong_confirmation,
    line_verification_cap,
    lock_line,
    lock_lines_of,
    verification_refusal,
)
from store.site_auth.password_change import (
    PasswordChanged,
    PasswordChecks,
    attempt_password_change,
    change_password,
)
from store.site_auth.scope import (
    Reach,
    end_sessions,
    idle_timeout_for,
    login_reach,
    managed_numbers,
)

__all__ = [
    "ADDRESS_LINK_VALIDITY",
    "DEFAULT_OTP_LIMITS",
    "GENERIC_LOGIN_REASONS",
    "IDLE_TIMEOUT_LINE",
    "IDLE_TIMEOUT_OTHER",
    "OTP_CODE_DIGITS",
    "OTP_CODE_MAX_WRONG",
    "OTP_CODE_RESEND_AFTER",
    "OTP_CODE_VALIDITY",
    "OTP_LIMIT_WINDOW",
    "OTP_STAGE_ENDING",
    "PASSWORD_MAX_WRONG",
    "PASSWORD_VALIDITY",
    "SITE_NAME",
    "TEMP_PASSWORD_MAX_WRONG",
    "TIME_FORMAT",
    "TRANSITIONS",
    "AuthUnitChanged",
    "ConfirmationRefused",
    "CurrentPasswordRefused",
    "LoginRefused",
    "LoginResult",
    "OtpAccepted",
    "OtpLimits",
    "OtpRefused",
    "OtpReset",
    "OutOfScope",
    "PasswordChanged",
    "PasswordChecks",
    "PasswordsRefused",
    "Reach",
    "VerificationRefused",
    "attempt_auth_unit_change",
    "attempt_password_change",
    "change_auth_unit",
    "change_confirmation_id",
    "change_confirmation_password",
    "change_password",
    "check_otp_code",
    "confirmation_refusal",
    "count_wrong_confirmation",
    "count_wrong_password",
    "end_sessions",
    "enrolment_problems",
    "idle_timeout_for",
    "issue_address_verification",
    "line_verification_cap",
    "lock_line",
    "lock_lines_of",
    "login",
    "login_reach",
    "managed_numbers",
    "prove_otp_confirmation",
    "request_otp_address_change",
    "reset_otp",
    "send_otp_code",
    "set_otp_enabled",
    "start_otp_enrolment",
    "verification_refusal",
    "verify_otp_address",
]
