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
