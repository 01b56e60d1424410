"""Pure rules on the values a subscriber or operator types in.

Nothing here touches the database; ``store.service`` calls these before any
write, and the IVR and the site call them too, so a rule holds whoever
writes. Each function returns the value to store or raises a typed
``InvalidInput`` naming the reason.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo

from store.errors import InvalidAddress, InvalidInput, InvalidNumber

MAX_ADDRESSES = 5  # MAIL-2
MAX_DESIGNATED = 30  # MAIL-5
MAX_NUISANCE = 30  # CALL-2
# Issue 19: a phonebook of caller names per number, and chat/webhook destinations.
MAX_PHONEBOOK = 300  # entries per number
MAX_CALLER_NAME = 40  # characters of a phonebook name
MAX_PHONEBOOK_NOTE = 100  # characters of an entry's note
MAX_DESTINATIONS = 3  # chat/webhook destinations per number, besides its MAX_ADDRESSES
MAX_DESTINATION_URL = 500  # characters of a destination's URL
MAX_DESTINATION_LABEL = 20  # characters of a destination's own name
MAX_DESTINATION_SECRET = 100  # a Chatwork API token or a webhook signing secret
MAX_CHATWORK_ROOM = 20  # digits of a Chatwork room id
MIN_RING_SECONDS = 5  # CALL-4: the carrier's Voice Warp ring time is 5-60 s
MAX_RING_SECONDS = 60

# A subscriber number is a national number with its area code: 0 and 9 more
# digits for fixed lines (0312345678), 0 and 10 more for 050/070/080/090.
_SUBSCRIBER_NUMBER = re.compile(r"0[1-9][0-9]{8,9}")
# A caller or forwarding destination may also be an international number
# (010 + country code + number, at most 15 digits after the prefix).
_DIALLABLE_NUMBER = re.compile(r"0[0-9]{9,17}")

# MAIL-3. The SPEC's list; the seeds' copy of this list lost characters in
# conversion (it has no dot, though its own examples are about dots).
_LOCAL_PART_CHARS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._-!$%'*+/?^#"
)
_DOMAIN_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.")
MAX_LOCAL_PART = 63
# RFC 5321: a longer path cannot be used in RCPT TO, so such an address
# could never be delivered.
MAX_ADDRESS_LENGTH = 254

# Asterisk dial strings such as PJSIP/0312345678 or SIP/alice@trunk. Commas
# and pipes would split Dial() arguments, so they are excluded; "&" only
# joins devices (issue 17). One device is at most 16 + 1 + 80 = 97 characters.
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9._@:+#-]{1,80}")
# Issue 17: a number rings up to MAX_DEVICES devices at once, joined by "&" as
# Dial() takes them (PJSIP/201&PJSIP/202&Local/desk@phones); the column holds
# MAX_ENDPOINT (8 x 97 + 7 = 783 fit), which PostgreSQL enforces.
MAX_DEVICES = 8
MAX_ENDPOINT = 800
# Issue 17: an Asterisk queue (a queues.conf section); "general" is that
# file's settings, not a queue. Queue()'s timeout in seconds.
_QUEUE = re.compile(r"[A-Za-z0-9_.-]{1,80}")
MAX_QUEUE = 80
MIN_QUEUE_SECONDS, MAX_QUEUE_SECONDS = 5, 300
# Issue 17 (MAIL-9): an interface as a device or a queue member is named by
# Asterisk (PJSIP/201, Local/desk@phones/n: a queue member's Local interface
# ends in its /n option), and the name an operator gives it (受付).
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9._@:+#/-]{1,83}")
MAX_INTERFACE = 100
MAX_DEVICE_LABEL = 20
MAX_DEVICE_LABELS = 1000
# Asterisk reads a technology name in any case and reports it in its own
# (pjsip/201 dials, and answers, as PJSIP/201): these are stored so, so that
# one device has one spelling in the endpoint, the names and the events.
_TECHNOLOGIES = {
    t.lower(): t
    for t in ("PJSIP", "SIP", "IAX2", "DAHDI", "Local", "Console", "Motif", "Skinny", "MGCP")
}
# Letters that show nothing (Hangul fillers, the braille blank): a name of
# them looks like no name in the mail. At most two combining marks in a row.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_MAX_COMBINING = 2


# Issue 14 flow 8: what people type between the digits of a phone number.
# The full-width forms (``０``…``９``, ``＊``, ``－``, the ideographic space)
# are made half-width first; these are the hyphen-like characters then
# dropped (ASCII hyphen-minus, hyphen, non-breaking hyphen, figure dash, en
# dash, em dash, horizontal bar, minus sign, the katakana prolonged sound mark
# typed for a dash, full- and half-width: - ‐ ‑ ‒ – — ― − ー ｰ), and spaces.
NUMBER_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70 ")
# Longer than any number as typed (18 digits, separators between them): not folded,
# so that the rule taking it refuses it as it is.
MAX_TYPED_NUMBER = 64
# Full-width ASCII (U+FF01…U+FF5E) to ASCII; the ideographic space to a space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def typed_number(value: str) -> str:
    """A phone number (or a number search) as people type it, made half-width digits.

    ``０３－１２３４－５６７８``, ``03-1234-5678`` and ``03 1234 5678`` all become
    ``0312345678``: the full-width forms a Japanese keyboard types made
    half-width, then the hyphen-like characters and spaces of
    ``NUMBER_SEPARATORS`` removed. Nothing else is folded (not NFKC: ``①``,
    ``²`` or ``𝟏`` are not digits the subscriber typed, and ``⑩`` would become
    two), and a value over ``MAX_TYPED_NUMBER`` characters is returned as it
    is: the rule that takes the value refuses what is left (letters stay
    letters). The one normaliser of typed numbers: the site's login,
    designated numbers, nuisance entries and the number search (SITE-1,
    MAIL-5, CALL-2, SITE-7).
    """
    if len(value) > MAX_TYPED_NUMBER:
        return value
    return "".join(c for c in value.translate(_HALF_WIDTH) if c not in NUMBER_SEPARATORS)


def _digits_only(value: str, what: str, field: str) -> None:
    if "-" in value or " " in value:
        raise InvalidNumber(
            f"{what} {value!r}: use digits only, without hyphens or spaces",
            code="number_not_digits",
            field=field,
        )
    if not value.isascii() or not value.isdigit():
        raise InvalidNumber(
            f"{what} {value!r}: use half-width digits 0-9 only",
            code="number_not_digits",
            field=field,
        )


def subscriber_number(value: str, *, field: str = "number") -> str:
    """A contract or additional number (Words): 10 or 11 digits from 0."""
    _digits_only(value, "number", field)
    if not _SUBSCRIBER_NUMBER.fullmatch(value):
        raise InvalidNumber(
            f"number {value!r}: a national number with its area code is 10 or 11 digits "
            "starting with 0 (e.g. 0312345678)",
            code="number_format",
            field=field,
        )
    return value


def is_subscriber_number(value: str) -> bool:
    """Whether ``value`` is a subscriber number (``subscriber_number`` without the error)."""
    return bool(_SUBSCRIBER_NUMBER.fullmatch(value)) and value.isascii()


def diallable_number(value: str, *, field: str = "caller_number") -> str:
    """A caller number (MAIL-5, CALL-2) or a forwarding destination (CALL-4)."""
    _digits_only(value, "number", field)
    if not _DIALLABLE_NUMBER.fullmatch(value):
        raise InvalidNumber(
            f"number {value!r}: 10 to 18 digits starting with 0 "
            "(national number with area code, or 010 + international number)",
            code="number_format",
            field=field,
        )
    return value


def _not_in(text: str, allowed: frozenset[str]) -> list[str]:
    """The characters of ``text`` outside ``allowed``, each once, in the order they appear."""
    return list(dict.fromkeys(char for char in text if char not in allowed))


def mail_address(value: str, *, field: str = "address") -> str:
    """MAIL-3: the carrier's destination address rules, one reason per break."""

    def bad(reason: str, *, code: str) -> InvalidAddress:
        return InvalidAddress(f"address {value!r}: {reason}", code=code, field=field)

    if not value:
        raise bad("is empty", code="address_empty")
    if len(value) > MAX_ADDRESS_LENGTH:
        raise bad(f"is longer than {MAX_ADDRESS_LENGTH} characters", code="address_too_long")
    if value.count("@") != 1:
        raise bad("must contain exactly one @", code="address_at_count")
    local, domain = value.split("@")
    if not local:
        raise bad("must not start with @", code="address_at_first")
    if not domain:
        raise bad("must not end with @", code="address_at_last")
    if len(local) > MAX_LOCAL_PART:
        raise bad(
            f"the part before @ is {len(local)} characters; at most {MAX_LOCAL_PART} are allowed",
            code="address_local_too_long",
        )
    wrong = _not_in(local, _LOCAL_PART_CHARS)
    if wrong:
        raise bad(
            f"character(s) {''.join(wrong)!r} not allowed before @ "
            "(allowed: 0-9 A-Z a-z . _ - ! $ % ' * + / ? ^ #)",
            code="address_local_chars",
        )
    if local.startswith("."):
        raise bad("must not start with a dot", code="address_leading_dot")
    if local.endswith("."):
        raise bad("must not have a dot right before @", code="address_dot_before_at")
    if ".." in local:
        raise bad("must not have two dots in a row", code="address_double_dot")
    wrong = _not_in(domain, _DOMAIN_CHARS)
    if wrong:
        raise bad(
            f"character(s) {''.join(wrong)!r} not allowed after @ (allowed: 0-9 A-Z a-z - .)",
            code="address_domain_chars",
        )
    if domain.endswith("."):
        raise bad("must not end with a dot", code="address_trailing_dot")
    if "" in domain.split("."):
        raise bad(
            "the part after @ has an empty label (a leading dot or two dots)",
            code="address_domain_label",
        )
    return value


def ring_seconds(value: int, *, field: str = "ring_seconds") -> int:
    if not MIN_RING_SECONDS <= value <= MAX_RING_SECONDS:
        raise InvalidInput(
            f"ring time {value} s: must be {MIN_RING_SECONDS} to {MAX_RING_SECONDS} seconds",
            code="ring_seconds_range",
            field=field,
        )
    return value


# IANA names: Area/Location, letters, digits, "_", "+", "-"; the column holds 64.
_TIME_ZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
MAX_TIME_ZONE = 64


def time_zone(value: str, *, field: str = "timezone") -> str:
    try:
        # Checked before zoneinfo sees it: a very long name is an OSError
        # there (file name too long), a "../" one a path outside the zone data.
        if len(value) > MAX_TIME_ZONE or not _TIME_ZONE.fullmatch(value):
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"time zone {value!r}: not an IANA time zone name (e.g. Asia/Tokyo)",
            code="timezone_unknown",
            field=field,
        ) from None
    return value


def endpoint(value: str, *, field: str = "endpoint") -> str:
    """The Asterisk dial string that rings the subscriber's device or devices.

    Issue 17: several devices rung at once are joined by "&", each checked
    as one device is; at most ``MAX_DEVICES``, none twice.
    """
    if len(value) > MAX_ENDPOINT:
        raise InvalidInput(
            f"endpoint of {len(value)} characters: at most {MAX_ENDPOINT}",
            code="endpoint_too_long",
            field=field,
        )
    parts = value.split("&")
    if len(parts) > MAX_DEVICES:
        raise InvalidInput(
            f"endpoint of {len(parts)} devices: at most {MAX_DEVICES}",
            code="endpoint_too_many_devices",
            field=field,
        )
    seen: set[str] = set()
    canonical: list[str] = []
    for part in parts:
        if not _ENDPOINT.fullmatch(part):
            shown = value if len(parts) == 1 else part
            raise InvalidInput(
                f"endpoint {shown[:100]!r}: must look like TECH/resource (e.g. PJSIP/0312345678), "
                "several joined by &, without commas, spaces or control characters",
                code="endpoint_format",
                field=field,
            )
        device = _asterisk_case(part)
        if device in seen:
            raise InvalidInput(
                f"endpoint: device {part!r} is given twice",
                code="endpoint_duplicate_device",
                field=field,
            )
        seen.add(device)
        canonical.append(device)
    return "&".join(canonical)


def _asterisk_case(device: str) -> str:
    """``pjsip/201`` as Asterisk names it, ``PJSIP/201``; another technology as given."""
    tech, _, resource = device.partition("/")
    return f"{_TECHNOLOGIES.get(tech.lower(), tech)}/{resource}"


def devices(endpoint_value: str) -> tuple[str, ...]:
    """Issue 17: the devices of a (valid) dial string, in the order given."""
    return tuple(endpoint_value.split("&"))


def queue_name(value: str, *, field: str = "queue") -> str:
    """Issue 17: the Asterisk queue a number's calls wait in."""
    if not _QUEUE.fullmatch(value) or value.lower() == "general":
        raise InvalidInput(
            f"queue {value[:100]!r}: must be a queues.conf queue name, 1-{MAX_QUEUE} "
            "letters, digits or . _ - (not general)",
            code="queue_format",
            field=field,
        )
    return value


def queue_seconds(value: int, *, field: str = "queue_seconds") -> int:
    if not MIN_QUEUE_SECONDS <= value <= MAX_QUEUE_SECONDS:
        raise InvalidInput(
            f"queue timeout {value} s: must be {MIN_QUEUE_SECONDS} to {MAX_QUEUE_SECONDS} seconds",
            code="queue_seconds_range",
            field=field,
        )
    return value


def interface(value: str, *, field: str = "interface") -> str:
    """Issue 17: a device (PJSIP/201) or a queue member's interface (Local/desk@phones/n)."""
    if len(value) > MAX_INTERFACE or not _INTERFACE.fullmatch(value):
        raise InvalidInput(
            f"interface {value[:100]!r}: must look like TECH/resource (e.g. PJSIP/201), "
            f"at most {MAX_INTERFACE} characters, without commas, spaces or control characters",
            code="interface_format",
            field=field,
        )
    return _asterisk_case(value)


def device_label(value: str, *, field: str = "label") -> str:
    """Issue 17 (MAIL-9): the name a mail gives a device or member (受付), stripped."""
    # Spaces around are dropped; a control or format character anywhere is
    # refused (isprintable), and so is a name that shows nothing.
    label = value.strip(" \u3000")
    if (
        not label
        or len(label) > MAX_DEVICE_LABEL
        or not label.isprintable()
        or not _shows_something(label)
    ):
        raise InvalidInput(
            f"device name {value[:40]!r}: 1-{MAX_DEVICE_LABEL} printable characters",
            code="device_label_format",
            field=field,
        )
    return label


TEMP_PASSWORD_DIGITS = 8  # IVR-7


def temp_password(value: str, *, field: str = "temp_password") -> str:
    """IVR-7: a temporary password is exactly eight digits."""
    if len(value) != TEMP_PASSWORD_DIGITS or not value.isascii() or not value.isdigit():
        raise InvalidInput(
            f"a temporary password is exactly {TEMP_PASSWORD_DIGITS} digits",
            code="temp_password_format",
            field=field,
        )
    return value


def _shows_something(text: str) -> bool:
    """Not only blank letters, and no more than ``_MAX_COMBINING`` combining marks in a row."""
    if all(c in _BLANK_LETTERS or c.isspace() for c in text):
        return False
    if any(c in _BLANK_LETTERS for c in text):
        return False
    run = 0
    for c in text:
        run = run + 1 if unicodedata.combining(c) else 0
        if run > _MAX_COMBINING:
            return False
    return True


# Issue 19 (BOOK-1): a phonebook name and note. Spaces between words (the
# ASCII and the ideographic one, 山田　太郎) are letters of a name; every other
# separator or "Other" character is refused: a control (CR/LF/NUL could add a
# mail header or a CSV line), a format character (a bidi override reverses
# what the mail shows, a zero-width one hides), a private-use, surrogate or
# unassigned code point, a line or paragraph separator.
_NAME_SPACES = frozenset(" \u3000")


# Marks that show nothing on their own and have no use in a name: the combining
# grapheme joiner, Khmer's inherent vowels, Mongolian's free variation selectors.
_INVISIBLE_MARKS = frozenset("\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f")


def _name_problem(text: str) -> bool:
    """Whether ``text`` has a character a name or note may not have (see ``_NAME_SPACES``).

    Marks (Unicode category M: accents, voiced marks, variation selectors, an
    ideographic variation sequence's selector, U+E0100 after 辻) only after a letter they
    mark, at most ``_MAX_COMBINING`` in a row: a text cannot start with one or
    be a pile of them.
    """
    if any(not (c in _NAME_SPACES or c.isprintable()) for c in text):
        return True
    if any(c in _BLANK_LETTERS or c in _INVISIBLE_MARKS for c in text):
        return True
    run = 0
    for c in text:
        run = run + 1 if unicodedata.category(c).startswith("M") else 0
        if run > _MAX_COMBINING:
            return True
    return bool(text) and unicodedata.category(text[0]).startswith("M")


def _name_text(value: str) -> str:
    """NFC, spaces around stripped (only spaces: a CR/LF at an end is refused, not hidden)."""
    return unicodedata.normalize("NFC", value).strip(" \u3000")


def caller_name(value: str, *, field: str = "name") -> str:
    """BOOK-1: a caller's name in a phonebook, 1-``MAX_CALLER_NAME`` characters, NFC.

    The mail puts it in its subject, encoded (RFC 2047), and every chat
    message and the CSV file carry it: no character that could break a
    line, hide, reverse or fake the text around it (``_name_problem``).
    """
    if len(value) > MAX_CALLER_NAME * 4:  # bounded before NFC looks at it
        raise InvalidInput(
            f"name of {len(value)} characters: at most {MAX_CALLER_NAME}",
            code="caller_name_too_long",
            field=field,
            params={"max": MAX_CALLER_NAME},
        )
    name = _name_text(value)
    if not name:
        raise InvalidInput("the name is empty", code="caller_name_empty", field=field)
    if len(name) > MAX_CALLER_NAME:
        raise InvalidInput(
            f"name of {len(name)} characters: at most {MAX_CALLER_NAME}",
            code="caller_name_too_long",
            field=field,
            params={"max": MAX_CALLER_NAME},
        )
    if _name_problem(name):
        raise InvalidInput(
            f"name {name[:MAX_CALLER_NAME]!r}: control, format or invisible characters "
            "are not allowed",
            code="caller_name_control",
            field=field,
        )
    return name


def phonebook_note(value: str, *, field: str = "note") -> str:
    """BOOK-1: a phonebook entry's note, 0-``MAX_PHONEBOOK_NOTE`` characters, NFC."""
    if len(value) > MAX_PHONEBOOK_NOTE * 4:
        raise InvalidInput(
            f"note of {len(value)} characters: at most {MAX_PHONEBOOK_NOTE}",
            code="phonebook_note_too_long",
            field=field,
            params={"max": MAX_PHONEBOOK_NOTE},
        )
    note = _name_text(value)
    if len(note) > MAX_PHONEBOOK_NOTE:
        raise InvalidInput(
            f"note of {len(note)} characters: at most {MAX_PHONEBOOK_NOTE}",
            code="phonebook_note_too_long",
            field=field,
            params={"max": MAX_PHONEBOOK_NOTE},
        )
    if _name_problem(note):
        raise InvalidInput(
            "the note has control, format or invisible characters",
            code="phonebook_note_control",
            field=field,
        )
    return note
