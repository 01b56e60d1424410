"""Rules on the passwords a subscriber chooses on the site (SITE-3, SITE-5).

SITE-3, the login password. The seeds: 「パスワードは8桁~12桁の半角英数字で
設定してください。数字のみの設定はできません。」「現在のパスワードと同一の
パスワードを新しいパスワードに設定することはできません。」「0000、aaaa等の
4文字以上の同一文字列や1234、abcd等の昇降順の4文字以上の文字列、お客様の
電話番号を含むパスワードは新しいパスワードに設定することはできません。」

SITE-5, the one-time password's confirmation ID and confirmation password:
「確認用IDは「8～12桁の半角英数字」の文字を登録してください。英字大文字のみ、
英字小文字のみ、数字のみは利用できません」「確認用パスワードは「8～12桁の
半角英数字」の文字を登録してください。英字、数字の両方の文字の組み合わせが
必要です」. (The seeds' pages for changing the ID and for the CSV bulk setting
list only 「数字のみは利用できません」; SPEC.md and the enrolment page forbid all
three, so the ID rule here is the stricter one, whichever page it is set from.)

Like ``store.validation`` these are pure functions that raise a typed error
with a stable ``code``: the site shows the Japanese text of that code
(``web.texts.PASSWORD_RULES``) next to the form field; ``message`` is a
one-line English text for operators (``OPERATOR_TEXT``). Neither ever quotes the
value: the value is a secret.

Choices the seeds leave open:

- Case counts. "aAaA" is not four identical characters and "aBcD" is not a
  run; only characters of one class (digits, lowercase, uppercase) that step
  by exactly one in character code make a run, so "7890" and "yzAB" are not
  runs.
- "Contains the number" means the subscriber number as stored (national form
  with its leading 0, e.g. "0312345678") appears in the password.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Callable, Mapping

from store.errors import RuleViolation

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 12
MAX_SAME_IN_A_ROW = 3  # "0000" (four) is refused
MAX_RUN_LENGTH = 3  # "1234" (four) is refused
MIN_OTP_DIGITS = 6  # SITE-5: "a 6+ digit code"
MIN_TOKEN_BYTES = 32

_DIGITS = frozenset(string.digits)
_LOWER = frozenset(string.ascii_lowercase)
_UPPER = frozenset(string.ascii_uppercase)
_ALNUM = _DIGITS | _LOWER | _UPPER

# Every code these rules raise -> its English line for operators (web.texts.PASSWORD_RULES
# has the Japanese the site shows).
OPERATOR_TEXT: Mapping[str, str] = {
    # SITE-3
    "password_length": (
        f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
    ),
    "password_charset": "a password has half-width letters and digits only (A-Z, a-z, 0-9)",
    "password_digits_only": "a password of digits only is not allowed",
    "password_repeated": (
        f"a password must not repeat one character more than {MAX_SAME_IN_A_ROW} times in a row"
    ),
    "password_sequence": (
        f"a password must not contain a run (1234, abcd) longer than {MAX_RUN_LENGTH}"
    ),
    "password_contains_number": "a password must not contain the subscriber number",
    "password_same_as_current": "the new password must differ from the current one",
    # SITE-5
    "confirmation_id_length": (
        f"a confirmation ID has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
    ),
    "confirmation_id_charset": (
        "a confirmation ID has half-width letters and digits only (A-Z, a-z, 0-9)"
    ),
    "confirmation_id_digits_only": "a confirmation ID of digits only is not allowed",
    "confirmation_id_upper_only": "a confirmation ID of uppercase letters only is not allowed",
    "confirmation_id_lower_only": "a confirmation ID of lowercase letters only is not allowed",
    "confirmation_password_length": (
        f"a confirmation password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
    ),
    "confirmation_password_charset": (
        "a confirmation password has half-width letters and digits only (A-Z, a-z, 0-9)"
    ),
    "confirmation_password_mix": "a confirmation password needs both letters and digits",
}


class PasswordRuleError(RuleViolation):
    """A chosen password, confirmation ID or confirmation password breaks SITE-3/SITE-5.

    ``code`` is one of ``OPERATOR_TEXT`` (the site shows its Japanese text);
    ``message`` is the English one; ``field`` names the form field it
    belongs next to.
    """

    code = "password_rule"

    def __init__(self, code: str, *, field: str) -> None:
        super().__init__(OPERATOR_TEXT[code], code=code, field=field)


def _only(value: str, chars: frozenset[str]) -> bool:
    return bool(value) and all(c in chars for c in value)


def _char_class(c: str) -> frozenset[str] | None:
    for chars in (_DIGITS, _LOWER, _UPPER):
        if c in chars:
            return chars
    return None


def _has_repeat(value: str) -> bool:
    """Four or more of the same character in a row (case-sensitive)."""
    same = 1
    for prev, cur in itertools.pairwise(value):
        same = same + 1 if cur == prev else 1
        if same > MAX_SAME_IN_A_ROW:
            return True
    return False


def _has_run(value: str) -> bool:
    """Four or more ascending or descending characters in a row (1234, dcba, ABCD)."""
    length = 1
    step = 0
    for prev, cur in itertools.pairwise(value):
        cls = _char_class(cur)
        diff = ord(cur) - ord(prev)
        if cls is not None and cls is _char_class(prev) and diff in (1, -1):
            length = length + 1 if diff == step else 2
            step = diff
        else:
            length = 1
            step = 0
        if length > MAX_RUN_LENGTH:
            return True
    return False


def _length_and_charset(value: str, prefix: str, field: str) -> list[PasswordRuleError]:
    problems: list[PasswordRuleError] = []
    if not MIN_PASSWORD_LENGTH <= len(value) <= MAX_PASSWORD_LENGTH:
        problems.append(PasswordRuleError(f"{prefix}_length", field=field))
    if any(c not in _ALNUM for c in value):
        problems.append(PasswordRuleError(f"{prefix}_charset", field=field))
    return problems


def password_problems(
    new: str, *, number: str, field: str = "new_password"
) -> list[PasswordRuleError]:
    """SITE-3: every rule the new login password breaks, in a fixed order; [] if none."""
    problems = _length_and_charset(new, "password", field)
    if _only(new, _DIGITS):
        problems.append(PasswordRuleError("password_digits_only", field=field))
    if _has_repeat(new):
        problems.append(PasswordRuleError("password_repeated", field=field))
    if _has_run(new):
        problems.append(PasswordRuleError("password_sequence", field=field))
    if number and number in new:
        problems.append(PasswordRuleError("password_contains_number", field=field))
    return problems


def check_password(new: str, *, number: str, field: str = "new_password") -> None:
    """SITE-3: raise the first rule the new login password breaks.

    "Not the current password" needs the stored hash; see ``check_not_current``.
    """
    problems = password_problems(new, number=number, field=field)
    if problems:
        raise problems[0]


def check_not_current(
    new: str,
    current_hash: str | None,
    verify: Callable[[str, str], bool],
    *,
    field: str = "new_password",
) -> None:
    """SITE-3: the new password must differ from the current one.

    ``verify(hash, password)`` is ``store.passwords.verify_password``. No
    current hash (first login with a temporary password) means nothing to
    compare against.
    """
    if current_hash is not None and verify(current_hash, new):
        raise PasswordRuleError("password_same_as_current", field=field)


def confirmation_id_problems(
    value: str, *, field: str = "confirmation_id"
) -> list[PasswordRuleError]:
    """SITE-5: every rule the OTP confirmation ID breaks; [] if none."""
    problems = _length_and_charset(value, "confirmation_id", field)
    if _only(value, _DIGITS):
        problems.append(PasswordRuleError("confirmation_id_digits_only", field=field))
    if _only(value, _UPPER):
        problems.append(PasswordRuleError("confirmation_id_upper_only", field=field))
    if _only(value, _LOWER):
        problems.append(PasswordRuleError("confirmation_id_lower_only", field=field))
    return problems


def check_confirmation_id(value: str, *, field: str = "confirmation_id") -> None:
    """SITE-5: raise the first rule the OTP confirmation ID breaks."""
    problems = confirmation_id_problems(value, field=field)
    if problems:
        raise problems[0]


def confirmation_password_problems(
    value: str, *, field: str = "confirmation_password"
) -> list[PasswordRuleError]:
    """SITE-5: every rule the OTP confirmation password breaks; [] if none."""
    problems = _length_and_charset(value, "confirmation_password", field)
    has_letter = any(c in _LOWER or c in _UPPER for c in value)
    has_digit = any(c in _DIGITS for c in value)
    if value and not (has_letter and has_digit):
        problems.append(PasswordRuleError("confirmation_password_mix", field=field))
    return problems


def check_confirmation_password(value: str, *, field: str = "confirmation_password") -> None:
    """SITE-5: raise the first rule the OTP confirmation password breaks."""
    problems = confirmation_password_problems(value, field=field)
    if problems:
        raise problems[0]


def new_otp_code(length: int = MIN_OTP_DIGITS) -> str:
    """SITE-5: a one-time code of ``length`` random digits (leading zeros kept)."""
    if length < MIN_OTP_DIGITS:
        raise ValueError(f"a one-time code has at least {MIN_OTP_DIGITS} digits, not {length}")
    return "".join(secrets.choice(string.digits) for _ in range(length))


def new_token(nbytes: int = MIN_TOKEN_BYTES) -> str:
    """SITE-5: an unguessable URL-safe token for the address verification link."""
    if nbytes < MIN_TOKEN_BYTES:
        raise ValueError(f"a token has at least {MIN_TOKEN_BYTES} random bytes, not {nbytes}")
    return secrets.token_urlsafe(nbytes)
