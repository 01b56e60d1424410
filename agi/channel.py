"""The small Channel protocol that voice flows talk to.

Flows never see a socket: the AGI transport (``agi.transport``, pyst2) is
one adapter behind this protocol and the scripted fake (``agi.scripted``)
another. Prompts are played by catalogue id (``agi.prompts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from agi.prompts import Prompt


class CallerHangup(Exception):
    """The caller hung up or the channel died; the flow must end at once."""


class ChannelError(RuntimeError):
    """Asterisk answered a command in a way the flow cannot go on from."""


@dataclass(frozen=True)
class DigitEntry:
    """What the caller keyed in: the digits (``#`` not included) and why input ended.

    ``timed_out`` is true when the input timeout ran out (with or without
    digits); ``#`` or the digit limit end input without it.
    """

    digits: str
    timed_out: bool = False


class Channel(Protocol):
    @property
    def env(self) -> Mapping[str, str]:
        """The ``agi_*`` variables Asterisk sent when the session began."""
        ...

    def play(self, prompt: Prompt) -> None:
        """Play a prompt to the end (a missing sound file is logged, not fatal)."""
        ...

    def say_digits(self, digits: str) -> None:
        """Read a number back digit by digit."""
        ...

    def read_digits(self, prompt: Prompt, *, max_digits: int, timeout: float) -> DigitEntry:
        """Play ``prompt`` and collect up to ``max_digits`` digits, ``#`` ending early."""
        ...

    def get_variable(self, name: str) -> str:
        """A channel variable or function value; empty when unset."""
        ...

    def set_variable(self, name: str, value: str) -> None: ...

    def database_put(self, family: str, key: str, value: str) -> bool:
        """Store ``value`` in Asterisk's AstDB; False when Asterisk could not."""
        ...

    def database_del(self, family: str, key: str) -> bool:
        """Remove a key from AstDB; False when there was none (or it could not)."""
        ...

    def hangup(self) -> None: ...
