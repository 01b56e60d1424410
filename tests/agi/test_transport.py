"""SafeAGI: each fix to pyst2 0.5.1, on the exact lines Asterisk sends."""

from __future__ import annotations

import io
import threading

import pytest
from asterisk.agi import (  # type: ignore[import-untyped]
    AGIHangup,
    AGIInvalidCommand,
    AGIUsageError,
)

from agi.channel import CallerHangup
from agi.prompts import Prompt
from agi.transport import (
    AGIChannel,
    AGIDeadChannel,
    AGIResultFailed,
    AGIStreamClosed,
    SafeAGI,
    UnsafeAGIArgument,
)

ENV = "agi_request: agi://127.0.0.1/temp-password\nagi_accountcode: \nagi_callerid: 0312345678\n"
ENV += "agi_calleridname: 山田:太郎\nagi_uniqueid: 1700000000.7\n\n"


def session(answers: str) -> tuple[SafeAGI, io.StringIO]:
    out = io.StringIO()
    return SafeAGI(io.StringIO(ENV + answers), out), out


def test_environment_keeps_empty_values_and_colons() -> None:
    agi, _ = session("")
    assert agi.env["agi_accountcode"] == ""
    assert agi.env["agi_calleridname"] == "山田:太郎"
    assert agi.env["agi_callerid"] == "0312345678"


def test_environment_cut_short_is_a_hangup_not_an_empty_call() -> None:
    with pytest.raises(AGIStreamClosed):
        SafeAGI(io.StringIO("agi_request: x\nagi_callerid: 03"), io.StringIO())
    with pytest.raises(AGIStreamClosed):
        SafeAGI(io.StringIO(""), io.StringIO())


def test_no_sighup_handler_and_no_stderr_chatter(capsys: pytest.CaptureFixture[str]) -> None:
    errors: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            agi, _ = session("200 result=1\n")
            agi.execute("NOOP")
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert errors == []
    assert capsys.readouterr().err == ""


def test_hangup_line_is_a_hangup() -> None:
    agi, _ = session("HANGUP\n")
    with pytest.raises(AGIHangup):
        agi.execute("STREAM FILE", "x", '""', 0)


def test_end_of_stream_is_a_hangup() -> None:
    agi, _ = session("")
    with pytest.raises(AGIStreamClosed):
        agi.execute("ANSWER")


def test_interim_100_trying_is_skipped() -> None:
    agi, _ = session("100 result=0 Trying...\n200 result=0 endpos=1234\n")
    result = agi.execute("STREAM FILE", "x", '""', 0)
    assert result["result"] == ("0", "") and result["endpos"] == ("1234", "")


def test_511_dead_channel_is_a_hangup() -> None:
    agi, _ = session(
        "511 Command Not Permitted on a dead channel or intercepted by a dialplan application\n"
    )
    with pytest.raises(AGIDeadChannel):
        agi.execute("GET DATA", "x", 1000, 1)
    assert issubclass(AGIDeadChannel, AGIHangup)


def test_510_is_an_invalid_command() -> None:
    agi, _ = session("510 Invalid or unknown command\n")
    with pytest.raises(AGIInvalidCommand):
        agi.execute("FROB")


def test_usage_block_is_read_whole() -> None:
    agi, _ = session(
        "520-Invalid command syntax.  Proper usage follows:\nUsage: GET DATA\n"
        "520 End of proper usage.\n"
    )
    with pytest.raises(AGIUsageError, match="Usage: GET DATA"):
        agi.execute("GET DATA")


def test_end_of_stream_inside_a_usage_block_ends_instead_of_spinning() -> None:
    agi, _ = session("520-Invalid command syntax.  Proper usage follows:\nUsage: GET DATA\n")
    outcome: list[type[BaseException]] = []

    def read() -> None:
        try:
            agi.execute("GET DATA")
        except AGIStreamClosed as exc:
            outcome.append(type(exc))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "get_result spins at end of stream"
    assert outcome == [AGIStreamClosed]


@pytest.mark.parametrize(
    ("line", "digits", "timed_out"),
    [
        ("200 result= (timeout)", "", True),
        ("200 result=", "", False),  # '#' alone
        ("200 result=123 (timeout)", "123", True),
        ("200 result=12345678", "12345678", False),
    ],
)
def test_get_data_keeps_the_timeout_flag(line: str, digits: str, timed_out: bool) -> None:
    agi, out = session(line + "\n")
    entry = AGIChannel(agi, "chakushin").read_digits(Prompt.TP_UNIT_MENU, max_digits=8, timeout=10)
    assert (entry.digits, entry.timed_out) == (digits, timed_out)
    assert out.getvalue() == "GET DATA chakushin/tp-unit-menu 10000 8\n"


def test_get_data_minus_one_is_a_hangup() -> None:
    agi, _ = session("200 result=-1\n")
    with pytest.raises(CallerHangup):
        AGIChannel(agi, "chakushin").read_digits(Prompt.TP_UNIT_MENU, max_digits=1, timeout=5)


def test_stream_file_minus_one_is_a_missing_file_not_a_hangup() -> None:
    agi, out = session("200 result=-1 endpos=0\n200 result=0 endpos=100\n")
    channel = AGIChannel(agi, "chakushin")
    channel.play(Prompt.TP_INVALID_ENTRY)
    channel.play(Prompt.TP_CALL_AGAIN)
    assert out.getvalue().splitlines() == [
        'STREAM FILE chakushin/tp-invalid-entry "" 0',
        'STREAM FILE chakushin/tp-call-again "" 0',
    ]


def test_get_variable_reports_hangup_instead_of_the_value_hangup() -> None:
    agi, _ = session("200 result=1 (Line 1 (main))\n200 result=0\nHANGUP\n")
    channel = AGIChannel(agi, "chakushin")
    assert channel.get_variable("CALLERID(name)") == "Line 1 (main)"
    assert channel.get_variable("UNSET") == ""
    with pytest.raises(CallerHangup):
        channel.get_variable("X")


@pytest.mark.parametrize(
    "value", ["a\nHANGUP", "a\rb", "tab\there", 'quo"te', "back\\slash", "\x00"]
)
def test_arguments_with_control_characters_are_refused(value: str) -> None:
    agi, out = session("200 result=1\n")
    with pytest.raises(UnsafeAGIArgument):
        agi.set_variable("CHAKUSHIN_X", value)
    assert out.getvalue() == ""


def test_result_minus_one_on_other_commands_is_a_failure_with_the_result() -> None:
    agi, _ = session("200 result=-1\n")
    with pytest.raises(AGIResultFailed) as err:
        agi.execute("EXEC", "Playback", '"x"')
    assert err.value.result["result"] == ("-1", "")
