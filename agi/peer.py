"""Asterisk's side of an AGI session, for tests, the demo and the benchmark.

``AsteriskPeer`` speaks the AGI wire protocol the way Asterisk 22 does: it
sends the ``agi_*`` header block (with the real quirks: empty values such
as ``agi_accountcode: ``, a UTF-8 caller name), then answers each command
line with ``200 result=...``, ``510``/``511``, or ``HANGUP``, playing a
caller who keys in the given digits. It runs over TCP against the FastAGI
server or over pipes against a classic AGI process.

The caller's actions use the vocabulary of ``agi.scripted``: digits with
an optional ``#`` (``"0312345678#"``), ``TIMEOUT`` or ``HANGUP``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

from agi.scripted import HANGUP, TIMEOUT

DEAD = "511 Command Not Permitted on a dead channel or intercepted by a dialplan application"


class HangupStyle(enum.Enum):
    """How Asterisk lets a session know that the caller hung up."""

    HANGUP_LINE = "hangup_line"  # FastAGI: a "HANGUP" line, then 511 for every command
    RESULT_MINUS_ONE = "result_minus_one"  # the command in flight answers -1, then 511
    CLOSE = "close"  # the connection just ends


@dataclass
class AsteriskPeer:
    caller_id: str
    caller_actions: Iterable[str] = ()
    script: str = "temp-password"
    uniqueid: str = "1700000000.1"
    missing_files: frozenset[str] = frozenset()
    # The caller hangs up when the n-th command (0-based) arrives.
    hangup_at_command: int | None = None
    hangup_style: HangupStyle = HangupStyle.HANGUP_LINE
    # Send "100 result=0 Trying..." before every answer.
    interim_trying: bool = False
    # Called with the command's index before it is answered: a test can hold
    # the call there (a caller in the middle of the flow).
    before_answer: Callable[[int], None] | None = None
    # Header lines to add or replace (e.g. agi_callingpres, agi_arg_1).
    env_overrides: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    # AstDB: "family/key" -> value, as DATABASE PUT / DEL leave it; with
    # database_fails every write answers result=0 (Asterisk could not write).
    database: dict[str, str] = field(default_factory=dict)
    database_fails: bool = False
    commands: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    dead: bool = False
    # After over_process: what the script wrote on stderr, and its exit status.
    stderr: str = ""
    returncode: int | None = None
    _process: subprocess.Popen[str] | None = None

    def __post_init__(self) -> None:
        self._actions = deque(self.caller_actions)

    # --- the header block ---------------------------------------------------------

    def environment(self, *, network: bool) -> str:
        request = f"agi://127.0.0.1/{self.script}" if network else f"chakushin-agi {self.script}"
        lines = [
            *(["agi_network: yes", f"agi_network_script: {self.script}"] if network else []),
            f"agi_request: {request}",
            f"agi_channel: PJSIP/{self.caller_id or 'anonymous'}-0000002a",
            "agi_language: ja",
            "agi_type: PJSIP",
            f"agi_uniqueid: {self.uniqueid}",
            "agi_version: 22.10.1",
            f"agi_callerid: {self.caller_id or 'unknown'}",
            "agi_calleridname: 山田太郎",
            "agi_callingpres: 0",
            "agi_callingani2: 0",
            "agi_callington: 0",
            "agi_callingtns: 0",
            "agi_dnid: 0363044747",
            "agi_rdnis: unknown",
            "agi_context: chakushin-temp-password",
            "agi_extension: s",
            "agi_priority: 4",
            "agi_enhanced: 0.0",
            "agi_accountcode: ",
            "agi_threadid: 139872190281280",
            *([] if network else [f"agi_arg_1: {self.script}"]),
        ]
        env = dict(line.split(": ", 1) for line in lines)
        env.update(self.env_overrides)
        return "".join(f"{key}: {value}\n" for key, value in env.items()) + "\n"

    # --- transports ---------------------------------------------------------------

    def over_tcp(self, host: str, port: int, *, timeout: float = 30.0) -> AsteriskPeer:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            reader = sock.makefile("r", encoding="utf-8", newline="\n")
            writer = sock.makefile("w", encoding="utf-8", newline="\n")
            try:
                self.converse(reader, writer, network=True, sock=sock)
            finally:
                for f in (writer, reader):
                    with contextlib.suppress(OSError):
                        f.close()
        return self

    def over_process(
        self, argv: list[str], *, env: Mapping[str, str], timeout: float = 60.0
    ) -> AsteriskPeer:
        """Run a classic AGI script as Asterisk does: one process, pipes, SIGHUP on hang-up."""
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=dict(env),
        )
        self._process = process
        if process.stdin is None or process.stdout is None:  # pragma: no cover - PIPE given
            raise RuntimeError("no pipes to the AGI process")
        try:
            self.converse(process.stdout, process.stdin, network=False)
        finally:
            with contextlib.suppress(OSError):
                process.stdin.close()
            try:
                self.returncode = process.wait(timeout=timeout)
            finally:
                if process.returncode is None:
                    process.kill()
                    process.wait()
                if process.stderr is not None:
                    self.stderr = process.stderr.read()
                    process.stderr.close()
                process.stdout.close()
        return self

    # --- the conversation ---------------------------------------------------------

    def converse(
        self, reader: IO[str], writer: IO[str], *, network: bool, sock: socket.socket | None = None
    ) -> None:
        self._send(writer, self.environment(network=network))
        answered_at = time.perf_counter()
        while True:
            try:
                line = reader.readline()
            except OSError:
                return
            if not line:
                return  # the script ended the session
            self.latencies.append(time.perf_counter() - answered_at)
            command = line.rstrip("\n")
            self.commands.append(command)
            if self.before_answer is not None:
                self.before_answer(len(self.commands) - 1)
            if self.dead:
                self._send(writer, DEAD + "\n")
            elif self.hangup_at_command is not None and len(self.commands) > self.hangup_at_command:
                if not self._hang_up(writer, sock):
                    return
            else:
                answer = self.answer(command)
                if answer is None:  # the caller hung up while asked for digits
                    if not self._hang_up(writer, sock):
                        return
                else:
                    prefix = "100 result=0 Trying...\n" if self.interim_trying else ""
                    self._send(writer, prefix + answer + "\n")
            answered_at = time.perf_counter()

    def _send(self, writer: IO[str], text: str) -> None:
        try:
            writer.write(text)
            writer.flush()
        except OSError:
            pass  # the script is gone; the next read ends the conversation

    def _hang_up(self, writer: IO[str], sock: socket.socket | None) -> bool:
        """The caller hangs up during the command just received; False: connection closed."""
        self.dead = True
        if self._process is not None:  # classic AGI learns of it by SIGHUP
            self._process.send_signal(signal.SIGHUP)
        if self.hangup_style is HangupStyle.CLOSE:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            return False
        if self.hangup_style is HangupStyle.HANGUP_LINE and self._process is None:
            self._send(writer, "HANGUP\n")
        else:
            self._send(writer, "200 result=-1\n")
        return True

    def answer(self, command: str) -> str | None:
        """Asterisk's answer to one command line; None when the caller hangs up."""
        try:
            words = shlex.split(command)
        except ValueError:
            return "510 Invalid or unknown command"
        upper = [w.upper() for w in words]
        if upper[:2] == ["STREAM", "FILE"] and len(words) >= 3:
            if words[2] in self.missing_files:
                return "200 result=-1 endpos=0"
            return "200 result=0 endpos=16000"
        if upper[:2] == ["GET", "DATA"] and len(words) >= 5:
            return self._get_data(int(words[4]))
        if upper[:2] == ["SET", "VARIABLE"] and len(words) == 4:
            self.variables[words[2]] = words[3]
            return "200 result=1"
        if upper[:2] == ["DATABASE", "PUT"] and len(words) == 5:
            if self.database_fails:
                return "200 result=0"
            self.database[f"{words[2]}/{words[3]}"] = words[4]
            return "200 result=1"
        if upper[:2] == ["DATABASE", "DEL"] and len(words) == 4:
            found = self.database.pop(f"{words[2]}/{words[3]}", None) is not None
            return "200 result=1" if found and not self.database_fails else "200 result=0"
        if upper[:2] == ["GET", "VARIABLE"] and len(words) == 3:
            value = self.variables.get(words[2])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if upper == ["HANGUP"] or upper[:1] == ["HANGUP"]:
            self.dead = True
            return "200 result=1"
        if upper[:1] == ["ANSWER"]:
            return "200 result=0"
        return "510 Invalid or unknown command"

    def _get_data(self, max_digits: int) -> str | None:
        if not self._actions:
            return "200 result= (timeout)"
        action = self._actions.popleft()
        if action == HANGUP:
            return None
        if action == TIMEOUT:
            return "200 result= (timeout)"
        keyed, hash_pressed, _ = action.partition("#")
        if len(keyed) >= max_digits:
            return f"200 result={keyed[:max_digits]}"
        if hash_pressed:
            return f"200 result={keyed}"
        return f"200 result={keyed} (timeout)"  # typed some digits, then stopped

    # --- what happened --------------------------------------------------------------

    @property
    def prompts(self) -> list[str]:
        """Sound files played or asked with, in order, without their directory."""
        played = []
        for command in self.commands:
            match = re.match(r"(?:STREAM FILE|GET DATA) (\S+)", command)
            if match:
                played.append(os.path.basename(match[1].strip('"')))
        return played
