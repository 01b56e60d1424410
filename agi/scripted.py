"""A Channel driven by a script of caller actions, for tests, demos and benchmarks.

The script is the caller's side of the call: what they key in at each
``read_digits`` (``"1"``, ``"0312345678#"``, ``TIMEOUT``) or ``HANGUP`` to
hang up at that point. Every command the flow gives is recorded in
``events`` so a test can assert the exact prompts played.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from agi.channel import CallerHangup, DigitEntry
from agi.prompts import Prompt

TIMEOUT: Final = "<timeout>"
HANGUP: Final = "<hangup>"


@dataclass
class ScriptedChannel:
    caller_actions: Iterable[str]
    variables: dict[str, str] = field(default_factory=dict)
    database: dict[str, str] = field(default_factory=dict)  # AstDB: "family/key" -> value
    agi_env: dict[str, str] = field(default_factory=dict)
    # Hang up when the flow reaches its n-th command (0-based), whatever it is.
    hangup_at_command: int | None = None
    events: list[tuple[str, str]] = field(default_factory=list)
    hung_up: bool = False

    def __post_init__(self) -> None:
        self._actions = deque(self.caller_actions)

    @property
    def env(self) -> Mapping[str, str]:
        return self.agi_env

    def _command(self, kind: str, arg: str) -> None:
        if self.hung_up:
            raise CallerHangup("channel is dead")
        if self.hangup_at_command is not None and len(self.events) >= self.hangup_at_command:
            self.hung_up = True
            raise CallerHangup(f"caller hung up at {kind} {arg}")
        self.events.append((kind, arg))

    def play(self, prompt: Prompt) -> None:
        self._command("play", prompt.value)

    def say_digits(self, digits: str) -> None:
        self._command("say_digits", digits)

    def read_digits(self, prompt: Prompt, *, max_digits: int, timeout: float) -> DigitEntry:
        self._command("read", prompt.value)
        if not self._actions:
            raise AssertionError(f"the script has no caller action left for {prompt.value}")
        action = self._actions.popleft()
        if action == HANGUP:
            self.hung_up = True
            raise CallerHangup("caller hung up while asked for digits")
        if action == TIMEOUT:
            return DigitEntry("", timed_out=True)
        # Like GET DATA: input stops at '#', or when max_digits have been keyed.
        keyed = action.split("#", 1)[0]
        return DigitEntry(keyed[:max_digits], timed_out=False)

    def get_variable(self, name: str) -> str:
        self._command("get", name)
        return self.variables.get(name, "")

    def set_variable(self, name: str, value: str) -> None:
        self._command("set", f"{name}={value}")
        self.variables[name] = value

    def database_put(self, family: str, key: str, value: str) -> bool:
        self._command("db_put", f"{family}/{key}={value}")
        self.database[f"{family}/{key}"] = value
        return True

    def database_del(self, family: str, key: str) -> bool:
        self._command("db_del", f"{family}/{key}")
        return self.database.pop(f"{family}/{key}", None) is not None

    def hangup(self) -> None:
        self._command("hangup", "")
        self.hung_up = True

    @property
    def prompts(self) -> list[str]:
        """Prompts played or asked with, and numbers read back, in order."""
        return [arg for kind, arg in self.events if kind in ("play", "read", "say_digits")]
