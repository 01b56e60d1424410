"""Caller IDs as trunks send them, read as the rules compare them (store.caller_number).

CALL-2, CALL-3, MAIL-5, MAIL-9 compare national numbers (0311110000); a SIP
trunk may send E.164 (+81311110000) or a withheld caller as ``anonymous``.
"""

from __future__ import annotations

import pytest

from store import caller_number, validation


@pytest.mark.parametrize(
    ("presented", "national"),
    [
        ("+81311110000", "0311110000"),  # Tokyo, E.164
        ("+819012345678", "09012345678"),  # a mobile
        ("+815012345678", "05012345678"),  # 050 IP phone
        ("+81120123456", "0120123456"),  # freedial
        ("0081311110000", "0311110000"),  # the international prefix form
        ("00819012345678", "09012345678"),
        ("0311110000", "0311110000"),  # already national
    ],
)
def test_CALL_2_japanese_e164_is_read_in_the_national_form(presented: str, national: str) -> None:
    assert caller_number.national_form(presented) == national
    assert caller_number.national_form(presented, e164_without_plus=True) == national
    assert validation.diallable_number(caller_number.national_form(presented)) == national


def test_CALL_2_e164_without_plus_only_where_the_operator_configured_it() -> None:
    assert caller_number.national_form("81311110000") == "81311110000"
    assert caller_number.national_form("81311110000", e164_without_plus=True) == "0311110000"
    assert caller_number.national_form("819012345678", e164_without_plus=True) == "09012345678"


@pytest.mark.parametrize(
    "presented",
    [
        "+14155550100",  # another country's E.164: left as presented
        "+442071234567",
        "001 4155550100",
        "+810311110000",  # the national 0 kept after +81: no such E.164 number
        "+8131111",  # too short for a Japanese number
        "+81311110000123",  # too long
        "+81-3-1111-0000",
        "+８１３１１１１００００",  # full-width digits
        "+81311110000\r\n",
        "+81311110000\x00",
        "+81" + "3" * 5000,
        "unknown",
        "anonymous",
        "",
        "+",
        "+81",
    ],
)
def test_CALL_2_anything_else_is_left_as_presented(presented: str) -> None:
    assert caller_number.national_form(presented) == presented
    assert caller_number.national_form(presented, e164_without_plus=True) == presented


def test_CALL_2_81_without_plus_needs_a_japanese_number_after_it() -> None:
    for presented in ("810311110000", "8131111", "81311110000123", "81"):
        assert caller_number.national_form(presented, e164_without_plus=True) == presented


@pytest.mark.parametrize(
    "presented",
    [
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "anonymous@anonymous.invalid",
        "Anonymous@anonymous.invalid",
        "sip:anonymous@anonymous.invalid",
        "anonymous@example.jp",
    ],
)
def test_CALL_3_anonymous_is_a_withheld_caller(presented: str) -> None:
    assert caller_number.is_anonymous(presented)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "unknown",
        "0311110000",
        "anonymousx",
        "xanonymous",
        "anonymous\r\n",
        "anonymous@",
        "anonymous@bad host",
        "anonymous@" + "a" * 300,
        "ａｎｏｎｙｍｏｕｓ",
    ],
)
def test_CALL_3_only_anonymous_itself_is_withheld(presented: str) -> None:
    assert not caller_number.is_anonymous(presented)
