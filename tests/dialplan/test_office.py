"""Issue 17 (CALL-1, CALL-4, CALL-5, MAIL-4): office numbers in the dialplan.

A number rings several devices at once (one Dial() of ``PJSIP/201&PJSIP/202``)
or waits in an Asterisk queue (Queue()). The rendered dialplan is run by
``tests.dialplan.evaluate`` with what Asterisk leaves on the caller's channel
as the recordings in ``../shared/ami-traces/`` show it (ring_group_*.ami,
queue_*.ami): a ring group's one DIALSTATUS and the DIALEDPEERNAME /
DIALEDPEERNUMBER of the leg that answered; a queue's QUEUESTATUS (set only
when the caller leaves unanswered by the queue's doing), ABANDONED (TRUE
when no member answered) and MEMBERINTERFACE (with ``setinterfacevar``).
The hangup handler's event decides the outcome once per call: answered when
anyone answered (so MAIL-4's "unanswered only" sends nothing), busy when the
queue was full or every phone busy, else unanswered; Voice Warp forwards a
queue that timed out (no answer) or was full (busy).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chakushin import bootstrap
from chakushin import config as config_mod
from chakushin.demo import recordings
from dialplan import render
from dialplan import variables as v
from notifier import ami
from store import validation
from store.errors import InvalidInput
from tests.dialplan import evaluate
from tests.dialplan.asterisk_config import Section, parse_file
from tests.dialplan.lint_helpers import lint
from tests.hostile.conftest import BOUNDARY_TEXT, hostile_text

ROOT = Path(__file__).parents[2]
QUEUES_SAMPLE = ROOT / "asterisk-conf" / "queues_chakushin_sample.conf"
NUMBER = "0312345678"
PLAN = evaluate.parse_contexts(render.render(bootstrap.dialplan_settings(config_mod.load(env={}))))
DECIDED = {v.ROUTE: "decided", v.PRESENTATION: "allowed", v.CALLER: "0398765432"}
# ring_group_answered.ami: three phones in one Dial; the third answers.
RING_GROUP = "Local/noanswer@phones&Local/busy@phones&Local/answer@phones"
RING = {**DECIDED, v.ACTION: v.ACTION_RING, v.DIAL: RING_GROUP, v.RING_SECONDS: "30"}
QUEUE = {**DECIDED, v.ACTION: v.ACTION_QUEUE, v.QUEUE: "sales", v.QUEUE_SECONDS: "30"}
FORWARD = "PJSIP/09011112222@pstn"


def call(action: dict[str, str], **channel: object) -> tuple[evaluate.Channel, dict[str, str]]:
    """One call to NUMBER as the routing AGI set ``action``; the channel and its event."""
    ch = evaluate.Channel("0398765432", **channel)  # type: ignore[arg-type]
    ch.variables.update(action)
    evaluate.run(PLAN, v.CONTEXT_SUBSCRIBERS, ch, exten=NUMBER)
    evaluate.run(PLAN, v.CONTEXT_CALL_END, ch)
    [(name, body)] = ch.events
    assert name == v.EVENT_CALL
    fields = evaluate.user_event_fields(body)
    assert [f for f, _ in fields] == list(v.EVENT_FIELDS), body  # nothing injected
    return ch, dict(fields)


def with_voice_warp(action: dict[str, str], forward_on: str) -> dict[str, str]:
    return {**action, v.FORWARD_ON: forward_on, v.FORWARD_DIAL: FORWARD}


# --- ring groups: one Dial() of several devices --------------------------------------------


@pytest.mark.parametrize(
    ("dial", "peer_name", "peer_number", "answered_by"),
    [
        # as ring_group_answered.ami leaves them on the caller's channel
        (RING_GROUP, "Local/answer@phones-00000003;1", "answer@phones", "Local/answer@phones"),
        ("PJSIP/201&PJSIP/202&PJSIP/203", "PJSIP/203-0000000a", "203", "PJSIP/203"),
    ],
)
def test_issue17_CALL_1_CALL_5_MAIL_4_ring_group_answered_by_the_third_phone(
    dial: str, peer_name: str, peer_number: str, answered_by: str
) -> None:
    ch, event = call(
        {**RING, v.DIAL: dial},
        dialstatus="ANSWER",
        dial_result={
            "HANGUPCAUSE": "16",
            "DIALEDPEERNAME": peer_name,
            "DIALEDPEERNUMBER": peer_number,
        },
    )
    assert ch.dialled == [dial]  # one Dial() rings them all, "&" and all
    assert ch.hangup == str(v.CAUSE_NORMAL_CLEARING)
    assert (event["Outcome"], event["DialStatus"]) == ("answered", "ANSWER")
    assert event["AnsweredBy"] == answered_by
    assert (event["Queue"], event["QueueStatus"]) == ("", "")


def test_issue17_CALL_4_CALL_5_ring_group_nobody_answers() -> None:
    """ring_group_no_answer.ami: DIALSTATUS NOANSWER, no peer."""
    ch, event = call(RING, dialstatus="NOANSWER", dial_result={"DIALEDPEERNAME": ""})
    assert ch.dialled == [RING_GROUP]
    assert ch.hangup == str(v.CAUSE_NO_ANSWER)
    assert (event["Outcome"], event["DialStatus"], event["AnsweredBy"]) == (
        "unanswered",
        "NOANSWER",
        "",
    )


def test_issue17_CALL_4_CALL_5_all_phones_busy_is_busy_and_voice_warp_busy_forwards() -> None:
    ch, event = call(RING, legs=[("BUSY", "17")])
    assert ch.hangup == str(v.CAUSE_BUSY)
    assert (event["Outcome"], event["DialStatus"], event["AnsweredBy"]) == ("busy", "BUSY", "")
    ch, event = call(
        with_voice_warp(RING, v.FORWARD_ON_BUSY), legs=[("BUSY", "17"), ("ANSWER", "16")]
    )
    assert ch.dialled == [RING_GROUP, FORWARD]
    assert (event["Outcome"], event["DialStatus"], event["ForwardDialStatus"]) == (
        "forwarded",
        "BUSY",
        "ANSWER",
    )
    assert event["AnsweredBy"] == ""  # the office did not answer: the target did


def test_issue17_CALL_1_the_fail_path_rings_a_stored_ring_group() -> None:
    stored = {f"{v.ASTDB_ENDPOINT}/{NUMBER}": "PJSIP/201&PJSIP/202"}
    ch, event = call(
        {},
        astdb=stored,
        dialstatus="ANSWER",
        dial_result={"DIALEDPEERNAME": "PJSIP/202-00000001", "DIALEDPEERNUMBER": "202"},
    )
    assert ch.dialled == ["PJSIP/201&PJSIP/202"]
    assert ch.queued == []
    assert (event["Route"], event["Outcome"], event["AnsweredBy"]) == (
        "agi_failed",
        "answered",
        "PJSIP/202",
    )


# --- queues: Queue() ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    [
        "",  # queue_answered.ami: setinterfacevar off (the notifier reads AgentConnect)
        "PJSIP/201",
        "Local/answer@phones/n",
    ],
)
def test_issue17_CALL_1_CALL_5_MAIL_4_queue_answered(member: str) -> None:
    """queue_answered.ami: QUEUESTATUS empty, no ABANDONED: a member answered."""
    result = {"MEMBERINTERFACE": member} if member else {}
    ch, event = call(QUEUE, queue_result=result)
    assert ch.queued == [f"sales,{v.QUEUE_OPTIONS},,,30"]
    assert ch.dialled == []
    assert ch.left_in == "Queue" and ch.hangup is None  # the call ended in the queue
    assert (event["Outcome"], event["Queue"], event["QueueStatus"]) == ("answered", "sales", "")
    assert event["DialStatus"] == ""  # no Dial()
    assert event["AnsweredBy"] == member


def test_issue17_CALL_5_MAIL_4_caller_abandons_in_the_queue() -> None:
    """queue_caller_abandons.ami: ABANDONED=TRUE, QUEUESTATUS empty."""
    ch, event = call(QUEUE, queue_result={"ABANDONED": "TRUE"})
    assert ch.left_in == "Queue"
    assert (event["Outcome"], event["QueueStatus"], event["AnsweredBy"]) == ("unanswered", "", "")


def test_issue17_CALL_4_CALL_5_queue_timeout_is_unanswered() -> None:
    """queue_timeout.ami: QUEUESTATUS=TIMEOUT, ABANDONED=TRUE; ends 19 (480)."""
    ch, event = call(QUEUE, queue_result={"QUEUESTATUS": "TIMEOUT", "ABANDONED": "TRUE"})
    assert ch.dialled == []
    assert ch.hangup == str(v.CAUSE_NO_ANSWER)
    assert (event["Outcome"], event["QueueStatus"], event["Queue"]) == (
        "unanswered",
        "TIMEOUT",
        "sales",
    )
    # Voice Warp on busy does not forward a queue that timed out.
    ch, event = call(
        with_voice_warp(QUEUE, v.FORWARD_ON_BUSY),
        queue_result={"QUEUESTATUS": "TIMEOUT", "ABANDONED": "TRUE"},
    )
    assert (ch.dialled, ch.hangup, event["Outcome"]) == ([], "19", "unanswered")


@pytest.mark.parametrize(
    ("leg", "outcome", "cause"),
    [(("ANSWER", "16"), "forwarded", "16"), (("BUSY", "17"), "forward_failed", "17")],
)
def test_issue17_CALL_4_CALL_5_MAIL_4_queue_timeout_then_voice_warp(
    leg: tuple[str, str], outcome: str, cause: str
) -> None:
    ch, event = call(
        with_voice_warp(QUEUE, v.FORWARD_ON_NOANSWER),
        queue_result={"QUEUESTATUS": "TIMEOUT", "ABANDONED": "TRUE"},
        legs=[leg],
    )
    assert ch.queued == [f"sales,{v.QUEUE_OPTIONS},,,30"]
    assert ch.dialled == [FORWARD]
    assert ch.hangup == cause
    assert (event["Outcome"], event["ForwardDialStatus"]) == (outcome, leg[0])
    assert (event["Queue"], event["QueueStatus"], event["AnsweredBy"]) == ("sales", "TIMEOUT", "")


def test_issue17_CALL_4_CALL_5_a_full_queue_is_busy_and_voice_warp_busy_forwards() -> None:
    ch, event = call(QUEUE, queue_result={"QUEUESTATUS": "FULL"})
    assert (ch.dialled, ch.hangup) == ([], str(v.CAUSE_BUSY))
    assert (event["Outcome"], event["QueueStatus"]) == ("busy", "FULL")
    ch, event = call(
        with_voice_warp(QUEUE, v.FORWARD_ON_NOANSWER), queue_result={"QUEUESTATUS": "FULL"}
    )
    assert (ch.dialled, event["Outcome"]) == ([], "busy")  # no answer is not busy
    ch, event = call(
        with_voice_warp(QUEUE, v.FORWARD_ON_BUSY),
        queue_result={"QUEUESTATUS": "FULL"},
        legs=[("ANSWER", "16")],
    )
    assert ch.dialled == [FORWARD]
    assert (event["Outcome"], event["QueueStatus"]) == ("forwarded", "FULL")


@pytest.mark.parametrize("status", sorted(v.QUEUE_STATUS_AS_DIAL))
@pytest.mark.parametrize("forward_on", ["", v.FORWARD_ON_NOANSWER, v.FORWARD_ON_BUSY])
def test_issue17_CALL_4_every_queue_status_ends_as_the_phone_status_it_stands_for(
    status: str, forward_on: str
) -> None:
    """JOINEMPTY & co. (no member to ring): unreachable, cause 20, never forwarded."""
    action = with_voice_warp(QUEUE, forward_on) if forward_on else QUEUE
    ch, event = call(action, queue_result={"QUEUESTATUS": status}, legs=[("ANSWER", "16")])
    as_dial = v.QUEUE_STATUS_AS_DIAL[status]
    forwards = (status, forward_on) in (("TIMEOUT", "noanswer"), ("FULL", "busy"))
    assert ch.dialled == ([FORWARD] if forwards else [])
    if not forwards:
        assert ch.hangup == str(v.HANGUP_CAUSES[as_dial])
        assert event["Outcome"] == ("busy" if as_dial == "BUSY" else "unanswered")
    assert event["QueueStatus"] == status


def test_issue17_CALL_4_joinempty_is_unreachable() -> None:
    ch, event = call(QUEUE, queue_result={"QUEUESTATUS": "JOINEMPTY"})
    assert ch.hangup == str(v.CAUSE_SUBSCRIBER_ABSENT)
    assert (event["Outcome"], event["QueueStatus"]) == ("unanswered", "JOINEMPTY")


def test_issue17_CALL_1_the_fail_path_waits_in_the_stored_queue_without_voice_warp() -> None:
    stored = {
        f"{v.ASTDB_QUEUE}/{NUMBER}": "sales",
        f"{v.ASTDB_ENDPOINT}/{NUMBER}": "PJSIP/201",  # the queue wins (the AGI removes it)
    }
    ch, event = call({}, astdb=stored, queue_result={})
    assert ch.queued == [f"sales,{v.QUEUE_OPTIONS},,,{v.FALLBACK_QUEUE_SECONDS}"]
    assert ch.dialled == []
    assert (event["Route"], event["Outcome"], event["Queue"]) == ("agi_failed", "answered", "sales")
    # A Voice Warp left half set by a broken AGI session does not forward.
    ch, event = call(
        {v.FORWARD_ON: v.FORWARD_ON_NOANSWER, v.FORWARD_DIAL: FORWARD},
        astdb=stored,
        queue_result={"QUEUESTATUS": "TIMEOUT", "ABANDONED": "TRUE"},
    )
    assert (ch.dialled, ch.hangup) == ([], str(v.CAUSE_NO_ANSWER))
    assert (event["Outcome"], event["QueueStatus"]) == ("unanswered", "TIMEOUT")
    # Another number's queue is not this one's.
    ch, _ = call({}, astdb={f"{v.ASTDB_QUEUE}/0312345679": "sales"})
    assert (ch.queued, ch.dialled) == ([], [f"PJSIP/{NUMBER}"])


def test_issue17_CALL_5_a_queue_call_that_never_reached_the_queue_is_unanswered() -> None:
    """The caller hung up before Queue() ran (no QUEUED): not an answer."""
    ch = evaluate.Channel("0398765432")
    ch.variables.update(QUEUE)
    evaluate.run(PLAN, v.CONTEXT_CALL_END, ch)
    [(_, body)] = ch.events
    event = dict(evaluate.user_event_fields(body))
    assert (event["Outcome"], event["AnsweredBy"]) == ("unanswered", "")


# --- MAIL-9: who answered cannot add event fields -------------------------------------------


def is_interface(value: str) -> bool:
    try:
        validation.interface(value)
    except InvalidInput:
        return False
    return True


HOSTILE_PEERS = [
    "PJSIP/201,Outcome: busy",
    "PJSIP/201,AnsweredBy: PJSIP/999",
    "PJSIP/201\r\nEvent: Fake",
    "PJSIP/201\n",
    "PJSIP/201 x",
    "PJSIP/201: x",
    "Local/a:b@phones/n",  # a colon alone adds nothing: a valid interface
    "PJSIP/" + "2" * 200,
    "受付",
    "",
]


@pytest.mark.parametrize("member", HOSTILE_PEERS)
def test_issue17_MAIL_9_a_hostile_member_interface_cannot_add_event_fields(member: str) -> None:
    _, event = call(QUEUE, queue_result={"MEMBERINTERFACE": member})
    assert event["Outcome"] == "answered"
    assert event["AnsweredBy"] == (member if is_interface(member) else "")


@pytest.mark.parametrize("peer", HOSTILE_PEERS)
def test_issue17_MAIL_9_a_hostile_dialled_peer_cannot_add_event_fields(peer: str) -> None:
    _, event = call(
        RING,
        dialstatus="ANSWER",
        dial_result={"DIALEDPEERNAME": "PJSIP/x-00000001", "DIALEDPEERNUMBER": peer},
    )
    answered_by = f"PJSIP/{peer}"
    assert event["AnsweredBy"] == (answered_by if is_interface(answered_by) else "")


@given(
    value=st.one_of(
        hostile_text,
        st.from_regex(r"\A[A-Za-z]{1,17}/[A-Za-z0-9._@:+#/,-]{0,90}\Z"),
        st.sampled_from(BOUNDARY_TEXT),
    )
)
def test_issue17_MAIL_9_answered_by_is_what_the_notifier_accepts(value: str) -> None:
    _, queued = call(QUEUE, queue_result={"MEMBERINTERFACE": value})
    _, rang = call(
        RING,
        dialstatus="ANSWER",
        dial_result={"DIALEDPEERNAME": "Local/x-1;1", "DIALEDPEERNUMBER": value},
    )
    assert queued["AnsweredBy"] == (value if is_interface(value) else "")
    local = f"Local/{value}"
    assert rang["AnsweredBy"] == (local if is_interface(local) else "")


def test_issue17_the_dialplan_tests_who_answered_with_the_notifiers_rule() -> None:
    pattern = v.INTERFACE_REGEX
    assert pattern.startswith("^") and pattern.endswith("$")
    samples = [
        "PJSIP/201",
        "Local/desk@phones/n",
        "P/1",
        "A" * 16 + "/1",
        "A" * 17 + "/1",
        "PJSIP/" + "1" * 94,
        "PJSIP/" + "1" * 95,
        "SIP/" + "1" * 83,
        "SIP/" + "1" * 84,
        "PJSIP/201,x",
        "PJSIP/",
        "/201",
        "1SIP/201",
        "PJSIP/2 01",
        "PJSIP/201&PJSIP/202",
    ]
    for value in samples:
        assert bool(re.fullmatch(pattern[1:-1], value)) == is_interface(value), value
    call_end = "\n".join(data for _, _, data in PLAN[v.CONTEXT_CALL_END])
    # Each candidate is tested before the event: the only Sets of ANSWERED_BY
    # other than the candidates are the clearing ones.
    assert f'${{REGEX("{pattern}" ${{{v.ANSWERED_BY}}})}}' in call_end


# --- the rendered dialplan --------------------------------------------------------------


def test_issue17_OPS_3_the_queue_path_is_in_the_shipped_dialplan_and_lints(
    tmp_path: Path,
) -> None:
    text = (ROOT / "asterisk-conf" / render.SHIPPED_FILE).read_text(encoding="utf-8")
    queue = f"Queue(${{{v.QUEUE}}},{v.QUEUE_OPTIONS},,,${{{v.QUEUE_SECONDS}}})"
    assert f" same => n,{queue}" in text
    assert f"${{DB({v.ASTDB_QUEUE}/${{EXTEN}})}}" in text
    result = lint(tmp_path, [ROOT / "asterisk-conf" / render.SHIPPED_FILE])
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_issue17_OPS_3_asterisklint_catches_a_misspelt_queue_application(tmp_path: Path) -> None:
    """asterisklint knows Queue() (it checks the name, not the arguments)."""
    source = tmp_path / "src"
    source.mkdir()
    text = (ROOT / "asterisk-conf" / render.SHIPPED_FILE).read_text(encoding="utf-8")
    (source / "extensions_x.conf").write_text(text.replace("Queue(", "Queu("), encoding="utf-8")
    result = lint(tmp_path, [source / "extensions_x.conf"])
    assert "E_APP_MISSING" in result.stdout + result.stderr


# --- the queues.conf sample -----------------------------------------------------------------

# Queue options of Asterisk 22's queues.conf.sample that the sample may use.
QUEUE_OPTIONS = {
    "strategy",
    "timeout",
    "retry",
    "timeoutpriority",
    "setinterfacevar",
    "maxlen",
    "joinempty",
    "leavewhenempty",
    "ringinuse",
    "autofill",
    "wrapuptime",
    "announce-frequency",
    "announce-position",
    "announce-holdtime",
    "periodic-announce-frequency",
    "musicclass",
    "member",
}
STRATEGIES = {"ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered", "linear"}
EMPTY_FACTORS = {"paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown"}


def queues() -> list[Section]:
    return [s for s in parse_file(QUEUES_SAMPLE, live_comments=True) if s.name != "general"]


def test_issue17_the_queues_sample_is_all_commented_out() -> None:
    assert parse_file(QUEUES_SAMPLE) == []


def test_issue17_CALL_5_MAIL_9_the_queues_sample_rings_all_and_names_its_members() -> None:
    [sample] = queues()
    validation.queue_name(sample.name)
    assert {key for key, _ in sample.options} <= QUEUE_OPTIONS
    assert sample.get("strategy") == "ringall"
    assert sample.get("setinterfacevar") == "yes"  # MEMBERINTERFACE for the hangup handler
    assert 5 <= int(sample.get("timeout") or "") <= 60
    for key in ("joinempty", "leavewhenempty"):
        value = sample.get(key) or ""
        assert value in ("yes", "no", "strict", "loose") or set(value.split(",")) <= EMPTY_FACTORS
    members = sample.values("member")
    assert len(members) >= 2
    for member in members:
        interface, penalty, name, *_ = (part.strip() for part in member.split(","))
        validation.interface(interface)
        validation.device_label(name)
        assert penalty.isdigit()
    assert any(not name.isascii() for *_, name in (m.split(",")[:3] for m in members))


# --- the operator's documents ----------------------------------------------------------


def test_issue17_CALL_1_the_guide_shows_a_ring_group_and_a_queue_set_up() -> None:
    guide = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    start = guide.index("### Office numbers: ring groups and queues")
    office = guide[start : guide.index("\n### ", start + 1)]
    for needed in (
        "chakushin number set 0312345678 --endpoint 'PJSIP/201&PJSIP/202&PJSIP/203'",
        "--queue sales --queue-seconds 30",
        "--no-queue",
        "chakushin device name PJSIP/201 受付",
        "chakushin device list",
        "chakushin device unname PJSIP/201",
        "queues_chakushin_sample.conf",
        "setinterfacevar = yes",
        "AgentConnect",
        "ABANDONED",
    ):
        assert needed in office, needed
    for status in ("TIMEOUT", "FULL", "JOINEMPTY"):
        assert status in office, status
    readme = (ROOT / "asterisk-conf" / "README.md").read_text(encoding="utf-8")
    assert f"`{QUEUES_SAMPLE.name}`" in readme


def test_issue17_CALL_5_MAIL_4_a_caller_who_never_joined_the_queue_is_unanswered() -> None:
    """No ABANDONED and no QUEUESTATUS is an answer only for a caller who was in the queue:
    app_queue sets QUEUEPOSITION when the caller leaves it (all three queue recordings).
    A caller gone before joining, or a Queue() that never ran (app_queue not loaded),
    leaves none of them: that call was not answered, and is mailed under (b)."""
    _, event = call(QUEUE, queue_result={"QUEUEPOSITION": ""})
    assert (event["Outcome"], event["QueueStatus"], event["AnsweredBy"]) == ("unanswered", "", "")


def test_issue17_CALL_5_a_queue_missing_from_queues_conf_ends_unreachable() -> None:
    """app_queue answers a queue it does not know with QUEUESTATUS=UNKNOWN."""
    ch, event = call(QUEUE, queue_result={"QUEUESTATUS": "UNKNOWN"})
    assert ch.hangup == str(v.CAUSE_SUBSCRIBER_ABSENT)
    assert (event["Outcome"], event["QueueStatus"]) == ("unanswered", "UNKNOWN")


# --- the recordings themselves: what Asterisk left, through the rendered dialplan ---------

QUEUE_VARIABLES = ("QUEUESTATUS", "ABANDONED", "QUEUEPOSITION", "MEMBERINTERFACE")
DIAL_VARIABLES = ("DIALSTATUS", "DIALEDPEERNAME", "DIALEDPEERNUMBER")


def left_on_caller(name: str, wanted: tuple[str, ...], joined_by: str) -> dict[str, str]:
    """The last value of each of ``wanted`` that Asterisk set (VarSet) on the channel that
    ran the queue or the ring group in recording ``name`` (the one ``joined_by`` names)."""
    frames = list(ami.iter_frames((recordings.TRACES / f"{name}.ami").read_bytes()))
    channel = next(f["Channel"] for f in frames if f.get("Event") == joined_by and "Channel" in f)
    found: dict[str, str] = {}
    for f in frames:
        if f.get("Event") == "VarSet" and f.get("Channel") == channel and f["Variable"] in wanted:
            found[f["Variable"]] = f.get("Value", "")
    return found


@pytest.mark.parametrize("name", ["queue_answered", "queue_caller_abandons", "queue_timeout"])
def test_issue17_CALL_5_MAIL_4_the_recorded_queue_variables_give_the_recorded_outcome(
    name: str,
) -> None:
    """What app_queue left on the caller's channel in each queue recording, run through the
    shipped hangup handler, gives the outcome the recording is (chakushin.demo.recordings)."""
    left = left_on_caller(name, QUEUE_VARIABLES, "QueueCallerJoin")
    assert "QUEUEPOSITION" in left, left  # the caller joined, as in every queue recording
    result = {k: left.get(k, "") for k in QUEUE_VARIABLES}
    _, event = call(QUEUE, queue_result=result)
    scenario = recordings.SCENARIOS[name]
    assert (event["Outcome"], event["QueueStatus"]) == (scenario.outcome, scenario.queue_status)


@pytest.mark.parametrize("name", ["ring_group_answered", "ring_group_no_answer"])
def test_issue17_CALL_5_MAIL_4_the_recorded_ring_group_variables_give_the_recorded_outcome(
    name: str,
) -> None:
    left = left_on_caller(name, DIAL_VARIABLES, "DialBegin")
    _, event = call(
        RING,
        dialstatus=left["DIALSTATUS"],
        dial_result={k: left.get(k, "") for k in DIAL_VARIABLES if k != "DIALSTATUS"},
    )
    scenario = recordings.SCENARIOS[name]
    assert (event["Outcome"], event["DialStatus"], event["AnsweredBy"]) == (
        scenario.outcome,
        scenario.dial_status,
        scenario.answered_by,
    )
