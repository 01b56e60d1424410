"""Text from outside, made safe to store and to print on one line (issue 16, MAIL-10).

A mail server's reply is whatever bytes it chose to send. aiosmtplib keeps
the bytes that are not UTF-8 as lone surrogates (``surrogateescape``),
which no database can encode; PostgreSQL refuses a NUL in a text column;
and an escape sequence, a line break or a bidi override printed as is
would act on the operator's terminal or forge lines of
``chakushin number show --calls``. ``one_line`` is applied where such a
text enters (``notifier.outbox.SendResult``) and where a stored text is
printed (for rows written before).
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 2000  # characters kept of a reply (``outbox_mail.last_error``)

# Line breaks to str.splitlines() and to terminals; a multi-line SMTP reply
# (aiosmtplib joins its lines with "\n") becomes its lines joined by " | ".
_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
SEPARATOR = " | "


def _char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8: shown as that byte
        return f"\\x{code - 0xDC00:02x}"
    if char == "\t":
        return " "
    category = unicodedata.category(char)
    if category == "Cc":  # C0, DEL, C1: NUL, ESC and CSI act on terminals
        return f"\\x{code:02x}"
    if category in ("Cf", "Cs"):  # bidi overrides, zero widths; other lone surrogates
        return f"\\u{code:04x}"
    return char


def one_line(text: str, limit: int = LIMIT) -> str:
    """``text`` on one line of characters that any database stores and no terminal acts on.

    Control, format (bidi) and surrogate characters become visible escapes
    (``\\x1b``, ``\\u202e``; an undecodable byte ``\\xff``), tabs spaces, and
    line breaks ``" | "``; at most ``limit`` characters. Text already made
    safe comes back as it is.
    """
    if text.isascii() and text.isprintable():
        return text[:limit]
    lines = _BREAKS.split(text.strip("\r\n"))
    return SEPARATOR.join("".join(map(_char, line)) for line in lines)[:limit]
