"""Issue 17 (CALL-1, MAIL-9, OPS-2): office numbers from the operator's CLI, on both backends.

A number rings several devices (``--endpoint 'PJSIP/201&PJSIP/202'``) or waits
in an Asterisk queue (``--queue``, ``--queue-seconds``, ``--no-queue``);
``number show`` lists the devices with the names ``chakushin device name``
gives them, or the queue and its timeout. Every refusal is one line on
stderr and leaves every table as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chakushin.cli import cli
from store import db, service
from store.models import CallOutcome, Presentation
from tests.cli.conftest import Chakushin

CONTRACT, SECOND, THIRD = "0312345678", "0312345679", "0312345670"
GROUP = "PJSIP/201&PJSIP/202&Local/desk@phones"


def test_issue17_CALL_1_OPS_2_a_ring_group_with_named_devices(chakushin: Chakushin) -> None:
    run = chakushin
    run("line", "add", CONTRACT, "--endpoint", GROUP)
    run("device", "name", "PJSIP/201", "受付")
    run("device", "name", "Local/desk@phones", "  総務デスク  ")  # spaces around dropped
    shown = chakushin.json("number", "show", CONTRACT)
    assert shown["endpoint"] == GROUP
    assert shown["devices"] == [
        {"interface": "PJSIP/201", "label": "受付"},
        {"interface": "PJSIP/202", "label": None},
        {"interface": "Local/desk@phones", "label": "総務デスク"},
    ]
    assert (shown["queue"], shown["queue_seconds"]) == (None, None)
    text = run("number", "show", CONTRACT).stdout
    assert (
        "  devices (3/8):\n    受付 (PJSIP/201)\n    PJSIP/202\n"
        "    総務デスク (Local/desk@phones)\n" in text
    )
    assert "  queue:           -\n" in text
    # line show names them too.
    assert "受付 (PJSIP/201)" in run("line", "show", CONTRACT).stdout
    assert chakushin.json("line", "show", CONTRACT)["numbers"][0]["devices"][0] == {
        "interface": "PJSIP/201",
        "label": "受付",
    }
    # A name replaced, one removed.
    run("device", "name", "PJSIP/201", "受付2")
    run("device", "unname", "Local/desk@phones")
    assert chakushin.json("device", "list") == [{"interface": "PJSIP/201", "label": "受付2"}]
    assert run("device", "list").stdout == "PJSIP/201  受付2\n"
    assert "    PJSIP/202\n    Local/desk@phones\n" in run("number", "show", CONTRACT).stdout


def test_issue17_CALL_1_OPS_2_a_queue_number_and_back_to_devices(chakushin: Chakushin) -> None:
    run = chakushin
    run("line", "add", CONTRACT, "--queue", "office", "--queue-seconds", "45")
    run("number", "add", CONTRACT, SECOND, "--queue", "sales")
    shown = chakushin.json("number", "show", CONTRACT)
    assert (shown["endpoint"], shown["devices"], shown["queue"], shown["queue_seconds"]) == (
        None,
        [],
        "office",
        45,
    )
    assert "  queue:           office (timeout 45 s)\n" in run("number", "show", CONTRACT).stdout
    second = run("number", "show", SECOND).stdout
    assert "  queue:           sales (timeout default: call.ring_seconds)\n" in second
    assert "  devices (0/8):\n" not in second and "  endpoint:        -\n" in second
    # number set writes and shows the number as it now is.
    out = chakushin.json("number", "set", SECOND, "--queue-seconds", "300")
    assert (out["queue"], out["queue_seconds"]) == ("sales", 300)
    out = chakushin.json("number", "set", SECOND, "--endpoint", "PJSIP/201&PJSIP/202")
    assert (out["queue"], out["queue_seconds"], out["endpoint"]) == (
        None,
        None,
        "PJSIP/201&PJSIP/202",
    )
    out = chakushin.json("number", "set", SECOND, "--queue", "sales")
    assert (out["queue"], out["endpoint"], out["devices"]) == ("sales", None, [])
    out = chakushin.json("number", "set", SECOND, "--no-queue")
    assert (out["queue"], out["queue_seconds"], out["endpoint"]) == (None, None, None)
    # Back to devices in one step (the guide's form).
    run("number", "set", SECOND, "--queue", "sales", "--queue-seconds", "30")
    out = chakushin.json("number", "set", SECOND, "--no-queue", "--endpoint", "PJSIP/201")
    assert (out["queue"], out["queue_seconds"], out["endpoint"]) == (None, None, "PJSIP/201")
    # The queue timeout alone, on a number that has a queue.
    out = chakushin.json("number", "set", CONTRACT, "--queue-seconds", "5")
    assert (out["queue"], out["queue_seconds"]) == ("office", 5)


def test_issue17_OPS_2_device_list_when_none_is_named(chakushin: Chakushin) -> None:
    assert chakushin("device", "list").stdout == "no named devices\n"
    assert chakushin.json("device", "list") == []
    out = chakushin.json("device", "name", "Local/desk@phones/n", "受付")
    assert out == {"interface": "Local/desk@phones/n", "label": "受付"}
    assert chakushin("device", "unname", "Local/desk@phones/n").stdout == (
        "Local/desk@phones/n: name removed\n"
    )


# --- hostile input: one line, nothing written -------------------------------------------

NINE = "&".join(f"PJSIP/20{i}" for i in range(1, 10))
HOSTILE_ENDPOINTS = [
    ("PJSIP/" + "a" * 795, "at most 800"),  # 801 characters
    ("&".join(f"PJSIP/{'a' * 95}{i}" for i in range(8)) + "x" * 20, "at most 800"),
    (NINE, "at most 8"),
    ("PJSIP/201&PJSIP/201", "twice"),
    ("PJSIP/201&pjsip/201", "twice"),  # Asterisk's technology names have no case
    ("PJSIP/201,30,tT", "TECH/resource"),  # a comma would add Dial() options
    ("PJSIP/201&", "TECH/resource"),
    ("&PJSIP/201", "TECH/resource"),
    ("PJSIP/201&&PJSIP/202", "TECH/resource"),
    ("PJSIP/201\nPJSIP/202", "TECH/resource"),
    ("PJSIP/201\x1b[2J", "TECH/resource"),
    ("PJSIP/201&PJSIP/2\x00", "TECH/resource"),
    ("PJSIP/201 & PJSIP/202", "TECH/resource"),
    ("PJSIP/\u202e201", "TECH/resource"),
    ("", "TECH/resource"),
]
HOSTILE_QUEUES = [
    ("general", "not general"),
    ("General", "not general"),
    ("q" * 81, "queue"),
    ("office,30", "queue"),
    ("office)", "queue"),
    ("off ice", "queue"),
    ("office\n", "queue"),
    ("受付", "queue"),
    ("", "queue"),
]
BAD_SECONDS = ["4", "301", "0", "-1", "99999999999999999999"]


@pytest.mark.parametrize(("endpoint", "said"), HOSTILE_ENDPOINTS)
def test_issue17_CALL_1_a_hostile_endpoint_is_refused_everywhere_and_nothing_changes(
    chakushin: Chakushin, endpoint: str, said: str
) -> None:
    chakushin("line", "add", CONTRACT, "--endpoint", "PJSIP/201&PJSIP/202")
    for args in (
        ("line", "add", THIRD, "--endpoint", endpoint),
        ("number", "add", CONTRACT, SECOND, "--endpoint", endpoint),
        ("number", "set", CONTRACT, "--endpoint", endpoint),
    ):
        assert said in chakushin.refused(*args), args
    assert chakushin.json("number", "show", CONTRACT)["endpoint"] == "PJSIP/201&PJSIP/202"


@pytest.mark.parametrize(("queue", "said"), HOSTILE_QUEUES)
def test_issue17_CALL_1_a_hostile_queue_is_refused_everywhere_and_nothing_changes(
    chakushin: Chakushin, queue: str, said: str
) -> None:
    chakushin("line", "add", CONTRACT, "--queue", "office")
    for args in (
        ("line", "add", THIRD, "--queue", queue),
        ("number", "add", CONTRACT, SECOND, "--queue", queue),
        ("number", "set", CONTRACT, "--queue", queue),
    ):
        assert said in chakushin.refused(*args), args


@pytest.mark.parametrize("seconds", BAD_SECONDS)
def test_issue17_CALL_1_a_queue_timeout_out_of_range_is_refused(
    chakushin: Chakushin, seconds: str
) -> None:
    chakushin("line", "add", CONTRACT, "--queue", "office", "--queue-seconds", "30")
    for args in (
        ("line", "add", THIRD, "--queue", "sales", "--queue-seconds", seconds),
        ("number", "add", CONTRACT, SECOND, "--queue", "sales", "--queue-seconds", seconds),
        ("number", "set", CONTRACT, "--queue-seconds", seconds),
    ):
        assert "5 to 300 seconds" in chakushin.refused(*args), args
    assert chakushin.json("number", "show", CONTRACT)["queue_seconds"] == 30


@pytest.mark.parametrize("seconds", ["abc", "30s", "1e3", ""])
def test_issue17_OPS_2_a_queue_timeout_that_is_no_number_is_a_usage_error(
    chakushin: Chakushin, seconds: str
) -> None:
    chakushin("line", "add", CONTRACT, "--queue", "office")
    chakushin.refused("number", "set", CONTRACT, "--queue-seconds", seconds, status=2)
    chakushin.refused("line", "add", THIRD, "--queue", "q", "--queue-seconds", seconds, status=2)


def test_issue17_CALL_1_devices_or_a_queue_not_both(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT, "--endpoint", "PJSIP/201")
    both = ("--endpoint", "PJSIP/202", "--queue", "office")
    assert "devices or waits in a queue" in chakushin.refused("line", "add", THIRD, *both)
    assert "devices or waits in a queue" in chakushin.refused(
        "number", "add", CONTRACT, SECOND, *both
    )
    assert "devices or waits in a queue" in chakushin.refused("number", "set", CONTRACT, *both)
    # A timeout needs a queue: on a number of devices, with --no-queue, on add without one.
    for args in (
        ("number", "set", CONTRACT, "--queue-seconds", "30"),
        ("number", "set", CONTRACT, "--queue-seconds", "30", "--no-queue"),
        ("line", "add", THIRD, "--queue-seconds", "30"),
        ("number", "add", CONTRACT, SECOND, "--endpoint", "PJSIP/203", "--queue-seconds", "30"),
    ):
        assert "needs a queue" in chakushin.refused(*args), args
    assert "not both" in chakushin.refused("number", "set", CONTRACT, "--queue", "q", "--no-queue")
    assert chakushin.json("number", "show", CONTRACT)["endpoint"] == "PJSIP/201"


HOSTILE_LABELS = [
    ("受" * 21, "1-20 printable"),
    ("", "1-20 printable"),
    ("   ", "1-20 printable"),
    ("受付\n偽", "1-20 printable"),
    ("\x1b]0;pwned\x07", "1-20 printable"),
    ("受付\u202e", "1-20 printable"),
    ("a\x00b", "1-20 printable"),
]
HOSTILE_INTERFACES = [
    "PJSIP/" + "a" * 95,  # 101 characters
    "PJSIP/201,30",
    "PJSIP/201&PJSIP/202",
    "PJSIP 201",
    "PJSIP/201\n",
    "201",
    "",
    "PJSIP/\x1b[2J",
]


@pytest.mark.parametrize(("label", "said"), HOSTILE_LABELS)
def test_issue17_MAIL_9_a_hostile_device_name_is_refused(
    chakushin: Chakushin, label: str, said: str
) -> None:
    chakushin("device", "name", "PJSIP/201", "受付")
    assert said in chakushin.refused("device", "name", "PJSIP/201", label)
    assert said in chakushin.refused("device", "name", "PJSIP/202", label)
    assert chakushin.json("device", "list") == [{"interface": "PJSIP/201", "label": "受付"}]


@pytest.mark.parametrize("interface", HOSTILE_INTERFACES)
def test_issue17_MAIL_9_a_hostile_interface_is_refused(
    chakushin: Chakushin, interface: str
) -> None:
    chakushin("device", "name", "PJSIP/201", "受付")
    assert "TECH/resource" in chakushin.refused("device", "name", interface, "受付")
    assert "TECH/resource" in chakushin.refused("device", "unname", interface)


def test_issue17_OPS_2_unnaming_a_device_without_a_name_is_refused(chakushin: Chakushin) -> None:
    assert "no name is given to PJSIP/201" in chakushin.refused("device", "unname", "PJSIP/201")
    out = json.loads(chakushin("device", "unname", "PJSIP/201", "--json", ok=False).stderr)
    assert out["error"] == "not_found"


@pytest.mark.parametrize(
    ("fallback", "refused"),
    [
        ("PJSIP/{number}", ""),
        ("PJSIP/{number}&PJSIP/reception", ""),  # the fail path may ring several devices
        ("PJSIP/{number},30", "TECH/resource"),
        ("PJSIP/{number}&PJSIP/{number}", "{number} once"),
        ("PJSIP/{number}&&PJSIP/reception", "TECH/resource"),
        ("&".join(["PJSIP/{number}", *(f"PJSIP/{i}" for i in range(8))]), "at most 8"),
        ("PJSIP/reception&pjsip/reception&PJSIP/{number}", "twice"),
    ],
)
def test_issue17_OPS_2_config_check_reads_call_fallback_endpoint_as_an_endpoint(
    tmp_config: Path, fallback: str, refused: str
) -> None:
    """call.fallback_endpoint is checked with {number} filled in, as a number's endpoint."""
    result = CliRunner().invoke(
        cli,
        ["config", "check"],
        env={"CHAKUSHIN_CALL_FALLBACK_ENDPOINT": fallback},
        catch_exceptions=False,
    )
    if not refused:
        assert result.exit_code == 0, result.stderr
        assert f'fallback_endpoint = "{fallback}"' in result.stdout
    else:
        assert result.exit_code == 1, result.stdout
        assert result.stderr.startswith("error: call.fallback_endpoint: "), result.stderr
        assert refused in result.stderr


@pytest.mark.parametrize(
    "forward_dial", ["PJSIP/{number}@pstn&PJSIP/201", "PJSIP/201&PJSIP/{number}@pstn"]
)
def test_issue17_CALL_4_config_check_refuses_a_voice_warp_dial_of_several_devices(
    tmp_config: Path, forward_dial: str
) -> None:
    """Voice Warp forwards to one destination: its leg's status and cause decide MAIL-8."""
    result = CliRunner().invoke(
        cli,
        ["config", "check"],
        env={"CHAKUSHIN_CALL_FORWARD_DIAL": forward_dial},
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith("error: call.forward_dial: "), result.stderr
    assert "one destination" in result.stderr


def test_issue17_MAIL_9_number_show_calls_says_who_answered(
    chakushin: Chakushin, db_url: str
) -> None:
    """The operator's call list says who took an office's call, as the mail and the site do."""
    chakushin("line", "add", CONTRACT, "--endpoint", GROUP)
    chakushin("device", "name", "PJSIP/201", "受付")
    engine = db.make_engine(db_url)
    try:
        sessions = db.session_factory(engine)
        at = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
        for i, (outcome, answered_by, name) in enumerate(
            [
                (CallOutcome.ANSWERED, "PJSIP/201", ""),
                (CallOutcome.ANSWERED, "Local/desk@phones/n", "営業"),
                (CallOutcome.UNANSWERED, "", ""),
            ]
        ):
            with db.transaction(sessions) as s:
                assert service.record_call_decision(
                    s,
                    now=at + dt.timedelta(minutes=i),
                    linkedid=f"1800000000.{i}",
                    subscriber_number=CONTRACT,
                    caller_number="0398765432",
                    presentation=Presentation.ALLOWED,
                    outcome=outcome,
                    dial_status="",
                    forward_dial_status="",
                    started_at=at + dt.timedelta(minutes=i),
                    ended_at=at + dt.timedelta(minutes=i),
                    mailed=False,
                    reason="answered" if outcome is CallOutcome.ANSWERED else "no_recipient",
                    rule="MAIL-4",
                    mails=[],
                    answered_by=answered_by,
                    answered_name=name,
                )
    finally:
        engine.dispose()
    calls = chakushin.json("number", "show", CONTRACT, "--calls")["calls"]
    assert [(c["outcome"], c["answered_by"], c["answered_name"]) for c in calls] == [
        ("unanswered", None, None),
        ("answered", "Local/desk@phones/n", "営業"),
        ("answered", "PJSIP/201", "受付"),
    ]
    text = chakushin("number", "show", CONTRACT, "--calls").stdout
    assert "answered by 営業 (Local/desk@phones/n)" in text
    assert "answered by 受付 (PJSIP/201)" in text
    assert text.count("answered by") == 2
