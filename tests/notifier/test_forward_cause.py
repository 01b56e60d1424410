"""Issue 15 (CALL-5, MAIL-8): a Voice Warp target the carrier refuses is forward-failed.

A switched-off mobile is refused by the carrier at once with 480: Dial()
says ``NOANSWER`` as for a target that rang out, and the call used to be
mailed as 転送. The dialplan now reports the forward leg's hang-up cause
(``${HANGUPCAUSE}`` right after the forward Dial, Q.850) and whether it
rang (``${RINGTIME}``); the notifier (``notifier.ami``) tells the two
apart with them. Here: hand-made ChakushinCall frames, and the rendered
dialplan's forward path run by the evaluator (tests/dialplan/evaluate.py)
into the notifier's parser.
"""

from __future__ import annotations

import pytest

from chakushin import bootstrap
from chakushin import config as config_mod
from dialplan import render, variables
from notifier import ami
from notifier.model import OutcomeReported
from store.models import CallOutcome
from tests.dialplan import evaluate


def forwarded(**changes: str) -> dict[str, str]:
    """UserEvent(ChakushinCall) of a forwarded call whose target did not answer."""
    return {
        "Event": "UserEvent",
        "Channel": "PJSIP/pstn-00000024",
        "CallerIDNum": "0398765432",
        "Uniqueid": "1795303015.36",
        "Linkedid": "1795303015.36",
        "UserEvent": variables.EVENT_CALL,
        "Subscriber": "0312345678",
        "Caller": "0398765432",
        "Presentation": "allowed",
        "Start": "1795303015",
        "Outcome": "forwarded",
        "DialStatus": "NOANSWER",
        "ForwardDialStatus": "NOANSWER",
        "ForwardCause": "",
        "ForwardRingTime": "",
        "Route": "decided",
    } | changes


def outcome(**changes: str) -> OutcomeReported:
    event = ami.read_event(forwarded(**changes))
    assert isinstance(event, OutcomeReported)
    return event


@pytest.mark.parametrize("cause", ["1", "3", "20", "27", "34", "38", "41", "42"])
@pytest.mark.parametrize("ring_time", ["", "0", "12"])
def test_issue15_CALL_5_an_unreachable_target_is_forward_failed(cause: str, ring_time: str) -> None:
    event = outcome(ForwardCause=cause, ForwardRingTime=ring_time)
    assert event.outcome is CallOutcome.FORWARD_FAILED
    assert event.forward_dial_status == "NOANSWER" and not event.malformed


@pytest.mark.parametrize("cause", ["18", "19"])
def test_issue15_CALL_5_no_answer_at_once_is_forward_failed_after_ringing_forwarded(
    cause: str,
) -> None:
    # 480 (cause 19) or 408 (18) before any 180 Ringing: the target never rang.
    assert outcome(ForwardCause=cause, ForwardRingTime="").outcome is CallOutcome.FORWARD_FAILED
    # The carrier's own ring timer ran out: the target rang and did not answer.
    assert outcome(ForwardCause=cause, ForwardRingTime="0").outcome is CallOutcome.FORWARDED
    assert outcome(ForwardCause=cause, ForwardRingTime="25").outcome is CallOutcome.FORWARDED


@pytest.mark.parametrize("cause", ["", "0", "16", "21", "31", "127"])
def test_issue15_CALL_5_other_causes_leave_the_dialplans_outcome(cause: str) -> None:
    assert outcome(ForwardCause=cause).outcome is CallOutcome.FORWARDED


def test_issue15_CALL_5_an_event_without_the_cause_fields_is_read_as_before() -> None:
    fields = forwarded()
    del fields["ForwardCause"], fields["ForwardRingTime"]
    event = ami.read_event(fields)
    assert isinstance(event, OutcomeReported)
    assert event.outcome is CallOutcome.FORWARDED


@pytest.mark.parametrize(
    ("dial_status", "reported"),
    [
        ("ANSWER", CallOutcome.FORWARDED),  # answered: the cause is that of the end of the call
        ("CANCEL", CallOutcome.FORWARDED),  # the caller gave up while the target rang
        ("BUSY", CallOutcome.FORWARD_FAILED),  # the dialplan's own verdict stands
    ],
)
def test_issue15_CALL_5_only_an_unanswered_forward_leg_is_read_by_its_cause(
    dial_status: str, reported: CallOutcome
) -> None:
    event = outcome(ForwardDialStatus=dial_status, ForwardCause="20", Outcome=reported.value)
    assert event.outcome is reported


def test_issue15_CALL_5_a_call_that_was_not_forwarded_keeps_its_outcome() -> None:
    event = outcome(Outcome="unanswered", ForwardDialStatus="", ForwardCause="20")
    assert event.outcome is CallOutcome.UNANSWERED


@pytest.mark.parametrize(
    "changes",
    [
        {"ForwardCause": "20\r\nOutcome: answered"},
        {"ForwardCause": "twenty"},
        {"ForwardCause": "1234"},
        {"ForwardCause": "-20"},
        {"ForwardRingTime": "1e9"},
        {"ForwardRingTime": "9" * 13},
        {"ForwardRingTime": "５"},
    ],
)
def test_issue15_CALL_5_a_cause_or_ring_time_that_is_no_number_is_malformed(
    changes: dict[str, str],
) -> None:
    event = outcome(**changes)
    assert event.malformed == ami.MALFORMED_DIAL_STATUS
    assert event.caller_number == ""


# --- the rendered dialplan's forward path, into the notifier ---------------------------------

CONTEXTS = evaluate.parse_contexts(
    render.render(bootstrap.dialplan_settings(config_mod.load(env={})))
)


def forward_event(hangupcause: str, ringtime: str) -> dict[str, str]:
    """One call the routing AGI forwards at once; its forward Dial ends NOANSWER so."""
    channel = evaluate.Channel("0398765432")
    channel.variables |= {
        # What the forward Dial leaves (the evaluator's Dial sets only DIALSTATUS).
        "HANGUPCAUSE": hangupcause,
        "RINGTIME": ringtime,
        variables.ACTION: variables.ACTION_FORWARD,
        variables.FORWARD_DIAL: "PJSIP/09012345678@pstn",
        variables.PRESENTATION: "allowed",
        variables.CALLER: "0398765432",
        variables.ROUTE: "decided",
    }
    evaluate.run(CONTEXTS, variables.CONTEXT_SUBSCRIBERS, channel)
    evaluate.run(CONTEXTS, variables.CONTEXT_CALL_END, channel)
    [(name, body)] = channel.events
    assert name == variables.EVENT_CALL
    return dict(evaluate.user_event_fields(body))


def test_issue15_CALL_5_the_dialplan_reports_the_forward_legs_cause_and_ring_time() -> None:
    event = forward_event("19", "")
    assert (event["Outcome"], event["ForwardDialStatus"]) == ("forwarded", "NOANSWER")
    assert (event["ForwardCause"], event["ForwardRingTime"]) == ("19", "")
    assert forward_event("19", "21")["ForwardRingTime"] == "21"


@pytest.mark.parametrize(
    ("hangupcause", "ringtime", "reported"),
    [
        ("19", "", CallOutcome.FORWARD_FAILED),  # 480 at once: switched off
        ("20", "", CallOutcome.FORWARD_FAILED),  # 480 with Reason: Q.850;cause=20
        ("19", "21", CallOutcome.FORWARDED),  # rang 21 s, then the carrier's 480
    ],
)
def test_issue15_CALL_5_dialplan_and_notifier_together(
    hangupcause: str, ringtime: str, reported: CallOutcome
) -> None:
    fields = {"Event": "UserEvent", "UserEvent": variables.EVENT_CALL, "Linkedid": "1.2"}
    event = ami.read_event(fields | forward_event(hangupcause, ringtime))
    assert isinstance(event, OutcomeReported)
    assert event.outcome is reported
