"""Password, confirmation ID and one-time code rules (store.password_rules)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

import pytest

from store.errors import DomainError, RuleViolation
from store.password_rules import (
    OPERATOR_TEXT,
    PasswordRuleError,
    check_confirmation_id,
    check_confirmation_password,
    check_not_current,
    check_password,
    confirmation_id_problems,
    confirmation_password_problems,
    new_otp_code,
    new_token,
    password_problems,
)
from store.passwords import hash_password, verify_password
from web.texts import PASSWORD_RULES, japanese

NUMBER = "0362814957"  # no run or repeat of its own, so only "contains" can fire


def codes(problems: list[PasswordRuleError]) -> list[str]:
    return [p.code for p in problems]


def raised(check: Callable[..., object], *args: object, **kwargs: object) -> PasswordRuleError:
    with pytest.raises(PasswordRuleError) as err:
        check(*args, **kwargs)
    return err.value


# --- SITE-3 login password --------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "abcD1357",  # 8, the shortest
        "x7k2m9q4w1z8",  # 12, the longest
        "aaa1aaa9",  # three of a kind twice, never four
        "aAaA2468",  # case counts: not four identical
        "pass1235",  # 1-2-3 then 5: three, not four
        "abce9753",  # a-b-c then e
        "xx7890yy",  # 9 -> 0 is not a step
        "qyzAB135",  # z -> A crosses classes
        "aBcD9517",  # case counts: not a run
        "x0362x8149",  # the number split up is not the number
    ],
)
def test_SITE_3_accepts_good_passwords(password: str) -> None:
    check_password(password, number=NUMBER)
    assert password_problems(password, number=NUMBER) == []


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("abcD135", "password_length"),  # 7
        ("x7k2m9q4w1z8p", "password_length"),  # 13
        ("", "password_length"),
        ("abcD135!", "password_charset"),
        ("abcD 135", "password_charset"),
        ("ａbcD1357", "password_charset"),  # full-width a
        ("ébcD1357", "password_charset"),
        ("８１３５７９２４", "password_charset"),  # full-width digits
        ("81357924", "password_digits_only"),
        ("x0000y13", "password_repeated"),
        ("aaaa1357", "password_repeated"),
        ("p1234x97", "password_sequence"),
        ("pabcd197", "password_sequence"),
        ("pdcba197", "password_sequence"),
        ("p4321x97", "password_sequence"),
        ("pABCD197", "password_sequence"),
        ("pXYZ1357", None),  # three only: accepted (guard for the row below)
        ("pWXYZ135", "password_sequence"),
        (f"x{NUMBER}", "password_contains_number"),
    ],
)
def test_SITE_3_rejects_each_rule(password: str, code: str | None) -> None:
    if code is None:
        check_password(password, number=NUMBER)
        return
    err = raised(check_password, password, number=NUMBER)
    assert err.code == code
    assert japanese(err) == PASSWORD_RULES[code]
    assert err.message == OPERATOR_TEXT[code]
    assert err.field == "new_password"
    assert codes(password_problems(password, number=NUMBER)) == [code]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("password_length", "パスワードは8～12桁で入力してください。"),
        (
            "password_charset",
            "パスワードは半角英数字(A～Z、a～z、0～9)で入力してください。",
        ),
        ("password_digits_only", "数字のみのパスワードは設定できません。"),
        ("password_repeated", "同じ文字を4文字以上続けたパスワードは設定できません。"),
        (
            "password_sequence",
            "連続した文字・数字(1234、abcdなど)を4文字以上含むパスワードは設定できません。",
        ),
        ("password_contains_number", "電話番号を含むパスワードは設定できません。"),
        ("password_same_as_current", "現在のパスワードと同一のパスワードは設定できません。"),
    ],
)
def test_SITE_3_messages_are_the_japanese_ones(code: str, message: str) -> None:
    assert PASSWORD_RULES[code] == message
    err = PasswordRuleError(code, field="new_password")
    assert japanese(err) == message
    # The error itself speaks English, for operators (CLI, logs, --json).
    assert str(err) == OPERATOR_TEXT[code]
    assert err.as_dict() == {
        "error": code,
        "message": OPERATOR_TEXT[code],
        "field": "new_password",
    }


@pytest.mark.parametrize(
    ("length", "ok"),
    [(7, False), (8, True), (12, True), (13, False)],
)
def test_SITE_3_length_boundaries(length: int, ok: bool) -> None:
    password = "x7k2m9q4w1z8p"[:length]
    assert codes(password_problems(password, number=NUMBER)) == ([] if ok else ["password_length"])


def test_SITE_3_rejects_digits_only() -> None:
    err = raised(check_password, "13572468", number=NUMBER)
    assert err.code == "password_digits_only"
    assert japanese(err) == "数字のみのパスワードは設定できません。"


def test_SITE_3_rejects_password_containing_the_number() -> None:
    number = "0312345678"
    found = codes(password_problems("a0312345678", number=number))
    assert "password_contains_number" in found
    # The number itself has 1-2-3-4-5 in it, so that is reported as well.
    assert found == ["password_sequence", "password_contains_number"]


def test_SITE_3_lists_every_problem_in_a_fixed_order() -> None:
    # The rule does not check the number's form; a short one keeps this compact.
    assert codes(password_problems("1111234", number="111234")) == [
        "password_length",
        "password_digits_only",
        "password_repeated",
        "password_sequence",
        "password_contains_number",
    ]
    assert codes(password_problems("ａaaaa", number=NUMBER)) == [
        "password_length",
        "password_charset",
        "password_repeated",
    ]


def test_SITE_3_check_password_raises_the_first_problem() -> None:
    err = raised(check_password, "1111", number=NUMBER, field="password1")
    assert err.code == "password_length"
    assert err.field == "password1"


def test_SITE_3_error_is_a_domain_rule_violation_and_a_value_error() -> None:
    err = raised(check_password, "12345678", number=NUMBER)
    assert isinstance(err, RuleViolation)
    assert isinstance(err, DomainError)
    assert isinstance(err, ValueError)


def test_SITE_3_message_never_quotes_the_password() -> None:
    for problem in password_problems("secret!!!!", number=NUMBER):
        assert "secret" not in problem.message
        assert "secret" not in japanese(problem)


def test_SITE_3_rejects_the_current_password() -> None:
    current = hash_password("abcD1357")
    err = raised(check_not_current, "abcD1357", current, verify_password)
    assert err.code == "password_same_as_current"
    assert japanese(err) == "現在のパスワードと同一のパスワードは設定できません。"
    assert err.field == "new_password"


def test_SITE_3_accepts_a_different_password_or_no_current_one() -> None:
    current = hash_password("abcD1357")
    check_not_current("abcD1358", current, verify_password)
    check_not_current("abcD1357", None, verify_password)


def test_SITE_3_check_not_current_passes_hash_first() -> None:
    seen: list[tuple[str, str]] = []

    def verify(password_hash: str, password: str) -> bool:
        seen.append((password_hash, password))
        return False

    check_not_current("new-one", "HASH", verify)
    assert seen == [("HASH", "new-one")]


# --- SITE-5 confirmation ID -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["abcDEF12", "abcdefg1", "ABCDEFG1", "abcdEFGH", "1234567a", "aB3456789012"],
)
def test_SITE_5_accepts_good_confirmation_ids(value: str) -> None:
    check_confirmation_id(value)
    assert confirmation_id_problems(value) == []


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        ("abcDE12", "confirmation_id_length", "確認用IDは8～12桁で入力してください。"),
        ("abcDEF1234567", "confirmation_id_length", "確認用IDは8～12桁で入力してください。"),
        (
            "abcDEF1_",
            "confirmation_id_charset",
            "確認用IDは半角英数字(A～Z、a～z、0～9)で入力してください。",
        ),
        (
            "ａbcDEF12",
            "confirmation_id_charset",
            "確認用IDは半角英数字(A～Z、a～z、0～9)で入力してください。",
        ),
        ("12345678", "confirmation_id_digits_only", "数字のみの確認用IDは利用できません。"),
        ("ABCDEFGH", "confirmation_id_upper_only", "英字大文字のみの確認用IDは利用できません。"),
        ("abcdefgh", "confirmation_id_lower_only", "英字小文字のみの確認用IDは利用できません。"),
    ],
)
def test_SITE_5_rejects_bad_confirmation_ids(value: str, code: str, message: str) -> None:
    err = raised(check_confirmation_id, value)
    assert err.code == code
    assert japanese(err) == message
    assert err.field == "confirmation_id"
    assert codes(confirmation_id_problems(value)) == [code]


def test_SITE_5_confirmation_id_lists_every_problem() -> None:
    assert codes(confirmation_id_problems("abc")) == [
        "confirmation_id_length",
        "confirmation_id_lower_only",
    ]
    assert codes(confirmation_id_problems("")) == ["confirmation_id_length"]


# --- SITE-5 confirmation password -------------------------------------------------


@pytest.mark.parametrize("value", ["abcdefg1", "ABCDEFG1", "1234567a", "aB3456789012"])
def test_SITE_5_accepts_good_confirmation_passwords(value: str) -> None:
    check_confirmation_password(value)
    assert confirmation_password_problems(value) == []


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        (
            "abcdef1",
            "confirmation_password_length",
            "確認用パスワードは8～12桁で入力してください。",
        ),
        (
            "abcdefghijk12",
            "confirmation_password_length",
            "確認用パスワードは8～12桁で入力してください。",
        ),
        (
            "abcdef1é",
            "confirmation_password_charset",
            "確認用パスワードは半角英数字(A～Z、a～z、0～9)で入力してください。",
        ),
        (
            "abcdefgh",
            "confirmation_password_mix",
            "確認用パスワードは英字と数字を組み合わせて入力してください。",
        ),
        (
            "ABCDEFGH",
            "confirmation_password_mix",
            "確認用パスワードは英字と数字を組み合わせて入力してください。",
        ),
        (
            "12345678",
            "confirmation_password_mix",
            "確認用パスワードは英字と数字を組み合わせて入力してください。",
        ),
    ],
)
def test_SITE_5_rejects_bad_confirmation_passwords(value: str, code: str, message: str) -> None:
    err = raised(check_confirmation_password, value)
    assert err.code == code
    assert japanese(err) == message
    assert err.field == "confirmation_password"
    assert codes(confirmation_password_problems(value)) == [code]


def test_SITE_5_confirmation_password_lists_every_problem() -> None:
    assert codes(confirmation_password_problems("abc!")) == [
        "confirmation_password_length",
        "confirmation_password_charset",
        "confirmation_password_mix",
    ]


# --- SITE-5 one-time code and verification link token -----------------------------


def test_SITE_5_otp_code_is_six_random_digits() -> None:
    code = new_otp_code()
    assert len(code) == 6
    assert set(code) <= set(string.digits)
    assert len({new_otp_code() for _ in range(20)}) > 1


def test_SITE_5_otp_code_may_be_longer() -> None:
    code = new_otp_code(8)
    assert len(code) == 8
    assert code.isascii()
    assert code.isdigit()


@pytest.mark.parametrize("length", [0, 4, 5])
def test_SITE_5_otp_code_shorter_than_six_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="at least 6"):
        new_otp_code(length)


def test_SITE_5_otp_code_keeps_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "choice", lambda seq: "0")
    assert new_otp_code() == "000000"


def test_SITE_5_token_is_url_safe_and_long() -> None:
    token = new_token()
    assert len(token) >= 43
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert new_token() != token


def test_SITE_5_short_token_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        new_token(16)
