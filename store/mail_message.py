"""Every mail this product sends, as one RFC 5322 message: the header guards and ``build_message``.

The notifier's call and test mails (MAIL-9, MAIL-2) and the site's
verification and one-time-password mails (SITE-5) are all built here, so
one set of guards stands between a value and a header: addresses pass the
MAIL-3 rules, everything else a control-character check, because a CR or
LF in a header value would let it add headers or recipients.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import unicodedata
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


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, date: dt.datetime, message_id: str
) -> EmailMessage:
    """The message: guarded From, To and Subject; Japanese UTF-8 plain text in base64.

    ``date`` is aware and in the zone the Date header should show.
    """
    msg = EmailMessage()
    msg["From"] = header_address(sender, field="sender")
    msg["To"] = header_address(recipient, field="recipient")
    msg["Subject"] = header_text(subject, field="subject")
    msg["Date"] = email.utils.format_datetime(date)
    msg["Message-ID"] = header_text(message_id, field="message_id")
    # RFC 3834: vacation responders and the like do not answer this mail.
    msg["Auto-Submitted"] = "auto-generated"
    # base64 rather than 8bit: delivery must not depend on 8BITMIME.
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg
