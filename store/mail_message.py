"""Every mail this product sends, as one RFC 5322 message: the header guards and ``build_message``.

The notifier's call and test mails (MAIL-9, MAIL-2) and the site's
verification and one-time-password mails (SITE-5) are all built here, so
one set of guards stands between a value and a header: addresses pass the
MAIL-3 rules, everything else a control-character check, because a CR or
LF in a header value would let it add headers or recipients.

The sender (``mail.from_address``) may carry a display name,
``着信お知らせメール <noreply@example.jp>`` (issue 14): ``FromAddress.parse``
splits it; the name goes into the From header only (RFC 2047-encoded), the
bare address is the envelope sender (MAIL FROM) and its domain the one
subscribers allow (受信指定ドメイン).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from store.errors import InvalidAddress
from store.validation import mail_address


class UnsafeHeader(ValueError):
    """A value that must not go into a mail header (control character, bad address)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def has_control(value: str) -> bool:
    # Reject all C0/C1 controls and DEL: CR/LF/NUL enable header injection,
    # the rest have no business in a header. U+2028/U+2029 are line breaks
    # to str.splitlines() and to some mail readers.
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value)


def header_text(value: str, *, field: str) -> str:
    """A header value without control or line-break characters, or ``UnsafeHeader``."""
    if has_control(value):
        raise UnsafeHeader(f"{field}: control or line-break character in {value!r}", field=field)
    return value


# An RFC 2047 encoded word's start: =?charset?B|Q?text?= (charset*lang too).
# The email package takes one with spaces inside too.
_ENCODED_WORD = re.compile(r"=\?(?=[^?]*\?[BbQq]\?.*?\?=)", re.DOTALL)


def not_encoded_word(value: str) -> str:
    """``value`` with no RFC 2047 encoded word in it: such a word's ``=?`` shown as ``＝?``.

    The email package reads ``=?utf-8?q?a=0D=0ABcc:_x?=`` in a header value as
    text already encoded, and decodes it, line break and all: a phonebook name
    (38 visible ASCII characters) added a ``Bcc:`` header. The subject shows
    what was typed, one character changed, and means nothing more; a ``=?``
    that starts no encoded word stays as it is.
    """
    return _ENCODED_WORD.sub("\uff1d?", value)


def header_address(value: str, *, field: str) -> str:
    """An address for From/To: no controls, and MAIL-3 valid (so no second address either)."""
    header_text(value, field=field)
    try:
        return mail_address(value, field=field)
    except InvalidAddress as exc:
        raise UnsafeHeader(f"{field}: {exc.message}", field=field) from exc


def header_token(value: str, *, field: str) -> str:
    """One run of visible ASCII (a Linkedid, a Message-ID domain): nothing to fold or escape."""
    if not re.fullmatch(r"[!-~]{1,255}", value):
        raise UnsafeHeader(f"{field}: not visible ASCII without spaces: {value!r}", field=field)
    return value


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


MAX_DISPLAY_NAME = 64  # characters of the sender's display name

# "Name <address>": the name is everything before the last "<", the address
# everything between it and the final ">".
_NAMED = re.compile(r"(?P<name>.*?)\s*<(?P<address>[^<>]*)>")


@dataclass(frozen=True)
class FromAddress:
    """The sender of every mail: the bare address and an optional display name."""

    address: str
    display_name: str = ""

    @classmethod
    def parse(cls, value: str) -> FromAddress:
        """``Name <address>``, ``"Name" <address>`` or the address alone; else ``UnsafeHeader``.

        The message says what is wrong, without the field (the caller names it).
        """

        def bad(reason: str) -> UnsafeHeader:
            return UnsafeHeader(reason, field="sender")

        if has_control(value):
            raise bad("contains a control or line-break character")
        text = value.strip()
        if "<" not in text and ">" not in text:
            return cls(_address(text))
        named = _NAMED.fullmatch(text)
        if named is None:
            raise bad(f"write Name <address> or the address alone; got {value!r}")
        name = named["name"]
        if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
            name = name[1:-1]
        # "<" or ">" in a name makes readers (and people) take it for an address;
        # quotes and backslashes would need escaping that readers get wrong.
        if "<" in name or ">" in name:
            raise bad(f"the display name must not contain < or >; got {value!r}")
        if '"' in name:
            raise bad(f"the display name may be quoted as a whole, no quote inside; got {value!r}")
        if "\\" in name:
            raise bad(f"the display name must not contain a backslash; got {value!r}")
        if not name.isprintable():  # a bidi override, a zero-width space, a tab
            raise bad(f"the display name must be printable text; got {value!r}")
        # Runs of spaces are one space in a header (folding): say so here.
        name = " ".join(name.split())
        if len(name) > MAX_DISPLAY_NAME:
            raise bad(f"the display name is at most {MAX_DISPLAY_NAME} characters")
        return cls(_address(named["address"].strip()), name)

    @property
    def domain(self) -> str:
        """The domain subscribers allow to receive the mails (受信指定ドメイン)."""
        return domain_of(self.address)

    def header(self) -> Address:
        """The From header: the name RFC 2047-encoded by ``email`` when it is not ASCII."""
        return Address(display_name=self.display_name, addr_spec=self.address)


def _address(value: str) -> str:
    try:
        return mail_address(value, field="sender")
    except InvalidAddress as exc:
        raise UnsafeHeader(exc.message, field="sender") from exc


def header_sender(value: str, *, field: str = "sender") -> FromAddress:
    """The sender of a mail (``mail.from_address``), or ``UnsafeHeader`` naming ``field``."""
    try:
        return FromAddress.parse(value)
    except UnsafeHeader as exc:
        raise UnsafeHeader(f"{field}: {exc}", field=field) from exc


def envelope_sender(value: str) -> str:
    """The bare address of a sender that may carry a display name: the SMTP MAIL FROM."""
    return header_sender(value).address


def sender_domain(value: str) -> str:
    """The domain of the sender's address (受信指定ドメイン), whatever its display name."""
    return header_sender(value).domain


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, date: dt.datetime, message_id: str
) -> EmailMessage:
    """The message: guarded From, To and Subject; Japanese UTF-8 plain text in base64.

    ``date`` is aware and in the zone the Date header should show.
    """
    msg = EmailMessage()
    msg["From"] = header_sender(sender).header()
    msg["To"] = header_address(recipient, field="recipient")
    msg["Subject"] = header_text(not_encoded_word(subject), field="subject")
    if has_control(str(msg["Subject"])):  # what the email package made of it
        raise UnsafeHeader("subject: a line break after decoding", field="subject")
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = header_text(message_id, field="message_id")
    # RFC 3834: vacation responders and the like do not answer this mail.
    msg["Auto-Submitted"] = "auto-generated"
    # base64 rather than 8bit: delivery must not depend on 8BITMIME.
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg
