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

A question to the store ends the call the same way in every flow that
plays an ending (the temporary-password line, the nuisance feature code):
``ask_store`` turns ``StoreUnavailable`` and a refusal of the domain
layer into that flow's ``StoreExits``. Call routing has no ending to play:
its fail path hands the call to the dialplan's fallback endpoint and logs
both causes as one ``call_route_fallback`` event, so it keeps its own
``try`` (``agi.call_route.RouteCall._decide``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from agi.channel import CallerHangup, Channel
from agi.prompts import Prompt
from store.errors import DomainError, StoreUnavailable

T = TypeVar("T")


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


@dataclass(frozen=True)
class StoreExits:
    """How a flow ends when its store cannot answer or refuses, and what it logs then."""

    # The database cannot answer: logged at error with the error's first line.
    unavailable: Ending
    unavailable_event: str
    # The domain layer refuses (IVR-2, CALL-2): logged by the refusal's code.
    refused: Ending
    refused_event: str


def ask_store(
    log: structlog.typing.FilteringBoundLogger, ask: Callable[[], T], exits: StoreExits
) -> T:
    """One question to the store; the call ends with ``exits`` if it cannot answer or refuses.

    A refusal is logged by its code only (``reason``): the domain layer's
    message names the caller's or the subscriber's number (MAIL-9).
    ``StoreUnavailable``'s message is the database error's first line,
    without the SQL parameters.
    """
    try:
        return ask()
    except StoreUnavailable as exc:
        log.error(exits.unavailable_event, error=str(exc))
        raise FlowBreak(exits.unavailable) from exc
    except DomainError as exc:
        log.info(exits.refused_event, reason=exc.code)
        raise FlowBreak(exits.refused) from exc
