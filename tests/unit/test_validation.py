"""Pure value rules of the domain layer (store.validation)."""

from __future__ import annotations

import pytest

from store import validation
from store.errors import InvalidAddress, InvalidInput, InvalidNumber

# --- MAIL-3 destination addresses ------------------------------------------------

LOCAL_63 = "a" * 63
LOCAL_64 = "a" * 64


@pytest.mark.parametrize(
    "address",
    [
        "taro@example.jp",
        "taro.yamada@mail.example.co.jp",
        "a@b",
        f"{LOCAL_63}@example.jp",
        "0-9_x!y$z%w'v*u+t/s?r^q#p@example.jp",
        "UPPER.case@Example.JP",
        "x@sub-domain.example-1.jp",
    ],
)
def test_MAIL_3_accepts_allowed_addresses(address: str) -> None:
    assert validation.mail_address(address) == address


@pytest.mark.parametrize(
    ("address", "code"),
    [
        # The seeds' own examples of RFC-violating addresses.
        ("abc..def@ntt-east.jp", "address_double_dot"),
        ("abcdef.@ntt-east.jp", "address_dot_before_at"),
        (".abcdef@ntt-east.jp", "address_leading_dot"),
        (f"{LOCAL_64}@ntt-east.jp", "address_local_too_long"),
    ],
)
def test_MAIL_3_rejects_seed_examples(address: str, code: str) -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address(address)
    assert err.value.code == code
    assert address in err.value.message


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("", "address_empty"),
        ("taro.example.jp", "address_at_count"),
        ("taro@@example.jp", "address_at_count"),
        ("ta@ro@example.jp", "address_at_count"),
        ("@example.jp", "address_at_first"),
        ("taro@", "address_at_last"),
    ],
)
def test_MAIL_3_exactly_one_at_not_first_or_last(address: str, code: str) -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address(address)
    assert err.value.code == code


@pytest.mark.parametrize(
    "char",
    [
        " ",
        "(",
        ")",
        '"',
        ",",
        ":",
        ";",
        "<",
        ">",
        "[",
        "\\",
        "&",
        "=",
        "~",
        "|",
        "{",
        "`",
        "é",
        "あ",
        "ａ",
        "\r",
        "\n",
        "\x00",
    ],
)
def test_MAIL_3_rejects_local_part_characters_outside_the_set(char: str) -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address(f"ta{char}ro@example.jp")
    assert err.value.code == "address_local_chars"
    assert repr(char)[1:-1] in err.value.message


@pytest.mark.parametrize("char", ["_", "!", "+", "'", "*", " ", "あ", "\n", "#"])
def test_MAIL_3_rejects_domain_characters_outside_the_set(char: str) -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address(f"taro@exa{char}mple.jp")
    assert err.value.code == "address_domain_chars"


def test_MAIL_3_domain_must_not_end_with_a_dot() -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address("taro@example.jp.")
    assert err.value.code == "address_trailing_dot"


@pytest.mark.parametrize("address", ["taro@.example.jp", "taro@example..jp"])
def test_MAIL_3_domain_labels_must_not_be_empty(address: str) -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address(address)
    assert err.value.code == "address_domain_label"


def test_MAIL_3_whole_address_fits_an_smtp_path() -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address("a@" + "b" * 260)
    assert err.value.code == "address_too_long"


def test_invalid_address_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="two dots"):
        validation.mail_address("a..b@example.jp")


# --- numbers (Words) -----------------------------------------------------------------


@pytest.mark.parametrize("number", ["0312345678", "05012345678", "09012345678", "0120123456"])
def test_subscriber_number_accepts_national_numbers(number: str) -> None:
    assert validation.subscriber_number(number) == number


@pytest.mark.parametrize(
    ("number", "code", "words"),
    [
        ("03-1234-5678", "number_not_digits", "without hyphens"),
        ("03 1234 5678", "number_not_digits", "without hyphens"),
        ("０３１２３４５６７８", "number_not_digits", "half-width"),
        ("031234567", "number_format", "10 or 11 digits"),
        ("031234567890", "number_format", "10 or 11 digits"),
        ("3312345678", "number_format", "starting with 0"),
        ("0012345678", "number_format", "starting with 0"),
        ("", "number_not_digits", "digits"),
        ("+81312345678", "number_not_digits", "digits"),
    ],
)
def test_subscriber_number_rejects_with_reason(number: str, code: str, words: str) -> None:
    with pytest.raises(InvalidNumber) as err:
        validation.subscriber_number(number)
    assert err.value.code == code
    assert words in err.value.message


@pytest.mark.parametrize("number", ["0398765432", "09012345678", "0101234567890"])
def test_caller_numbers_accept_national_and_international(number: str) -> None:
    assert validation.diallable_number(number) == number


@pytest.mark.parametrize("number", ["110", "12345678901", "0" * 19, "0398-765432", "anonymous"])
def test_caller_numbers_reject_malformed(number: str) -> None:
    with pytest.raises(InvalidNumber):
        validation.diallable_number(number)


# --- other settings -------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [5, 20, 60])
def test_CALL_4_ring_seconds_in_range(seconds: int) -> None:
    assert validation.ring_seconds(seconds) == seconds


@pytest.mark.parametrize("seconds", [-1, 0, 4, 61, 600])
def test_CALL_4_ring_seconds_out_of_range(seconds: int) -> None:
    with pytest.raises(InvalidInput, match="5 to 60 seconds"):
        validation.ring_seconds(seconds)


def test_time_zone_must_be_iana() -> None:
    assert validation.time_zone("Asia/Tokyo") == "Asia/Tokyo"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(InvalidInput, match="IANA"):
            validation.time_zone(bad)


@pytest.mark.parametrize("endpoint", ["PJSIP/0312345678", "SIP/alice@trunk", "IAX2/office-1"])
def test_endpoint_accepts_dial_strings(endpoint: str) -> None:
    assert validation.endpoint(endpoint) == endpoint


@pytest.mark.parametrize(
    "endpoint",
    # Issue 17: "&" joins devices (PJSIP/a&PJSIP/b is a ring group), so it may only
    # stand between two whole devices.
    [
        "PJSIP/a,30",
        "PJSIP/a&",
        "&PJSIP/b",
        "PJSIP/a&&PJSIP/b",
        "PJSIP/a&b",
        "PJSIP/a\nHangup",
        "PJSIP/",
        "alice",
        "PJSIP/a b",
        "/x",
    ],
)
def test_endpoint_rejects_dial_argument_injection(endpoint: str) -> None:
    with pytest.raises(InvalidInput, match="TECH/resource"):
        validation.endpoint(endpoint)


def test_production_argon2_parameters() -> None:
    """IVR-9, SITE-3: OWASP's minimum for argon2id (19 MiB, 2 passes), as shipped."""
    from argon2 import extract_parameters

    from store import passwords

    params = extract_parameters(passwords.make_hasher().hash("Tokyo2026x"))
    assert (params.memory_cost, params.time_cost, params.type.name) == (19456, 2, "ID")


def test_issue12_OPS_2_an_endpoint_fits_its_column_on_postgresql() -> None:
    """The technology prefix was unbounded: SQLite stored what PostgreSQL refused."""
    longest = "P" * 16 + "/" + "x" * 80
    assert validation.endpoint(longest) == longest and len(longest) <= 100
    with pytest.raises(InvalidInput):
        validation.endpoint("P" * 30 + "/" + "x" * 80)


def test_issue14_MAIL_3_bad_characters_are_listed_in_the_order_they_appear() -> None:
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address("z~a(b~é@example.jp")
    assert "character(s) '~(é' not allowed before @" in err.value.message
    with pytest.raises(InvalidAddress) as err:
        validation.mail_address("a@ex_am!ple_.jp")
    assert "character(s) '_!' not allowed after @" in err.value.message
