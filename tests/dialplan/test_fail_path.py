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
from store import validation
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
        "+81398765432",
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
        hostile_text, st.from_regex(r"\A0[0-9]{5,25}\Z"), st.sampled_from(BOUNDARY_TEXT)
    ),
    pres=st.sampled_from(PRESENTATIONS),
)
def test_item1_MAIL_9_fail_path_caller_is_what_the_notifier_accepts(
    callerid: str, pres: str
) -> None:
    event = fail_path_event(callerid, pres)
    expected = callerid if pres.startswith("allowed") and is_caller_number(callerid) else ""
    assert event["Caller"] == expected
    assert event["Presentation"] in ("allowed", "withheld", "unavailable")
    assert (event["Presentation"] == "allowed") == bool(expected)


def test_item1_the_fail_path_tests_the_caller_with_the_notifiers_rule() -> None:
    """The REGEX the dialplan uses is the caller-number rule of store.validation."""
    pattern = variables.CALLER_NUMBER_REGEX
    assert pattern.startswith("^") and pattern.endswith("$")
    for value in ["0" * n for n in range(8, 21)] + ["1" + "0" * 10, "0312345678"]:
        assert bool(re.fullmatch(pattern[1:-1], value)) == is_caller_number(value), value
    steps = CONTEXTS[variables.CONTEXT_SUBSCRIBERS] + CONTEXTS[variables.CONTEXT_CALL_END]
    uses = [i for i, (_, _, data) in enumerate(steps) if "${CALLERID(num)}" in data]
    # CALLERID(num) is read twice: by the REGEX test, and two steps later (only
    # reached when the test passed) into CHAKUSHIN_CALLER.
    assert len(uses) == 2
    test, use = (steps[i] for i in uses)
    assert test[1] == "GotoIf"
    assert test[2].startswith(f'$["${{REGEX("{pattern}" ${{CALLERID(num)}})}}" != "1"]?')
    assert use == ("", "Set", f"{variables.CALLER}=${{CALLERID(num)}}")
    assert uses[1] - uses[0] == 2 and steps[uses[0] + 1][1] == "Set"
