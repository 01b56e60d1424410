"""Issue 14 flow 8: numbers as people type them become half-width digits (one function)."""

from __future__ import annotations

import pytest

from store.validation import typed_number


@pytest.mark.parametrize("dash", [*"-‐‑‒–—―−ー－ｰ", " ", "\u3000"])
def test_SITE_1_MAIL_5_every_hyphen_like_character_and_space_is_dropped(dash: str) -> None:
    assert typed_number(f"03{dash}1234{dash}5678") == "0312345678"


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("０３１２３４５６７８", "0312345678"),
        ("０３－１２３４－５６７８", "0312345678"),
        ("０６＊", "06*"),
        ("＊４７４７", "*4747"),
        ("0312345678", "0312345678"),
        ("03-1234-567x", "031234567x"),  # left for the rule to refuse
        ("", ""),
    ],
)
def test_SITE_7_full_width_digits_and_star_are_half_width(typed: str, number: str) -> None:
    assert typed_number(typed) == number


@pytest.mark.parametrize(
    "typed",
    [
        "03①2345678",  # circled digit: NFKC makes it 1
        "03⑩345678",  # one character, NFKC makes it two digits
        "03¹²345678",  # superscripts
        "03₁₂345678",  # subscripts
        "03𝟏𝟐345678",  # mathematical bold digits
        "03٣٤345678",  # Arabic-Indic digits (no fold makes them ASCII)
    ],
)
def test_SITE_1_MAIL_5_odd_digit_forms_are_left_for_the_rule_to_refuse(typed: str) -> None:
    """Only what a Japanese keyboard types (full-width forms) is folded: a circled or
    superscript digit is not a digit the subscriber meant, and must not pass as one."""
    folded = typed_number(typed)
    assert not (folded.isascii() and folded.isdigit()), folded


def test_SITE_1_MAIL_5_an_over_long_value_is_not_normalised_into_a_number() -> None:
    """The length is bounded before the characters are looked at: 100,000 hyphens between
    the digits (a forged field) do not become 0312345678; the rule then refuses it."""
    forged = "03" + "-" * 100_000 + "12345678"
    assert typed_number(forged) == forged
    assert typed_number("03-1234-5678") == "0312345678"
