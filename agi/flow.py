"""One exit for every voice flow, as wazo-agid's ``dp_break``.

A flow's steps run until the call is decided. The last step returns the
``Ending``; any step that decides earlier (the third invalid entry, IVR-8;
a caller the domain layer refuses, IVR-2; a store that cannot answer)
raises ``FlowBreak(ending)`` instead of returning early. The flow's
``run()`` is then the one place that turns the ending into what the
caller hears last, the outcome variable the dialplan reads and the
hang-up (``finish``), so no failure repeats, or forgets, a part of it.

The caller hanging up (``CallerHangup``) and Asterisk answering nonsense
(``ChannelError``) are not endings: the channel can take nothing more,
and the flow's ``run()`` only records the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from agi.channel import CallerHangup, Channel
from agi.prompts import Prompt


@dataclass(frozen=True)
class Ending:
    """How a call ends: its outcome and its last words."""

    outcome: str
    prompts: tuple[Prompt, ...] = ()
    # A number said digit by digit before the prompts (the seeds' △△△番の…).
    read_back: str = ""


class FlowBreak(Exception):
    """Leave the flow now with ``ending``; the flow's ``run()`` gives it to the caller."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(ending.outcome)
        self.ending = ending


def finish(channel: Channel, ending: Ending, outcome_variable: str) -> None:
    """The last words, the outcome variable, the hang-up; a caller already gone changes nothing.

    The outcome was decided before these commands (IVR-9: the temporary
    password is stored before its read-back), so a hang-up during them
    leaves it as it is.
    """
    try:
        if ending.read_back:
            channel.say_digits(ending.read_back)
        for prompt in ending.prompts:
            channel.play(prompt)
        channel.set_variable(outcome_variable, ending.outcome)
        channel.hangup()
    except CallerHangup:
        pass
