"""The refusals of the site's authentication rules: a code, its params, a line for operators.

Each refusal carries a stable ``code`` (the site picks the subscriber's
Japanese sentence for it from ``web.texts.SITE_AUTH``: the domain never
words what a subscriber reads), the ``params`` that sentence needs (a
limit, a time, the numbers concerned), the form ``field`` it belongs next
to, and a one-line English ``message`` for operators (CLI, logs). A
password, code or token is never put in any of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from store.errors import DomainError, InvalidInput, InvalidNumber, Param, RuleViolation, filled

# One-time-password refusals after which the login cannot go on today: the
# site ends the login stage and shows the message on the login page.
OTP_STAGE_ENDING = frozenset({"otp_wrong_limit", "otp_mail_limit"})

# Reasons a login fails that an attacker must not tell apart: the site shows
# one message (code ``login_refused``) for all of them.
GENERIC_LOGIN_REASONS = frozenset(
    {"wrong_password", "unknown_number", "unit_mismatch", "no_password"}
)

_RESET = "a new temporary password must be set by phone"

# Every code this package raises -> the English line for operators; the
# ``{param}`` names are those of the Japanese sentence (web.texts.SITE_AUTH).
OPERATOR_TEXT: Mapping[str, str] = {
    # SITE-1
    "number_not_digits": "the number must be half-width digits without hyphens",
    "number_format": "a number is 10 or 11 digits from 0, with its area code",
    "password_empty": "no password entered",
    "login_refused": "wrong number or password",
    # SITE-2 / SITE-4
    "temp_password_expired": f"the temporary password is 24 hours old and invalid; {_RESET}",
    "temp_password_invalidated": f"3 wrong temporary passwords in a row made it invalid; {_RESET}",
    "password_invalidated": f"the password is invalid (e.g. 10 wrong in a row); {_RESET}",
    # SITE-10
    "current_password_empty": "no current password entered",
    "current_password_wrong": "the current password is wrong",
    "confirm_mismatch": "the new password and its confirmation differ",
    "login_not_allowed": "this number may no longer log in",
    "out_of_scope": "this login may not change the password of this number",
    "temp_password_own_only": "a temporary-password login changes its own password first",
    # SITE-8
    "auth_unit_unchanged": "the line has this auth unit already",
    "contract_number_only": "from the admin/user unit only the contract number changes the unit",
    "passwords_missing": "passwords missing for: {numbers}",
    "passwords_not_set": "no valid password (set a temporary password first): {numbers}",
    # Names no number: the refusal must not tell which password was wrong (an oracle).
    "passwords_wrong": "a password entered is wrong",
    # SITE-5
    "no_site_password": "the number has no site password yet",
    "otp_already_enabled": "the one-time password is in use: change its address instead",
    "otp_already_enrolled": "an address was verified already: change it instead",
    "otp_not_enrolled": "no one-time password enrolment",
    "otp_address_unverified": "the one-time password address is not verified yet",
    "confirmation_mismatch": "wrong confirmation ID or confirmation password",
    "confirmation_id_confirm_mismatch": "the new confirmation ID and its confirmation differ",
    "confirmation_password_confirm_mismatch": (
        "the new confirmation password and its confirmation differ"
    ),
    "token_invalid": "unknown verification link",
    "token_used": "the verification link was used already",
    "token_expired": "the verification link is more than 24 hours old",
    "otp_code_empty": "no one-time password entered",
    "otp_code_format": "the one-time password must be 6 half-width digits",
    "otp_code_missing": "no one-time password was sent",
    "otp_code_wrong": "wrong one-time password",
    "otp_code_expired": "the one-time password is more than 300 seconds old",
    "otp_code_used": "the one-time password was used already",
    "otp_code_too_soon": "a one-time password was mailed less than 30 seconds ago",
    "otp_code_void": "5 wrong entries made the one-time password void",
    "otp_wrong_limit": "{limit} wrong one-time passwords in 24 hours: logins by code stopped",
    "otp_mail_limit": "{limit} one-time password mails in 24 hours: no more for now",
    # Issue 12: wrong confirmation IDs/passwords per number over 24 hours.
    "confirmation_limit": (
        "{limit} wrong confirmation IDs/passwords in 24 hours: refused until {until}"
    ),
    # Issue 12: verification mails (the link of SITE-5) per number and per line over 24 hours.
    "verification_number_limit": (
        "{limit} verification mails for this number in 24 hours: none until {until}"
    ),
    "verification_line_limit": (
        "{limit} verification mails for this line in 24 hours: none until {until}"
    ),
}


def operator_text(code: str, params: Mapping[str, Param] | None = None) -> str:
    """The English line for ``code``; a code missing here fails where it is raised."""
    return filled(OPERATOR_TEXT[code], params or {})


class LoginRefused(DomainError, PermissionError):
    """SITE-1/2/4: the login failed; the wrong-entry counters it moved are committed.

    ``reason`` is the precise cause, for logs: ``wrong_password``,
    ``unknown_number``, ``unit_mismatch`` (the number may not log in with the
    line's auth unit), ``no_password`` (never had one), or one the subscriber
    must be told, as the seeds do: ``temp_password_expired``,
    ``temp_password_invalidated``, ``password_invalidated``. For the first
    four ``code`` and ``message`` are the same (``login_refused``), so
    ``as_dict()`` reveals nothing; ``generic`` says which kind it is.
    """

    code = "login_refused"

    def __init__(self, reason: str) -> None:
        code = "login_refused" if reason in GENERIC_LOGIN_REASONS else reason
        super().__init__(operator_text(code), code=code, field="password")
        self.reason = reason

    @property
    def generic(self) -> bool:
        return self.reason in GENERIC_LOGIN_REASONS


class OutOfScope(DomainError, PermissionError):
    """The login may not act on this number (SITE-1 scope, SITE-8 contract-only changes)."""

    code = "out_of_scope"

    def __init__(self, code: str, *, field: str = "number") -> None:
        super().__init__(operator_text(code), code=code, field=field)


class OtpRefused(RuleViolation):
    """SITE-5: a one-time-password step that the rules refuse (link, code, address, ID).

    ``limit`` (and ``until``, the local time the refusal ends) go to
    ``params`` for the refusals at a cap of issue 12.
    """

    code = "otp_refused"

    def __init__(
        self,
        code: str,
        *,
        field: str | None = None,
        limit: int | None = None,
        until: str = "",
    ) -> None:
        params: dict[str, Param] = {} if limit is None else {"limit": limit, "until": until}
        super().__init__(operator_text(code, params), code=code, field=field, params=params)


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
    """SITE-8: passwords missing, unset or wrong; ``numbers`` lists the numbers concerned.

    With ``passwords_wrong`` the numbers stay out of ``params`` (and so out of
    every text): the refusal must not tell whose password was wrong.
    """

    code = "passwords_refused"

    def __init__(self, code: str, numbers: Iterable[str]) -> None:
        self.numbers = tuple(numbers)
        params: dict[str, Param] = {} if code == "passwords_wrong" else {"numbers": self.numbers}
        super().__init__(operator_text(code, params), code=code, field="passwords", params=params)


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
        super().__init__(operator_text(code), code=code, field="current_password")
        self.counted = counted


def violation(code: str, field: str) -> RuleViolation:
    """A rule the request breaks (SITE-8, SITE-10, SITE-5 forms), by code."""
    return RuleViolation(operator_text(code), code=code, field=field)


def invalid_input(code: str, field: str) -> InvalidInput:
    """An entry without the required form (empty, not digits), by code."""
    return InvalidInput(operator_text(code), code=code, field=field)


def invalid_number(code: str, field: str) -> InvalidNumber:
    """SITE-1: a number typed in the wrong form (hyphens, full-width digits)."""
    return InvalidNumber(operator_text(code), code=code, field=field)
