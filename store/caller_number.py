"""A caller ID as trunks send it, read as the rules compare it (CALL-2, CALL-3, MAIL-5, MAIL-9).

Every rule compares national numbers (``0311110000``): the nuisance list,
Number Request, the designated numbers, the mail's caller, the last caller
of the 144-2 feature code and the temporary-password line. Many SIP trunks
send the caller in E.164 (``+81311110000``), some in the international
prefix form (``0081311110000``) and some as E.164 without its ``+``
(``81311110000``). ``national_form`` brings a Japanese number to the
national form before any rule sees it, in ``agi/`` and ``notifier/`` alike;
the form without ``+`` only where the operator said the trunk sends it
(``call.e164_without_plus``): a bare ``81`` is a guess otherwise.

SIP sends a caller who withheld the number as ``anonymous`` (RFC 3323,
``sip:anonymous@anonymous.invalid``), often with an "allowed"
presentation: ``is_anonymous`` tells such a caller, who is withheld (非通知).
"""

from __future__ import annotations

import re

# The national significant number of a Japanese number: 9 digits (fixed
# lines, 0120) or 10 (mobiles, 050, 0800), never starting with the trunk 0.
_JAPAN_E164 = re.compile(r"(?:\+|00)81([1-9][0-9]{8,9})")
_JAPAN_E164_WITHOUT_PLUS = re.compile(r"81([1-9][0-9]{8,9})")
# RFC 3323's anonymous user, as CALLERID(num) may carry it: the user part
# alone (what PJSIP takes from the From URI), or the whole URI. The host is a
# host name's characters only, at most 253 of them.
_ANONYMOUS = re.compile(r"(?:sips?:)?anonymous(?:@[A-Za-z0-9.-]{1,253})?", re.IGNORECASE)
# Longer than any of the forms above: not looked at.
MAX_CALLER_ID = 270


def national_form(caller_id: str, *, e164_without_plus: bool = False) -> str:
    """A Japanese caller ID in the national form; anything else as presented.

    ``+81`` and ``0081`` followed by a Japanese number always; ``81``
    followed by one only with ``e164_without_plus``. Another country's
    number (``+1…``), garbage, control characters and over-long values are
    returned unchanged: the caller-number rule (``validation.diallable_number``)
    then refuses them, as it did before.
    """
    if len(caller_id) > MAX_CALLER_ID or not caller_id.isascii():
        return caller_id
    found = _JAPAN_E164.fullmatch(caller_id)
    if found is None and e164_without_plus:
        found = _JAPAN_E164_WITHOUT_PLUS.fullmatch(caller_id)
    return "0" + found.group(1) if found else caller_id


def is_anonymous(caller_id: str) -> bool:
    """CALL-3, MAIL-9: whether the caller ID is SIP's anonymous user, a withheld caller."""
    return (
        len(caller_id) <= MAX_CALLER_ID
        and caller_id.isascii()
        and _ANONYMOUS.fullmatch(caller_id) is not None
    )
