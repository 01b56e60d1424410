"""pyst2 behind the Channel protocol.

pyst2 0.5.1 speaks the AGI protocol for us (command methods, quoting,
result dictionaries, its exception tree), over text-mode file objects:
stdin/stdout for classic AGI, ``sock.makefile("r"/"w", encoding="utf-8")``
for FastAGI (its own ``asterisk.fastagi`` is Python 2 code and fails on
binary socket files). A check on Python 3.11 found bugs in its core that
``SafeAGI`` fixes, one override each, with the reason beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

import structlog
from asterisk.agi import (  # type: ignore[import-untyped]
    AGI,
    AGIAppError,
    AGIError,
    AGIHangup,
    AGIInvalidCommand,
    AGIResultHangup,
    AGISIGPIPEHangup,
    AGIUnknownError,
    AGIUsageError,
)

from agi.channel import CallerHangup, ChannelError, DigitEntry
from agi.prompts import Prompt, digit

Result = dict[str, tuple[str, str]]


class AGIStreamClosed(AGIHangup):  # type: ignore[misc]
    """The peer closed the stream (or it timed out): the call is gone."""


class AGILimitExceeded(AGIStreamClosed):
    """The peer broke one of the server's limits (issue 12); the session is cut.

    ``reason`` is the label of ``agi.server.REFUSAL_REASONS``. For a flow it
    is a hang-up: it ends at once and stores nothing.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AGIDeadChannel(AGIHangup):  # type: ignore[misc]
    """``511 Command Not Permitted on a dead channel``."""


class AGIResultFailed(AGIAppError):  # type: ignore[misc]
    """``200 result=-1``: the command failed or the caller hung up during it."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


class UnsafeAGIArgument(ValueError):
    """An argument that could break the command line it is sent on."""


# "200 result=<value> [(<data>)] [key=value ...]"; <value> may be empty, as in
# "200 result= (timeout)" from GET DATA.
_RESULT = re.compile(r"result=(?P<value>\S*)(?:\s+\((?P<data>.*)\))?(?P<rest>.*)$")
_KV = re.compile(r"(\w+)=(\S*)")
# C0 controls and DEL: CR/LF would end the command early and let the rest be
# read as a second command; a double quote or backslash would end or escape
# pyst2's quoting.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')


class _Discard:
    """Where pyst2's unconditional debug output goes."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class LineSource(Protocol):
    """Where SafeAGI reads Asterisk's lines: a text file, or the FastAGI server's bounded reader."""

    def readline(self) -> str: ...


# Asterisk 22 sends about 22 agi_* lines plus one agi_arg_N per AGI()
# argument (the shipped dialplan passes at most one).
MAX_ENVIRONMENT_LINES = 64


class SafeAGI(AGI):  # type: ignore[misc]
    def __init__(
        self,
        stdin: LineSource,
        stdout: TextIO,
        *,
        max_environment_lines: int = MAX_ENVIRONMENT_LINES,
    ) -> None:
        # Fix: AGI.__init__ installs a SIGHUP handler, which raises ValueError
        # outside the main thread (every FastAGI session runs in one), and
        # writes debug lines to stderr on every command. The classic entry
        # point installs the SIGHUP handler itself (chakushin.classic_agi).
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = _Discard()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self.max_environment_lines = max_environment_lines
        self._get_agi_env()

    def _get_agi_env(self) -> None:
        # Fix: at end of stream pyst2 stops as if the blank line had come, so
        # a peer that connects and closes looks like a call with no variables.
        # Fix: pyst2 reads environment lines without end; a peer could grow
        # the dictionary until the process runs out of memory.
        for _ in range(self.max_environment_lines + 1):
            line = self.stdin.readline()
            if not line:
                raise AGIStreamClosed("stream closed before the end of the AGI environment")
            line = line.strip()
            if not line:
                return
            # "agi_accountcode: " has an empty value; values may contain ':'.
            key, _, value = line.partition(":")
            if key.strip():
                self.env[key.strip()] = value.strip()
        raise AGILimitExceeded(
            "too_many_env_lines",
            f"more than {self.max_environment_lines} lines in the AGI environment",
        )

    def send_command(self, command: str, *args: Any) -> None:
        # Fix: pyst2 sends arguments as they are; reject any that could end
        # the line or the quoting.
        for arg in (command, *args):
            text = str(arg)
            inner = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
            if _UNSAFE.search(inner):
                raise UnsafeAGIArgument(f"unsafe AGI argument {text!r} in {command}")
        line = " ".join([command.strip(), *map(str, args)]).strip()
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def execute(self, command: str, *args: Any) -> Result:
        # Fix: pyst2 maps only EPIPE to a hangup; a reset or timed-out socket
        # raised as a plain OSError and looked like a bug.
        self.test_hangup()
        try:
            self.send_command(command, *args)
            return self.get_result()
        except (BrokenPipeError, ConnectionError, TimeoutError) as exc:
            raise AGISIGPIPEHangup(f"connection lost: {exc}") from exc

    def _readline(self) -> str:
        line = self.stdin.readline()
        if not line:
            raise AGIStreamClosed("stream closed while waiting for a result")
        return str(line).strip()

    def get_result(self, stdin: object = None) -> Result:
        while True:
            line = self._readline()
            # Fix: Asterisk writes "HANGUP" on its own line when the caller
            # hangs up during a FastAGI session; pyst2 raised ValueError on it.
            if line == "HANGUP":
                raise AGIResultHangup("caller hung up")
            # "200 result=1", "520-Invalid command syntax..." (a usage block)
            code, response = line[:3], line[4:]
            # Fix: "100 result=0 Trying..." is an interim answer before the
            # real one; pyst2 took it for an error.
            if code == "100":
                continue
            break
        if code == "200":
            return self._parse_200(response)
        if code == "510":
            raise AGIInvalidCommand(response)
        # Fix: 511 (dead channel) became a generic AGIUnknownError.
        if code == "511":
            raise AGIDeadChannel(response)
        if code == "520":
            # Fix: at end of stream inside a "520-" usage block pyst2 read
            # empty lines forever at 100 % CPU.
            usage = [line]
            while not line.startswith("520 "):
                line = self._readline()
                usage.append(line)
            raise AGIUsageError("\n".join(usage))
        raise AGIUnknownError(code, f"unexpected AGI answer {line!r}")

    @staticmethod
    def _parse_200(response: str) -> Result:
        # Fix: pyst2's pattern needs a non-empty value, so "result= (timeout)"
        # lost the timeout flag and read as an empty success.
        match = _RESULT.search(response)
        if match is None:
            raise AGIUnknownError(200, f"no result in {response!r}")
        result: Result = {"result": (match["value"], match["data"] or "")}
        for key, value in _KV.findall(match["rest"]):
            result[key] = (value, "")
        if result["result"][1] == "hangup":
            raise AGIResultHangup("caller hung up during the command")
        if result["result"][0] == "-1":
            raise AGIResultFailed("command failed or caller hung up", result)
        return result


class AGIChannel:
    """The Channel protocol over one AGI session."""

    def __init__(self, agi: SafeAGI, sounds_dir: str) -> None:
        self.agi = agi
        self.sounds_dir = sounds_dir.strip("/")
        self.log = structlog.get_logger("agi.channel").bind(call_id=agi.env.get("agi_uniqueid", ""))

    @property
    def env(self) -> Mapping[str, str]:
        return self.agi.env

    def _file(self, prompt: Prompt) -> str:
        return f"{self.sounds_dir}/{prompt.value}"

    def play(self, prompt: Prompt) -> None:
        try:
            self.agi.stream_file(self._file(prompt))
        except AGIResultFailed:
            # STREAM FILE answers result=-1 when the sound file is missing; the
            # caller still listens, so go on. A caller who hung up shows on the
            # next command as HANGUP or 511.
            self.log.warning("prompt_missing", prompt=prompt.value, file=self._file(prompt))
        except AGIHangup as exc:
            raise CallerHangup(str(exc)) from exc
        except AGIError as exc:
            raise ChannelError(f"STREAM FILE {prompt.value}: {exc}") from exc

    def say_digits(self, digits: str) -> None:
        for d in digits:
            self.play(digit(d))

    def read_digits(self, prompt: Prompt, *, max_digits: int, timeout: float) -> DigitEntry:
        try:
            result = self.agi.execute(
                "GET DATA", self._file(prompt), int(timeout * 1000), max_digits
            )
        except (AGIHangup, AGIResultFailed) as exc:
            # GET DATA answers -1 only when the channel hung up or failed.
            raise CallerHangup(str(exc)) from exc
        except AGIError as exc:
            raise ChannelError(f"GET DATA {prompt.value}: {exc}") from exc
        value, data = result["result"]
        # '#' ends input and is not part of the result ("200 result=").
        return DigitEntry(value, timed_out=data == "timeout")

    def get_variable(self, name: str) -> str:
        try:
            # Not pyst2's get_variable: it turns a hangup into the value "hangup".
            result = self.agi.execute("GET VARIABLE", self.agi._quote(name))
        except AGIHangup as exc:
            raise CallerHangup(str(exc)) from exc
        except AGIError as exc:
            raise ChannelError(f"GET VARIABLE {name}: {exc}") from exc
        value, data = result["result"]
        return data if value == "1" else ""

    def set_variable(self, name: str, value: str) -> None:
        try:
            self.agi.set_variable(name, value)
        except AGIHangup as exc:
            raise CallerHangup(str(exc)) from exc
        except AGIError as exc:
            raise ChannelError(f"SET VARIABLE {name}: {exc}") from exc

    def database_put(self, family: str, key: str, value: str) -> bool:
        return self._database("DATABASE PUT", family, key, value)

    def database_del(self, family: str, key: str) -> bool:
        return self._database("DATABASE DEL", family, key)

    def _database(self, command: str, *args: str) -> bool:
        # Not pyst2's database_put/del: they raise on result=0.
        try:
            result = self.agi.execute(command, *map(self.agi._quote, args))
        except AGIHangup as exc:
            raise CallerHangup(str(exc)) from exc
        except AGIError as exc:
            raise ChannelError(f"{command} {args[0]}: {exc}") from exc
        return bool(result["result"][0] == "1")

    def hangup(self) -> None:
        try:
            self.agi.hangup()
        except (AGIHangup, AGIResultFailed):
            pass  # already gone: that is what we wanted
        except AGIError as exc:
            raise ChannelError(f"HANGUP: {exc}") from exc
