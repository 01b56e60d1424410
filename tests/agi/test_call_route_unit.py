"""CALL-1 ... CALL-4 as pure rules: who the caller is, and what happens to the call."""

from __future__ import annotations

import pytest

from agi.call_route import Route, decide
from agi.caller import Caller, classify_caller
from agi.prompts import Prompt
from dialplan import variables as v
from store.models import Presentation, VoiceWarpMode
from store.service import RoutingSettings

NUMBER, CALLER = "0312345678", "0398765432"
ALLOWED = Caller(CALLER, Presentation.ALLOWED)
WITHHELD = Caller(CALLER, Presentation.WITHHELD)
PAYPHONE = Caller("", Presentation.PAYPHONE)
UNAVAILABLE = Caller("", Presentation.UNAVAILABLE)


def settings(**kw: object) -> RoutingSettings:
    base: dict[str, object] = {
        "number": NUMBER,
        "endpoint": "PJSIP/alice",
        "queue": None,
        "queue_seconds": None,
        "nuisance_numbers": frozenset(),
        "number_request": False,
        "reject_payphone": False,
        "reject_unavailable": False,
        "voice_warp": None,
        "forward_to": None,
        "forward_ring_seconds": 15,
    }
    base.update(kw)
    return RoutingSettings(**base)  # type: ignore[arg-type]


def route(s: RoutingSettings, caller: Caller) -> Route:
    return decide(
        s,
        caller,
        fallback_endpoint="PJSIP/{number}",
        forward_dial="PJSIP/{number}@pstn",
        ring_seconds=30,
    )


@pytest.mark.parametrize(
    ("callerid", "pres", "ani2", "expected"),
    [
        ("0398765432", "0", "0", ALLOWED),
        ("0398765432", "1", "", ALLOWED),  # allowed_passed_screen
        ("0398765432", "32", "0", WITHHELD),  # prohib_not_screened: number kept, not shown
        ("0398765432", "35", "0", WITHHELD),
        ("", "67", "0", UNAVAILABLE),  # unavailable
        ("unknown", "0", "0", UNAVAILABLE),
        ("anonymous", "35", "0", Caller("", Presentation.WITHHELD)),
        ("", "0", "27", PAYPHONE),
        ("", "0", "70", PAYPHONE),
        ("0398765432", "garbage", "", Caller(CALLER, Presentation.UNAVAILABLE)),
        # Issue 14: E.164 is read in the national form; SIP's anonymous is withheld.
        ("+81398765432", "0", "0", ALLOWED),
        ("0081398765432", "0", "0", ALLOWED),
        ("81398765432", "0", "0", UNAVAILABLE),  # only where configured (below)
        ("+81398765432", "32", "0", WITHHELD),
        ("+14155550100", "0", "0", UNAVAILABLE),
        ("anonymous", "0", "0", Caller("", Presentation.WITHHELD)),
        ("Anonymous", "1", "0", Caller("", Presentation.WITHHELD)),
        ("anonymous@anonymous.invalid", "67", "0", Caller("", Presentation.WITHHELD)),
        ("anonymous", "0", "27", PAYPHONE),
    ],
)
def test_classify_caller(callerid: str, pres: str, ani2: str, expected: Caller) -> None:
    assert classify_caller(callerid, pres, ani2) == expected


def test_CALL_2_classify_caller_reads_81_without_plus_where_configured() -> None:
    assert classify_caller("81398765432", "0", "0", e164_without_plus=True) == ALLOWED


def test_withheld_number_is_never_the_presented_number() -> None:
    assert WITHHELD.presented_number == ""
    assert ALLOWED.presented_number == CALLER


def test_CALL_2_nuisance_list_comes_first_even_for_a_withheld_caller() -> None:
    s = settings(
        nuisance_numbers=frozenset({CALLER}),
        number_request=True,
        voice_warp=VoiceWarpMode.UNCONDITIONAL,
        forward_to="09012345678",
    )
    for caller in (ALLOWED, WITHHELD):
        r = route(s, caller)
        assert (r.action, r.reason, r.refusal) == (
            v.ACTION_REJECT_NUISANCE,
            "nuisance_list",
            Prompt.CALL_REJECTED_NUISANCE,
        )


@pytest.mark.parametrize(
    ("caller", "payphone", "unavailable", "refused_with"),
    [
        (WITHHELD, False, False, Prompt.CALL_REJECTED_WITHHELD),
        (PAYPHONE, False, False, None),
        (PAYPHONE, True, False, Prompt.CALL_REJECTED_PAYPHONE),
        (UNAVAILABLE, False, False, None),
        (UNAVAILABLE, False, True, Prompt.CALL_REJECTED_UNAVAILABLE),
        (ALLOWED, True, True, None),
    ],
)
def test_CALL_3_number_request(
    caller: Caller, payphone: bool, unavailable: bool, refused_with: Prompt | None
) -> None:
    r = route(
        settings(number_request=True, reject_payphone=payphone, reject_unavailable=unavailable),
        caller,
    )
    if refused_with is None:
        assert r.action == v.ACTION_RING
    else:
        assert (r.action, r.refusal) == (v.ACTION_REJECT_ANONYMOUS, refused_with)


def test_CALL_3_number_request_off_rings_a_withheld_caller() -> None:
    assert route(settings(), WITHHELD).action == v.ACTION_RING


def test_CALL_4_voice_warp_modes() -> None:
    fwd = {"forward_to": "09012345678"}
    r = route(settings(voice_warp=VoiceWarpMode.UNCONDITIONAL, **fwd), WITHHELD)
    assert (r.action, r.forward_dial, r.dial) == (v.ACTION_FORWARD, "PJSIP/09012345678@pstn", "")
    r = route(settings(voice_warp=VoiceWarpMode.NO_ANSWER, **fwd), ALLOWED)
    assert (r.action, r.dial, r.ring_seconds, r.forward_on) == (
        v.ACTION_RING,
        "PJSIP/alice",
        15,
        v.FORWARD_ON_NOANSWER,
    )
    r = route(settings(voice_warp=VoiceWarpMode.BUSY, **fwd), ALLOWED)
    assert (r.action, r.ring_seconds, r.forward_on) == (v.ACTION_RING, 30, v.FORWARD_ON_BUSY)


def test_CALL_1_plain_ring_and_the_fallback_endpoint() -> None:
    r = route(settings(), ALLOWED)
    assert (r.action, r.dial, r.ring_seconds, r.forward_on) == (
        v.ACTION_RING,
        "PJSIP/alice",
        30,
        v.FORWARD_NEVER,
    )
    assert route(settings(endpoint=None), ALLOWED).dial == "PJSIP/0312345678"


@pytest.mark.parametrize("pres", ["96", "-1", "97", "256", "99999", "0x00", " 0", "１"])
def test_issue12_MAIL_9_a_presentation_outside_asterisks_values_is_not_allowed(pres: str) -> None:
    """Only AST_PRES_ALLOWED (group 0x00 of 0-255) presents a number: 0x60 is reserved,
    a negative or larger value is no presentation Asterisk sends. Such a caller is
    never shown, logged, let past Number Request or mailed as if presented."""
    caller = classify_caller("0398765432", pres, "0")
    assert caller.presentation is not Presentation.ALLOWED
    assert caller.presented_number == "" and caller.logged != "0398765432"


# --- Issue 17: office numbers (ring groups, queues) -------------------------------------

RING_GROUP = "PJSIP/201&PJSIP/202&Local/desk@phones"
FWD = {"forward_to": "09012345678"}


def test_issue17_CALL_1_a_ring_group_dials_every_device_as_stored() -> None:
    r = route(settings(endpoint=RING_GROUP), ALLOWED)
    assert (r.action, r.dial, r.ring_seconds, r.queue, r.queue_seconds) == (
        v.ACTION_RING,
        RING_GROUP,
        30,
        "",
        0,
    )
    assert dict(r.assignments())[v.QUEUE] == "" and dict(r.assignments())[v.QUEUE_SECONDS] == ""


def test_issue17_CALL_1_a_queue_number_waits_in_its_queue() -> None:
    r = route(settings(endpoint=None, queue="office"), ALLOWED)
    assert (r.action, r.reason, r.queue, r.queue_seconds, r.dial, r.forward_on) == (
        v.ACTION_QUEUE,
        "queue",
        "office",
        30,  # call.ring_seconds when the number gives none
        "",
        v.FORWARD_NEVER,
    )
    r = route(settings(endpoint=None, queue="office", queue_seconds=45), ALLOWED)
    assert (r.action, r.queue_seconds) == (v.ACTION_QUEUE, 45)


def test_issue17_CALL_1_the_queue_variables_are_set_before_the_action() -> None:
    names = [name for name, _ in route(settings(queue="office"), ALLOWED).assignments()]
    assert names.index(v.QUEUE) < names.index(v.ACTION)
    assert names.index(v.QUEUE_SECONDS) < names.index(v.ACTION)
    assert names[-1] == v.ACTION
    got = dict(
        route(settings(endpoint=None, queue="office", queue_seconds=45), ALLOWED).assignments()
    )
    assert (got[v.QUEUE], got[v.QUEUE_SECONDS], got[v.DIAL], got[v.RING_SECONDS]) == (
        "office",
        "45",
        "",
        "",
    )


def test_issue17_CALL_2_CALL_3_refusals_come_before_the_queue() -> None:
    s = settings(endpoint=None, queue="office", nuisance_numbers=frozenset({CALLER}))
    r = route(s, ALLOWED)
    assert (r.action, r.queue) == (v.ACTION_REJECT_NUISANCE, "")
    assert dict(r.assignments())[v.QUEUE] == ""
    r = route(settings(endpoint=None, queue="office", number_request=True), WITHHELD)
    assert (r.action, r.queue) == (v.ACTION_REJECT_ANONYMOUS, "")


def test_issue17_CALL_4_a_queue_with_voice_warp_unconditional_forwards() -> None:
    s = settings(endpoint=None, queue="office", voice_warp=VoiceWarpMode.UNCONDITIONAL, **FWD)
    r = route(s, ALLOWED)
    assert (r.action, r.forward_dial, r.queue, r.dial) == (
        v.ACTION_FORWARD,
        "PJSIP/09012345678@pstn",
        "",
        "",
    )


def test_issue17_CALL_4_a_queue_with_voice_warp_no_answer_waits_the_ring_seconds() -> None:
    s = settings(
        endpoint=None,
        queue="office",
        queue_seconds=60,
        voice_warp=VoiceWarpMode.NO_ANSWER,
        forward_ring_seconds=15,
        **FWD,
    )
    r = route(s, ALLOWED)
    assert (r.action, r.reason, r.queue, r.queue_seconds, r.forward_on, r.forward_dial) == (
        v.ACTION_QUEUE,
        "voice_warp_no_answer",
        "office",
        15,  # Voice Warp's ring time, not the queue's own 60
        v.FORWARD_ON_NOANSWER,
        "PJSIP/09012345678@pstn",
    )


@pytest.mark.parametrize(("own", "expected"), [(None, 30), (45, 45)])
def test_issue17_CALL_4_a_queue_with_voice_warp_busy_forwards_when_full(
    own: int | None, expected: int
) -> None:
    s = settings(
        endpoint=None, queue="office", queue_seconds=own, voice_warp=VoiceWarpMode.BUSY, **FWD
    )
    r = route(s, ALLOWED)
    assert (r.action, r.reason, r.queue, r.queue_seconds, r.forward_on) == (
        v.ACTION_QUEUE,
        "voice_warp_busy",
        "office",
        expected,
        v.FORWARD_ON_BUSY,
    )
    assert dict(r.assignments())[v.FORWARD_DIAL] == "PJSIP/09012345678@pstn"


def test_issue17_CALL_4_a_ring_group_with_voice_warp_no_answer() -> None:
    s = settings(endpoint=RING_GROUP, voice_warp=VoiceWarpMode.NO_ANSWER, **FWD)
    r = route(s, ALLOWED)
    assert (r.action, r.dial, r.ring_seconds, r.forward_on, r.queue) == (
        v.ACTION_RING,
        RING_GROUP,
        15,
        v.FORWARD_ON_NOANSWER,
        "",
    )
