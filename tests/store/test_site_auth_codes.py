"""Issue 13: every code ``store.site_auth`` raises has its English line and its Japanese text.

The package raises codes with params; the site words them from
``web.texts`` (``japanese``). The codes are read from the package's own
source (each refusal built as the source builds it, with the keywords it
passes, given representative values), so a new code without a text, or a
text whose ``{param}`` the refusal does not supply, fails here rather than
on a subscriber's page.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import store.site_auth
from store.errors import DomainError, InvalidAddress, InvalidInput, InvalidNumber, RuleViolation
from store.site_auth import (
    GENERIC_LOGIN_REASONS,
    ConfirmationRefused,
    CurrentPasswordRefused,
    LoginRefused,
    OtpRefused,
    OutOfScope,
    PasswordsRefused,
    VerificationRefused,
)
from store.site_auth import errors as site_auth_errors
from web.texts import ERRORS, FALLBACK, FORMS, SITE_AUTH, japanese

PACKAGE = Path(store.site_auth.__file__).parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
NUMBERS = ("0312345678", "0312345679")

# Representative values for the keywords a refusal is built with.
KEYWORDS: dict[str, object] = {
    "field": "form",
    "limit": 3,
    "until": "2026/11/24 10:00:00",
    "retry_at": NOW + dt.timedelta(hours=24),
    "counted": True,
}

# How the source builds each kind of refusal from a code and keywords.
BUILDERS: dict[str, Callable[..., DomainError]] = {
    "LoginRefused": LoginRefused,
    "OutOfScope": OutOfScope,
    "OtpRefused": OtpRefused,
    "ConfirmationRefused": ConfirmationRefused,
    "VerificationRefused": VerificationRefused,
    "PasswordsRefused": lambda code, **kw: PasswordsRefused(code, NUMBERS, **kw),
    "CurrentPasswordRefused": CurrentPasswordRefused,
    "violation": lambda code, **_kw: site_auth_errors.violation(code, "form"),
    "invalid_input": lambda code, **_kw: site_auth_errors.invalid_input(code, "form"),
    "invalid_number": lambda code, **_kw: site_auth_errors.invalid_number(code, "number"),
}

# Refusals built from a variable, not a literal: (builder, code, keywords). Each code
# must still stand in the package's source as a literal (``test_..._are_in_the_source``).
FROM_VARIABLES: list[tuple[str, str, frozenset[str]]] = [
    *(
        ("LoginRefused", reason, frozenset())
        for reason in (
            "temp_password_invalidated",
            "temp_password_expired",
            "password_invalidated",
        )
    ),
    *(
        ("CurrentPasswordRefused", code, frozenset({"counted"}))
        for code in ("password_invalidated", "temp_password_invalidated")
    ),
    *(
        ("VerificationRefused", code, frozenset({"limit", "until", "retry_at", "field"}))
        for code in ("verification_number_limit", "verification_line_limit")
    ),
]


def _source_literals() -> set[str]:
    return {
        node.value
        for path in PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _raised() -> Iterator[tuple[str, str, frozenset[str]]]:
    """(builder, code, keywords) of every refusal the package's source builds from a literal."""
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else None
            first = node.args[0]
            if name in BUILDERS and isinstance(first, ast.Constant):
                assert isinstance(first.value, str)
                keywords = frozenset(k.arg for k in node.keywords if k.arg is not None)
                yield name, first.value, keywords
    yield from FROM_VARIABLES


def _built(builder: str, code: str, keywords: frozenset[str]) -> DomainError:
    return BUILDERS[builder](code, **{k: KEYWORDS[k] for k in keywords})


RAISED = sorted(set(_raised()), key=lambda r: (r[1], r[0], sorted(r[2])))


def test_issue13_the_codes_built_from_variables_are_in_the_source() -> None:
    literals = _source_literals()
    assert {code for _b, code, _k in FROM_VARIABLES} <= literals
    assert literals >= GENERIC_LOGIN_REASONS


def test_issue13_every_code_the_package_raises_has_an_operator_line_and_no_other() -> None:
    codes = {_built(*raised).code for raised in RAISED}
    codes |= {LoginRefused(reason).code for reason in GENERIC_LOGIN_REASONS}
    assert codes == set(site_auth_errors.OPERATOR_TEXT), codes ^ set(site_auth_errors.OPERATOR_TEXT)


@pytest.mark.parametrize(
    ("builder", "code", "keywords"), RAISED, ids=[f"{b}:{c}" for b, c, _k in RAISED]
)
def test_issue13_every_site_auth_code_has_japanese_that_formats(
    builder: str, code: str, keywords: frozenset[str]
) -> None:
    err = _built(builder, code, keywords)
    assert err.code in ERRORS, f"{err.code}: no text in web.texts"
    text = japanese(err)  # a {param} the refusal does not supply raises KeyError here
    assert text != FALLBACK and JAPANESE.search(text)
    assert "{" not in text and "}" not in text
    # The operator's line is English, formatted with the same params.
    assert err.message and not JAPANESE.search(err.message)
    assert "{" not in err.message and "}" not in err.message


def test_issue13_site_auth_texts_are_for_its_codes() -> None:
    """No stale Japanese: each SITE_AUTH text is for a code the package raises (or, for
    ``otp_address_invalid``, the sentence of the OTP address's MAIL-3 breaks)."""
    raised = set(site_auth_errors.OPERATOR_TEXT)
    assert set(SITE_AUTH) - raised == {"otp_address_invalid"}
    # Worded once, in FORMS (issue 14: number_format, a login number longer than any).
    assert raised - set(SITE_AUTH) == {"number_not_digits", "number_format"}
    for code in ("number_not_digits", "number_format"):
        assert FORMS[code] == japanese(site_auth_errors.invalid_number(code, "number"))


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        (("0312345678",), "0312345678"),
        (NUMBERS, "0312345678、0312345679"),
    ],
)
def test_issue13_SITE_8_numbers_are_listed_in_the_japanese_text(
    numbers: tuple[str, ...], expected: str
) -> None:
    missing = PasswordsRefused("passwords_missing", numbers)
    # The domain passes the numbers; the site writes the list (、), the operator line too (, ).
    assert missing.params == {"numbers": numbers}
    assert japanese(missing) == f"次の電話番号のパスワードを入力してください: {expected}"
    assert ", ".join(numbers) in missing.message and "、" not in missing.message
    # The wrong passwords' refusal names no number, in no text and no param.
    wrong = PasswordsRefused("passwords_wrong", numbers)
    assert wrong.numbers == numbers and not wrong.params
    assert not any(n in japanese(wrong) or n in wrong.message for n in numbers)


def test_issue13_SITE_5_caps_carry_limit_and_until_as_params() -> None:
    err = ConfirmationRefused(
        "confirmation_limit",
        field=None,
        counted=False,
        limit=3,
        until="2026/11/24 10:00:00",
        retry_at=NOW,
    )
    assert err.params == {"limit": 3, "until": "2026/11/24 10:00:00"}
    assert "24時間で3回" in japanese(err) and "2026/11/24 10:00:00以降" in japanese(err)
    assert "3" in err.message and "2026/11/24 10:00:00" in err.message


def test_issue14_SITE_5_MAIL_3_otp_address_breaks_read_as_their_own_sentence() -> None:
    """Issue 14 flow 2: the OTP address says which MAIL-3 rule it breaks, as any address
    (issue 13 worded every break alike)."""
    for code in (c for c in FORMS if c.startswith("address_")):
        err = InvalidAddress("x", code=code, field="otp_address")
        assert japanese(err) == FORMS[code]


def test_issue13_the_kinds_of_refusal_keep_their_builtins() -> None:
    """The split keeps each refusal's place in the hierarchy (code catching built-ins)."""
    assert isinstance(LoginRefused("wrong_password"), PermissionError)
    assert isinstance(OutOfScope("out_of_scope"), PermissionError)
    assert isinstance(OtpRefused("token_used"), RuleViolation)
    assert isinstance(site_auth_errors.invalid_input("password_empty", "password"), InvalidInput)
    assert isinstance(site_auth_errors.invalid_number("number_not_digits", "n"), InvalidNumber)
