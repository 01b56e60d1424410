"""MAIL-2 (seeds P.9): the domain a subscriber allows (受信指定ドメイン) is the from_address's."""

from __future__ import annotations

import pytest

from web.pages.notification import sender_domain


@pytest.mark.parametrize(
    ("from_address", "domain"),
    [
        ("chakushin@example.jp", "example.jp"),
        ("着信お知らせメール <noreply@mail.example.jp>", "mail.example.jp"),
        ('"Chakushin" <noreply@example.com>', "example.com"),
        ("", ""),
    ],
)
def test_MAIL_2_flow9_the_domain_to_allow_is_the_from_address_domain(
    from_address: str, domain: str
) -> None:
    assert sender_domain(from_address) == domain
