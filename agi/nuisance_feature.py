"""The nuisance-list feature code (CALL-2): from the subscriber's own phone,
144 then 2 puts the last caller on that number's nuisance list.

A caller who withheld the number is listed hidden: refused like the
others, never read back or shown. The result is spoken and set in
``CHAKUSHIN_FEATURE_OUTCOME``, in one place (``run()``, the flow's one
exit): a step that ends the call early raises ``agi.flow.FlowBreak``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from agi.caller import caller_of
from agi.channel import CallerHangup, Channel, ChannelError
from agi.flow import Ending, FlowBreak, StoreExits, ask_store, finish
from agi.prompts import Prompt
from dialplan import variables as v
from store import caller_number
from store.service import LastCallerResult

MAX_TRIES = 3
REGISTER_DIGIT = "2"

T = TypeVar("T")


class Outcome(enum.StrEnum):
    ADDED = "added"
    ADDED_HIDDEN = "added_hidden"
    ALREADY_LISTED = "already_listed"
    LIST_FULL = "list_full"
    NO_LAST_CALL = "no_last_call"
    NO_NUMBER = "no_number"
    NOT_SUBSCRIBED = "not_subscribed"
    NO_CHOICE = "no_choice"
    CALLER_HANGUP = "caller_hangup"
    SYSTEM_ERROR = "system_error"


RESULT_PROMPTS = {
    LastCallerResult.ADDED: Prompt.NUISANCE_ADDED,
    LastCallerResult.ADDED_HIDDEN: Prompt.NUISANCE_ADDED_WITHHELD,
    LastCallerResult.ALREADY_LISTED: Prompt.NUISANCE_ALREADY_LISTED,
    LastCallerResult.LIST_FULL: Prompt.NUISANCE_LIST_FULL,
    LastCallerResult.NO_LAST_CALL: Prompt.NUISANCE_NO_LAST_CALL,
    LastCallerResult.NO_NUMBER: Prompt.NUISANCE_NO_NUMBER,
}


END_NOT_SUBSCRIBED = Ending(Outcome.NOT_SUBSCRIBED, (Prompt.NUISANCE_NOT_SUBSCRIBED,))
END_NO_CHOICE = Ending(Outcome.NO_CHOICE)
END_SYSTEM_ERROR = Ending(Outcome.SYSTEM_ERROR, (Prompt.SYSTEM_ERROR,))
STORE_EXITS = StoreExits(
    unavailable=END_SYSTEM_ERROR,
    unavailable_event="nuisance_feature_store_unavailable",
    refused=END_NOT_SUBSCRIBED,
    refused_event="nuisance_feature_refused",
)


class NuisanceStore(Protocol):
    """``agi.wiring.SqlNuisanceStore``: both raise ``StoreUnavailable`` when the
    database cannot answer and a ``DomainError`` when the domain layer
    refuses the number (unknown, or without the nuisance service)."""

    def subscribes(self, number: str) -> bool: ...

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]: ...


@dataclass
class NuisanceFeatureCall:
    channel: Channel
    store: NuisanceStore
    input_timeout: float = 10.0
    # call.e164_without_plus: a caller ID 81... is read as +81... (store.caller_number).
    e164_without_plus: bool = False

    def __post_init__(self) -> None:
        # The subscriber's own phone, in the national form its number is stored in
        # (a trunk or a PBX in front may present it as +81...).
        self.subscriber = caller_number.national_form(
            self.channel.env.get("agi_callerid", ""), e164_without_plus=self.e164_without_plus
        )
        # MAIL-9: the subscriber's phone may withhold its number (184); then
        # the log says so instead of the digits.
        self.log = structlog.get_logger("agi.nuisance_feature").bind(
            call_id=self.channel.env.get("agi_uniqueid", ""),
            number=caller_of(self.channel.env, e164_without_plus=self.e164_without_plus).logged,
        )

    def run(self) -> str:
        """Run the feature code to its end; the one exit plays the ending and sets the outcome."""
        try:
            try:
                ending = self._steps()
            except FlowBreak as stop:
                ending = stop.ending
            finish(self.channel, ending, v.FEATURE_OUTCOME)
            outcome = Outcome(ending.outcome)
        except CallerHangup:
            outcome = Outcome.CALLER_HANGUP
        except ChannelError as exc:
            self.log.error("nuisance_feature_channel_error", error=str(exc))
            outcome = Outcome.SYSTEM_ERROR
        self.log.info("nuisance_feature_done", outcome=outcome.value)
        return outcome.value

    def _steps(self) -> Ending:
        if not self._store(lambda: self.store.subscribes(self.subscriber)):
            raise FlowBreak(END_NOT_SUBSCRIBED)
        for _ in range(MAX_TRIES):
            entry = self.channel.read_digits(
                Prompt.NUISANCE_MENU, max_digits=1, timeout=self.input_timeout
            )
            if entry.digits == REGISTER_DIGIT:
                break
        else:
            raise FlowBreak(END_NO_CHOICE)
        result, read_back = self._store(lambda: self.store.add_last_caller(self.subscriber))
        return Ending(Outcome(result.value), (RESULT_PROMPTS[result],), read_back or "")

    def _store(self, ask: Callable[[], T]) -> T:
        """One question to the store (``agi.flow.ask_store``).

        A refusal (CALL-2: the number is unknown or has no nuisance service,
        perhaps since the call began) is the not-subscribed ending.
        """
        return ask_store(self.log, ask, STORE_EXITS)
