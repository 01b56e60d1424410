"""Issue 15 (CALL-3, MAIL-9): a payphone over SIP, as agi.caller reads it.

chan_pjsip never sets CALLERID(ani2): a carrier marks a payphone with the
``cpc=payphone`` parameter (RFC 3966 / 3GPP TS 24.229: calling party's
category) in P-Asserted-Identity or From. Every header value is hostile:
too long, control characters, the parameter inside a quoted display name
or as part of another word are not a payphone.
"""

from __future__ import annotations

import pytest

from agi.caller import MAX_SIP_IDENTITY, Caller, classify_caller, is_payphone_identity
from store.models import Presentation

PAYPHONE = "0311112222"


@pytest.mark.parametrize(
    "header",
    [
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphone>",
        f"<sip:{PAYPHONE}@carrier.example;user=phone;cpc=payphone>",
        f"<sip:{PAYPHONE}@carrier.example;CPC=PayPhone;user=phone>",
        "<sip:+81311112222;cpc=payphone@carrier.example;user=phone>",  # in the user part
        "<tel:+81311112222;cpc=payphone>",
        f'"公衆電話" <sip:{PAYPHONE}@carrier.example>;cpc=payphone',  # a header parameter
        f"<sip:{PAYPHONE}@carrier.example>;cpc = payphone;tag=1",
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphone?Privacy=id>",
        f"<sip:a@b>, <tel:{PAYPHONE};cpc=payphone>",  # the second of two identities
        "sip:anonymous@anonymous.invalid;cpc=payphone",
    ],
)
def test_issue15_CALL_3_cpc_payphone_is_a_payphone(header: str) -> None:
    assert is_payphone_identity(header)


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"<sip:{PAYPHONE}@carrier.example>",
        f"<sip:{PAYPHONE}@carrier.example;cpc=ordinary>",
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphones>",
        f"<sip:{PAYPHONE}@carrier.example;xcpc=payphone>",
        f"<sip:{PAYPHONE}@carrier.example;cpc=pay-phone>",
        f"<sip:{PAYPHONE}@carrier.example>cpc=payphone",
        f'"x;cpc=payphone" <sip:{PAYPHONE}@carrier.example>',  # the caller's own display name
        f'"a\\";cpc=payphone" <sip:{PAYPHONE}@carrier.example>',  # an escaped quote inside
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphone>\r\nX: y",
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphone>\x00",
        f"<sip:{PAYPHONE}@carrier.example;cpc=payphone\x7f>",
        f"<sip:{PAYPHONE}@carrier.example;cpc=ｐａｙｐｈｏｎｅ>",
        "<sip:" + "9" * MAX_SIP_IDENTITY + "@carrier.example;cpc=payphone>",
    ],
)
def test_issue15_CALL_3_anything_else_is_no_payphone(header: str) -> None:
    assert not is_payphone_identity(header)


def test_issue15_CALL_3_a_header_at_the_length_limit_is_still_read() -> None:
    header = "<sip:" + "9" * 10 + "@" + "c" * MAX_SIP_IDENTITY + ";cpc=payphone>"
    assert not is_payphone_identity(header)
    fits = "<sip:0@c;cpc=payphone>".rjust(MAX_SIP_IDENTITY)
    assert len(fits) == MAX_SIP_IDENTITY and is_payphone_identity(fits)


@pytest.mark.parametrize("pres", ["0", "32", "67"])
def test_issue15_CALL_3_MAIL_9_a_sip_payphone_is_payphone_whatever_its_presentation(
    pres: str,
) -> None:
    pai = f"<sip:{PAYPHONE}@carrier.example;cpc=payphone>"
    caller = classify_caller(PAYPHONE, pres, "0", sip_identity=(pai,))
    assert caller == Caller(PAYPHONE, Presentation.PAYPHONE)
    assert caller.presented_number == "" and caller.logged == "payphone"
    # From the From header too, and as before from ANI II.
    assert classify_caller("anonymous", pres, "0", sip_identity=("", pai)).presentation is (
        Presentation.PAYPHONE
    )


def test_issue15_CALL_3_without_cpc_a_withheld_sip_caller_stays_withheld() -> None:
    plain = (f"<sip:{PAYPHONE}@carrier.example>", "<sip:anonymous@anonymous.invalid>")
    assert classify_caller(PAYPHONE, "32", "0", sip_identity=plain) == Caller(
        PAYPHONE, Presentation.WITHHELD
    )
    assert classify_caller(PAYPHONE, "0", "0", sip_identity=plain).presentation is (
        Presentation.ALLOWED
    )
