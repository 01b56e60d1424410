"""Issue 15 (CALL-1, CALL-4, CALL-5): trunk called numbers, how a ring ends, the fail path.

The rendered dialplan is run by ``tests.dialplan.evaluate``:

- the trunk entry context reads a called number sent as ``+81…`` or
  ``0081…`` (and ``81…`` with ``call.e164_without_plus``) in the national
  form before ``chakushin-subscribers``;
- every ring ends with the Q.850 cause of what happened (chan_pjsip turns it
  into the SIP response the carrier gets): no answer 19 (480), absent,
  unreachable or not registered 20 (480), busy 17 (486); the refusals keep
  their plain ``Hangup()`` after the guidance;
- the fail path (no routing AGI) dials the endpoint the routing AGI last
  stored for the number in AstDB, else ``call.fallback_endpoint``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import bootstrap
from chakushin import config as config_mod
from dialplan import render
from dialplan import variables as v
from tests.dialplan import evaluate
from tests.dialplan.lint_helpers import lint

NUMBER = "0312345678"


def contexts(**env: str) -> evaluate.Dialplan:
    return evaluate.parse_contexts(
        render.render(bootstrap.dialplan_settings(config_mod.load(env=env)))
    )


DEFAULT = contexts()


def from_trunk(
    called: str,
    plan: evaluate.Dialplan = DEFAULT,
    *,
    action: dict[str, str] | None = None,
    **channel: object,
) -> evaluate.Channel:
    """One call from the carrier to ``called``; ``action``: what the routing AGI set."""
    ch = evaluate.Channel("0398765432", **channel)  # type: ignore[arg-type]
    ch.variables.update(action or {})
    evaluate.run(plan, v.CONTEXT_FROM_TRUNK, ch, exten=called)
    return ch


RING = {v.ACTION: v.ACTION_RING, v.DIAL: "PJSIP/alice", v.RING_SECONDS: "30", v.ROUTE: "decided"}


# --- 1. called numbers in E.164 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("called", "national"),
    [
        ("0312345678", "0312345678"),
        ("+81312345678", "0312345678"),
        ("0081312345678", "0312345678"),
        ("+819012345678", "09012345678"),
        ("00819012345678", "09012345678"),
    ],
)
def test_issue15_CALL_1_trunk_called_number_reaches_the_subscriber_in_national_form(
    called: str, national: str
) -> None:
    ch = from_trunk(called)
    assert ch.context == v.CONTEXT_SUBSCRIBERS
    assert ch.exten == national
    assert ch.variables[v.SUBSCRIBER] == national
    assert ch.dialled == [f"PJSIP/{national}"]  # the fail path: no AGI here


def test_issue15_CALL_1_trunk_reads_81_without_plus_only_where_configured() -> None:
    with pytest.raises(evaluate.NoExtension):
        from_trunk("81312345678")
    ch = from_trunk("81312345678", contexts(CHAKUSHIN_CALL_E164_WITHOUT_PLUS="true"))
    assert (ch.context, ch.exten) == (v.CONTEXT_SUBSCRIBERS, NUMBER)


@pytest.mark.parametrize(
    "called", ["+810312345678", "+8131234567", "+813123456789012", "+14155550100", "1234"]
)
def test_issue15_CALL_1_trunk_refuses_what_is_no_japanese_number(called: str) -> None:
    """Asterisk answers a called number no extension matches 404: not ours."""
    with pytest.raises(evaluate.NoExtension):
        from_trunk(called)


# --- 2. how a ring ends ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialstatus", "hangupcause", "cause"),
    [
        ("NOANSWER", "", "19"),  # ring timeout, or a dead contact that never answered
        ("NOANSWER", "19", "19"),  # the phone said 480
        ("BUSY", "17", "17"),
        ("CHANUNAVAIL", "3", "20"),  # not registered: no contact to dial
        ("CHANUNAVAIL", "18", "20"),  # the contact did not respond (408)
        ("CHANUNAVAIL", "1", "20"),  # the phone said 404
        ("CONGESTION", "34", "20"),  # the phone said 503
        ("CHANUNAVAIL", "21", "17"),  # declined at the phone (603/403): as busy
        ("ANSWER", "16", "16"),
    ],
)
def test_issue15_CALL_4_a_ring_ends_with_the_cause_of_what_happened(
    dialstatus: str, hangupcause: str, cause: str
) -> None:
    ring = from_trunk(NUMBER, action=RING, legs=[(dialstatus, hangupcause)])
    fail_path = from_trunk(NUMBER, legs=[(dialstatus, hangupcause)])
    for ch in (ring, fail_path):
        assert ch.hangup == cause
        assert len(ch.dialled) == 1


@pytest.mark.parametrize(
    ("forward_on", "first"), [(v.FORWARD_ON_NOANSWER, "NOANSWER"), (v.FORWARD_ON_BUSY, "BUSY")]
)
@pytest.mark.parametrize(
    ("leg", "cause"),
    [
        (("NOANSWER", "19"), "19"),  # the carrier's 480 for a switched-off mobile
        (("BUSY", "17"), "17"),
        (("CHANUNAVAIL", "20"), "20"),
        (("CONGESTION", "34"), "20"),
        (("ANSWER", "16"), "16"),
    ],
)
def test_issue15_CALL_4_a_voice_warp_leg_ends_with_the_cause_of_the_forward_leg(
    forward_on: str, first: str, leg: tuple[str, str], cause: str
) -> None:
    action = {**RING, v.FORWARD_ON: forward_on, v.FORWARD_DIAL: "PJSIP/09011112222@pstn"}
    ch = from_trunk(NUMBER, action=action, legs=[(first, ""), leg])
    assert ch.dialled == ["PJSIP/alice", "PJSIP/09011112222@pstn"]
    assert ch.hangup == cause
    unconditional = {v.ACTION: v.ACTION_FORWARD, v.FORWARD_DIAL: "PJSIP/09011112222@pstn"}
    assert from_trunk(NUMBER, action=unconditional, legs=[leg]).hangup == cause


@pytest.mark.parametrize("action", [v.ACTION_REJECT_NUISANCE, v.ACTION_REJECT_ANONYMOUS])
def test_issue15_CALL_2_CALL_3_refusals_keep_their_plain_hangup_after_the_guidance(
    action: str,
) -> None:
    ch = from_trunk(NUMBER, action={v.ACTION: action, v.REFUSAL: "x"})
    assert ch.hangup == "" and ch.dialled == []


def test_issue15_CALL_5_the_event_is_unchanged_by_the_hangup_cause() -> None:
    ch = from_trunk(NUMBER, action=RING, legs=[("CHANUNAVAIL", "3")])
    evaluate.run(DEFAULT, v.CONTEXT_CALL_END, ch)
    [(_, body)] = ch.events
    event = dict(evaluate.user_event_fields(body))
    assert (event["Outcome"], event["DialStatus"]) == ("unanswered", "CHANUNAVAIL")


# --- 3. the fail path dials the number's own endpoint -------------------------------------


def test_issue15_CALL_1_fail_path_dials_the_endpoint_the_routing_agi_stored() -> None:
    stored = {f"{v.ASTDB_ENDPOINT}/{NUMBER}": "PJSIP/reception"}
    ch = from_trunk("+81312345678", astdb=stored)
    assert ch.dialled == ["PJSIP/reception"]
    assert ch.variables[v.ROUTE] == "agi_failed"
    other = from_trunk("0312345679", astdb=stored)
    assert other.dialled == ["PJSIP/0312345679"]  # nothing stored: call.fallback_endpoint


def test_issue15_CALL_1_fail_path_falls_back_to_the_configured_template() -> None:
    plan = contexts(CHAKUSHIN_CALL_FALLBACK_ENDPOINT="PJSIP/{number}@phones")
    assert from_trunk(NUMBER, plan).dialled == [f"PJSIP/{NUMBER}@phones"]
    stored = {f"{v.ASTDB_ENDPOINT}/{NUMBER}": "PJSIP/alice"}
    assert from_trunk(NUMBER, plan, astdb=stored).dialled == ["PJSIP/alice"]


def test_issue15_OPS_3_asterisklint_passes_with_81_without_plus(tmp_path: Path) -> None:
    """The shipped file is linted by test_dialplan; the trunk context with its 81 form too."""
    source = tmp_path / "src"
    source.mkdir()
    text = render.render(
        bootstrap.dialplan_settings(config_mod.load(env={"CHAKUSHIN_CALL_E164_WITHOUT_PLUS": "1"}))
    )
    assert "exten => _81ZXXXXXXXX,1," in text
    (source / render.SHIPPED_FILE).write_text(text, encoding="utf-8")
    result = lint(tmp_path, [source / render.SHIPPED_FILE])
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
