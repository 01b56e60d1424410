"""Issue 12 item 1 (CALL-5, MAIL-9): the fail path's UserEvent carries only a validated caller.

When the routing AGI sets nothing (AGI server or database down), the
dialplan itself fills the event's Caller and Presentation. The rendered
dialplan is run here by a small evaluator (``tests.dialplan.evaluate``)
that substitutes and splits the way Asterisk does, with hostile caller
IDs: the event must carry exactly the documented fields, and a Caller that
is empty or a caller number the notifier accepts
(``store.validation.diallable_number``), presented only when allowed.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chakushin import bootstrap
from chakushin import config as config_mod
from dialplan import render, variables
from store import caller_number, validation
from store.errors import InvalidInput
from tests.dialplan import evaluate
from tests.hostile.conftest import BOUNDARY_TEXT, hostile_text

PRESENTATIONS = [
    "allowed_not_screened",
    "allowed_passed_screen",
    "allowed_failed_screen",
    "allowed",
    "prohib_not_screened",
    "prohib_passed_screen",
    "prohib_failed_screen",
    "prohib",
    "unavailable",
]
CONTEXTS = evaluate.parse_contexts(
    render.render(bootstrap.dialplan_settings(config_mod.load(env={})))
)


def fail_path_event(
    callerid: str, pres: str = "allowed_not_screened", ani2: str = "0"
) -> dict[str, str]:
    """One call whose routing AGI fails, hung up after the fallback Dial(): its event."""
    channel = evaluate.Channel(callerid, pres, ani2)
    evaluate.run(CONTEXTS, variables.CONTEXT_SUBSCRIBERS, channel)
    evaluate.run(CONTEXTS, variables.CONTEXT_CALL_END, channel)
    [(name, body)] = channel.events
    assert name == variables.EVENT_CALL
    fields = evaluate.user_event_fields(body)
    assert [f for f, _ in fields] == list(variables.EVENT_FIELDS), body  # nothing injected
    return dict(fields)


def is_caller_number(value: str) -> bool:
    try:
        validation.diallable_number(value)
    except InvalidInput:
        return False
    return True


def test_item1_CALL_5_fail_path_event_carries_a_presented_valid_caller() -> None:
    event = fail_path_event("0398765432")
    assert (event["Caller"], event["Presentation"]) == ("0398765432", "allowed")
    assert event["Route"] == "agi_failed" and event["Outcome"] == "unanswered"


@pytest.mark.parametrize(
    "callerid",
    [
        "0" * 33,
        "03987654321234567890123456789012",
        "0398765432\r\nEvent: Fake",
        "0398765432,Outcome: answered",
        "0398765432:x",
        "+810398765432",  # the national 0 kept after +81: no Japanese number
        "+8139876543",
        "+14155550100",
        "81398765432",  # E.164 without +: only where configured (below)
        "+81398765432,Outcome: answered",
        "anonymous",
        "",
        "03-9876-5432",
        "０３９８７６５４３２",
        "0398765432\x00",
        "0398765432\n",
    ],
)
def test_item1_MAIL_9_fail_path_event_never_carries_an_invalid_caller(callerid: str) -> None:
    event = fail_path_event(callerid)
    assert event["Caller"] == ""
    assert event["Presentation"] == "unavailable"


@pytest.mark.parametrize(
    "callerid", ["+81398765432", "0081398765432", "+819012345678", "00819012345678"]
)
def test_issue14_MAIL_9_fail_path_reads_japanese_e164_in_the_national_form(callerid: str) -> None:
    """CALL-2, MAIL-5, MAIL-9: as the routing AGI does (store.caller_number)."""
    event = fail_path_event(callerid)
    assert (event["Caller"], event["Presentation"]) == (
        caller_number.national_form(callerid),
        "allowed",
    )
    assert event["Caller"].startswith("0") and is_caller_number(event["Caller"])
    # A withheld E.164 caller stays withheld, its number not sent.
    assert (fail_path_event(callerid, "prohib")["Caller"]) == ""


def test_issue14_MAIL_9_fail_path_reads_81_without_plus_only_where_configured() -> None:
    configured = evaluate.parse_contexts(
        render.render(
            bootstrap.dialplan_settings(
                config_mod.load(env={"CHAKUSHIN_CALL_E164_WITHOUT_PLUS": "true"})
            )
        )
    )
    channel = evaluate.Channel("81398765432", "allowed_not_screened", "0")
    evaluate.run(configured, variables.CONTEXT_SUBSCRIBERS, channel)
    evaluate.run(configured, variables.CONTEXT_CALL_END, channel)
    [(_, body)] = channel.events
    assert dict(evaluate.user_event_fields(body))["Caller"] == "0398765432"
    assert fail_path_event("81398765432")["Caller"] == ""  # the default: not read


@pytest.mark.parametrize("pres", [p for p in PRESENTATIONS if not p.startswith("allowed")])
def test_item1_MAIL_9_fail_path_event_never_carries_a_withheld_caller(pres: str) -> None:
    event = fail_path_event("0398765432", pres)
    assert event["Caller"] == ""
    assert event["Presentation"] == ("unavailable" if pres == "unavailable" else "withheld")


@pytest.mark.parametrize("ani2", ["27", "70"])
def test_item1_CALL_3_fail_path_reports_a_payphone_as_the_routing_agi_does(ani2: str) -> None:
    event = fail_path_event("0398765432", ani2=ani2)
    assert (event["Caller"], event["Presentation"]) == ("", "payphone")


@given(
    callerid=st.one_of(
        hostile_text,
        st.from_regex(r"\A0[0-9]{5,25}\Z"),
        st.from_regex(r"\A(\+|00)?81[0-9]{7,12}\Z"),
        st.sampled_from(BOUNDARY_TEXT),
    ),
    pres=st.sampled_from(PRESENTATIONS),
)
def test_item1_MAIL_9_fail_path_caller_is_what_the_notifier_accepts(
    callerid: str, pres: str
) -> None:
    event = fail_path_event(callerid, pres)
    national = caller_number.national_form(callerid)
    expected = national if pres.startswith("allowed") and is_caller_number(national) else ""
    assert event["Caller"] == expected
    assert event["Presentation"] in ("allowed", "withheld", "unavailable")
    assert (event["Presentation"] == "allowed") == bool(expected)


def test_item1_the_fail_path_tests_the_caller_with_the_notifiers_rule() -> None:
    """The REGEX the dialplan uses is the caller-number rule of store.validation;
    the E.164 forms' are store.caller_number's (issue 14)."""
    pattern = variables.CALLER_NUMBER_REGEX
    assert pattern.startswith("^") and pattern.endswith("$")
    for value in ["0" * n for n in range(8, 21)] + ["1" + "0" * 10, "0312345678"]:
        assert bool(re.fullmatch(pattern[1:-1], value)) == is_caller_number(value), value
    forms = (*variables.CALLER_E164_FORMS, variables.CALLER_E164_WITHOUT_PLUS)
    samples = [
        f"{prefix}{digits}"
        for prefix in ("+81", "0081", "81", "+1", "810", "")
        for digits in ("39876543", "398765432", "9012345678", "90123456789", "0398765432")
    ]
    for sample in samples:
        read = [f"0{sample[cut:]}" for _, regex, cut in forms if re.fullmatch(regex[1:-1], sample)]
        national = caller_number.national_form(sample, e164_without_plus=True)
        assert read == ([national] if national != sample else []), sample
    steps = CONTEXTS[variables.CONTEXT_SUBSCRIBERS] + CONTEXTS[variables.CONTEXT_CALL_END]
    uses = [step for step in steps if "${CALLERID(num)" in step[2]]
    # CALLERID(num) is read by the REGEX tests, and into CHAKUSHIN_CALLER only
    # where a test sent the call: right after the national test passed, or at
    # the label of the E.164 form whose test matched.
    tests = [step for step in uses if step[1] == "GotoIf"]
    assert [t[2] for t in tests] == [
        *(
            f'$["${{REGEX("{regex}" ${{CALLERID(num)}})}}" = "1"]?{label}'
            for label, regex, _ in variables.CALLER_E164_FORMS
        ),
        f'$["${{REGEX("{pattern}" ${{CALLERID(num)}})}}" != "1"]?fallback',
    ]
    sets = [step for step in uses if step[1] != "GotoIf"]
    assert sets == [
        ("", "Set", f"{variables.CALLER}=${{CALLERID(num)}}"),
        *(
            (label, "Set", f"{variables.CALLER}=0${{CALLERID(num):{cut}}}")
            for label, _, cut in variables.CALLER_E164_FORMS
        ),
    ]
    national_set = steps.index(sets[0])
    assert steps[national_set - 1] == tests[-1]
