"""Who is calling, from the AGI environment: the number and its presentation (MAIL-9).

The number is read in the national form first (``store.caller_number``:
``+81311110000`` is ``0311110000``), and SIP's ``anonymous`` is a withheld
caller whatever presentation came with it (CALL-3), so that every rule
compares callers as the subscriber wrote them.

A payphone is presentation ``payphone`` (公衆電話, CALL-3, MAIL-9) whether it
says so by ANI II (``agi_callingani2``) or, over SIP, where chan_pjsip sets
no ANI II, by the ``cpc=payphone`` parameter (RFC 3966 calling party's
category) in P-Asserted-Identity or From (issue 15).

Every flow of ``agi/`` logs the caller through ``Caller.logged``: the
number only when its presentation is allowed, else how it was withheld
(``withheld``, ``payphone``, ``unavailable``), never the digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dialplan import variables
from store import caller_number, validation
from store.errors import InvalidInput
from store.models import Presentation

# ANI II digits of payphones (27: coin line with network controls, 70: with
# customer-premises controls), delivered as CALLERID(ani2); the dialplan's
# fail path reads the same list.
PAYPHONE_ANI2 = frozenset(variables.PAYPHONE_ANI2)
# Issue 15: the SIP headers a payphone's cpc may come in (read by the routing
# AGI over a PJSIP channel), and the longest value read: Asterisk's GET
# VARIABLE answers at most 1023 characters; a longer one is no payphone.
SIP_IDENTITY_HEADERS = ("P-Asserted-Identity", "From")
MAX_SIP_IDENTITY = 1024
# ";cpc=payphone" as a URI or header parameter (case-insensitive; SIP allows
# white space around a header parameter's "="), ending the parameter.
_CPC_PAYPHONE = re.compile(r";[ \t]*cpc[ \t]*=[ \t]*payphone(?=[;>?@,& \t]|\Z)", re.I | re.A)
# A quoted display name is the caller's own text: never read for the parameter.
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# AST_PRES_* groups in agi_callingpres: 0x00 allowed, 0x20 restricted, 0x40 unavailable.
_PRES_GROUP = 0x60
_PRES_ALLOWED = 0x00
_PRES_RESTRICTED = 0x20


@dataclass(frozen=True)
class Caller:
    """Who is calling: the number Asterisk has (even when withheld) and its presentation."""

    number: str
    presentation: Presentation

    @property
    def presented_number(self) -> str:
        """The number as it may be shown: empty unless presentation is allowed."""
        return self.number if self.presentation is Presentation.ALLOWED else ""

    @property
    def logged(self) -> str:
        """What a log line may say of the caller: the presented number, else the presentation."""
        return self.presented_number or self.presentation.value


def is_payphone_identity(header: str) -> bool:
    """Issue 15: does a SIP identity header (P-Asserted-Identity, From) say payphone?

    Hostile input: a value over ``MAX_SIP_IDENTITY`` characters, or with a
    control or format character (tab aside), says nothing; nor does a
    ``;cpc=payphone`` inside a quoted display name.
    """
    if len(header) > MAX_SIP_IDENTITY or any(
        unicodedata.category(c) in ("Cc", "Cf") and c != "\t" for c in header
    ):
        return False
    return _CPC_PAYPHONE.search(_QUOTED.sub('""', header)) is not None


def classify_caller(
    callerid: str,
    callingpres: str,
    ani2: str,
    *,
    e164_without_plus: bool = False,
    sip_identity: Sequence[str] = (),
) -> Caller:
    """From agi_callerid, agi_callingpres and agi_callingani2.

    ``e164_without_plus``: the operator's ``call.e164_without_plus``.
    ``sip_identity``: the values of ``SIP_IDENTITY_HEADERS`` over SIP ("" when absent).
    """
    try:
        number = validation.diallable_number(
            caller_number.national_form(callerid, e164_without_plus=e164_without_plus)
        )
    except InvalidInput:
        number = ""  # "unknown", "anonymous", empty
    # Asterisk sends 0-255 in ASCII digits; anything else (a reserved group,
    # a negative or larger number, full-width digits) presents nothing.
    value = callingpres or "0"
    code = int(value) if value.isascii() and value.isdigit() and len(value) <= 3 else -1
    group = code & _PRES_GROUP if 0 <= code <= 0xFF else -1
    if ani2 in PAYPHONE_ANI2 or any(is_payphone_identity(h) for h in sip_identity):
        presentation = Presentation.PAYPHONE
    elif group == _PRES_RESTRICTED or caller_number.is_anonymous(callerid):
        # RFC 3323: SIP's anonymous caller withheld the number, even when the
        # trunk marks the presentation "allowed" (it often does).
        presentation = Presentation.WITHHELD
    elif group != _PRES_ALLOWED or not number:
        presentation = Presentation.UNAVAILABLE
    else:
        presentation = Presentation.ALLOWED
    return Caller(number, presentation)


def caller_of(
    env: Mapping[str, str], *, e164_without_plus: bool = False, sip_identity: Sequence[str] = ()
) -> Caller:
    """The caller of an AGI session (``sip_identity``: see ``classify_caller``)."""
    return classify_caller(
        env.get("agi_callerid", ""),
        env.get("agi_callingpres", ""),
        env.get("agi_callingani2", ""),
        e164_without_plus=e164_without_plus,
        sip_identity=sip_identity,
    )
