"""The recorded Asterisk 22 AMI streams, as chakushin's dialplan would have them.

These are the recordings the tests and ``chakushin demo`` replay through
the loopback AMI server (``chakushin.demo.amiserver``). They ship with the
package in ``traces/`` beside this module: byte-identical copies of the
streams in ../shared/ami-traces/, recorded from Asterisk 22.10.1 (how, and
what each scenario is: ``traces/README.md``).

They were recorded with a reference dialplan that marks its verdict with
``UserEvent(TestCallOutcome)``. ``chakushin_stream`` keeps every other
frame byte for byte, drops that marker, and puts in its place the
``UserEvent(ChakushinCall)`` that chakushin's hangup handler publishes
(dialplan/render.py), just before the caller channel's Hangup, with the
outcome the scenario produced. That event's subscriber and caller numbers
can be chosen per call (``chakushin_frames``, ``renumbered``); the recorded
frames themselves keep the numbers they were recorded with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dialplan import variables

TRACES = Path(__file__).parent / "traces"
SUBSCRIBER = "0312345678"
CALLER = "0398765432"
START = 1795303015


@dataclass(frozen=True)
class Scenario:
    outcome: str
    presentation: str = "allowed"
    dial_status: str = ""
    forward_dial_status: str = ""
    # Issue 15: ${HANGUPCAUSE} and ${RINGTIME} after the forward Dial, as the
    # dialplan reports them (empty: not forwarded, or the Dial never returned).
    forward_cause: str = ""
    forward_ring_time: str = ""
    # Issue 17: the queue the call waited in, its ${QUEUESTATUS}, and who
    # answered as the hangup handler saw it (a ring group's answered device;
    # a queue member only with setinterfacevar = yes, which the recordings'
    # queues.conf does not set: the notifier reads the member's AgentConnect).
    queue: str = ""
    queue_status: str = ""
    answered_by: str = ""


SCENARIOS = {
    "answered": Scenario("answered", dial_status="ANSWER"),
    "no_answer_timeout": Scenario("unanswered", dial_status="NOANSWER"),
    "caller_hangs_up_ringing": Scenario("unanswered", dial_status="CANCEL"),
    "busy": Scenario("busy", dial_status="BUSY"),
    "unreachable": Scenario("unanswered", dial_status="CONGESTION"),
    "anonymous_answered": Scenario("answered", "withheld", dial_status="ANSWER"),
    "anonymous_rejected": Scenario("rejected_anonymous", "withheld"),
    "nuisance_rejected": Scenario("rejected_nuisance"),
    "forwarded_answered": Scenario("forwarded", forward_dial_status="ANSWER"),
    "forward_busy": Scenario(
        "forward_failed", dial_status="NOANSWER", forward_dial_status="BUSY", forward_cause="17"
    ),
    # The reference Dial's own 3 s ran out: no cause was copied, no 180 came.
    "forward_no_answer": Scenario(
        "forwarded", dial_status="NOANSWER", forward_dial_status="NOANSWER", forward_cause="0"
    ),
    # Issue 17, the office recordings (traces/README.md): one Dial to three
    # phones, the third (Local/answer@phones) answers ...
    "ring_group_answered": Scenario(
        "answered", dial_status="ANSWER", answered_by="Local/answer@phones"
    ),
    # ... or none does within the ring time;
    "ring_group_no_answer": Scenario("unanswered", dial_status="NOANSWER"),
    # the queue "office": its second member answers (AgentConnect
    # Local/answer@phones/n; no Dial, so no DialStatus) ...
    "queue_answered": Scenario("answered", queue="office"),
    # ... the caller hangs up while the members ring (ABANDONED, no QUEUESTATUS) ...
    "queue_caller_abandons": Scenario("unanswered", queue="office"),
    # ... or Queue()'s own timeout runs out.
    "queue_timeout": Scenario("unanswered", queue="office", queue_status="TIMEOUT"),
}


def frames(name: str) -> tuple[bytes, list[bytes]]:
    """The banner line and the raw frames (without their blank line) of a trace."""
    data = (TRACES / f"{name}.ami").read_bytes()
    banner, _, rest = data.partition(b"\r\n")
    return banner + b"\r\n", [f for f in rest.split(b"\r\n\r\n") if f.strip()]


def _header(frame: bytes, name: str) -> str | None:
    match = re.search(rb"^" + name.encode() + rb": ?(.*)$", frame, re.M)
    return match.group(1).decode().rstrip("\r") if match else None


def linkedid_of(name: str) -> str:
    _, fs = frames(name)
    return next(_header(f, "Linkedid") for f in fs if _header(f, "Event") == "Newchannel")  # type: ignore[return-value]


def outcome_frame(
    name: str,
    linkedid: str,
    *,
    subscriber: str = SUBSCRIBER,
    caller: str = CALLER,
    start: int = START,
) -> bytes:
    s = SCENARIOS[name]
    values = {
        variables.SUBSCRIBER: subscriber,
        variables.CALLER: caller if s.presentation == "allowed" else "",
        variables.PRESENTATION: s.presentation,
        variables.START: str(start),
        variables.OUTCOME: s.outcome,
        variables.DIALSTATUS: s.dial_status,
        variables.FORWARD_DIALSTATUS: s.forward_dial_status,
        variables.FORWARD_CAUSE: s.forward_cause,
        variables.FORWARD_RINGTIME: s.forward_ring_time,
        variables.ROUTE: "decided",
        variables.QUEUE: s.queue,
        variables.QUEUESTATUS: s.queue_status,
        variables.ANSWERED_BY: s.answered_by,
    }
    lines = [
        "Event: UserEvent",
        "Privilege: user,all",
        f"Channel: PJSIP/trunk-{linkedid}",
        "ChannelState: 6",
        "ChannelStateDesc: Up",
        f"CallerIDNum: {caller}",
        "CallerIDName: <unknown>",
        "Language: ja",
        "AccountCode: ",
        f"Context: {variables.CONTEXT_CALL_END}",
        "Exten: s",
        "Priority: 9",
        f"Uniqueid: {linkedid}",
        f"Linkedid: {linkedid}",
        f"UserEvent: {variables.EVENT_CALL}",
        *(f"{field}: {values[var]}" for field, var in variables.EVENT_FIELDS.items()),
    ]
    return "\r\n".join(lines).encode("utf-8")


def chakushin_frames(
    name: str, *, subscriber: str = SUBSCRIBER, caller: str = CALLER, start: int = START
) -> list[bytes]:
    """The trace's frames with chakushin's outcome event instead of the reference marker.

    ``subscriber``, ``caller`` and ``start`` (Unix seconds) go into that
    event only (see ``outcome_frame``).
    """
    _, fs = frames(name)
    linkedid = linkedid_of(name)
    kept = [f for f in fs if _header(f, "UserEvent") != "TestCallOutcome"]
    caller_hangup = max(
        i
        for i, f in enumerate(kept)
        if _header(f, "Event") == "Hangup" and _header(f, "Uniqueid") == linkedid
    )
    outcome = outcome_frame(name, linkedid, subscriber=subscriber, caller=caller, start=start)
    return [*kept[:caller_hangup], outcome, *kept[caller_hangup:]]


def chakushin_stream(name: str) -> bytes:
    banner, _ = frames(name)
    return banner + b"".join(f + b"\r\n\r\n" for f in chakushin_frames(name))


def renumbered(
    name: str,
    index: int,
    *,
    subscriber: str = SUBSCRIBER,
    caller: str = CALLER,
    start: int = START,
) -> tuple[str, list[bytes]]:
    """Call ``index`` of a burst: the trace with every id moved to its own prefix.

    Asterisk ids are "<epoch>.<counter>"; giving each call its own epoch
    makes its Linkedid and Uniqueids unique. ``subscriber`` and ``caller``
    go into the call's ChakushinCall event (see ``chakushin_frames``).
    Returns (linkedid, the event frames, each with its blank line, ready to
    stream).
    """
    old = linkedid_of(name).split(".")[0]
    new = str(1_800_000_000 + index)
    frames_ = [
        f.replace(old.encode() + b".", new.encode() + b".") + b"\r\n\r\n"
        for f in chakushin_frames(name, subscriber=subscriber, caller=caller, start=start)
        if f.startswith(b"Event: ")
    ]
    return linkedid_of(name).replace(old, new, 1), frames_
