"""The nuisance-list feature code (CALL-2): from the subscriber's own phone,
144 then 2 puts the last caller on that number's nuisance list.

A caller who withheld the number is listed hidden: refused like the
others, never read back or shown. The result is spoken and set in
``CHAKUSHIN_FEATURE_OUTCOME``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

import structlog

from agi.caller import caller_of
from agi.channel import CallerHangup, Channel, ChannelError
from agi.prompts import Prompt
from dialplan import variables as v
from store.service import LastCallerResult

MAX_TRIES = 3
REGISTER_DIGIT = "2"


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


class NotSubscribed(Exception):
    pass


class StoreUnavailable(RuntimeError):
    pass


class NuisanceStore(Protocol):
    def subscribes(self, number: str) -> bool: ...

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]: ...


@dataclass
class NuisanceFeatureCall:
    channel: Channel
    store: NuisanceStore
    input_timeout: float = 10.0

    def run(self) -> str:
        subscriber = self.channel.env.get("agi_callerid", "")
        # MAIL-9: the subscriber's phone may withhold its number (184); then
        # the log says so instead of the digits.
        log = structlog.get_logger("agi.nuisance_feature").bind(
            call_id=self.channel.env.get("agi_uniqueid", ""),
            number=caller_of(self.channel.env).logged,
        )
        try:
            outcome = self._run(subscriber)
        except CallerHangup:
            outcome = Outcome.CALLER_HANGUP
        except StoreUnavailable as exc:
            log.error("nuisance_feature_store_unavailable", error=str(exc))
            outcome = self._finish(Outcome.SYSTEM_ERROR, Prompt.SYSTEM_ERROR)
        except ChannelError as exc:
            log.error("nuisance_feature_channel_error", error=str(exc))
            outcome = Outcome.SYSTEM_ERROR
        log.info("nuisance_feature_done", outcome=outcome.value)
        return outcome.value

    def _run(self, subscriber: str) -> Outcome:
        if not self.store.subscribes(subscriber):
            return self._finish(Outcome.NOT_SUBSCRIBED, Prompt.NUISANCE_NOT_SUBSCRIBED)
        for _ in range(MAX_TRIES):
            entry = self.channel.read_digits(
                Prompt.NUISANCE_MENU, max_digits=1, timeout=self.input_timeout
            )
            if entry.digits == REGISTER_DIGIT:
                break
        else:
            return self._finish(Outcome.NO_CHOICE)
        result, read_back = self.store.add_last_caller(subscriber)
        return self._finish(Outcome(result.value), RESULT_PROMPTS[result], read_back=read_back)

    def _finish(
        self, outcome: Outcome, prompt: Prompt | None = None, *, read_back: str | None = None
    ) -> Outcome:
        try:
            if read_back:
                self.channel.say_digits(read_back)
            if prompt is not None:
                self.channel.play(prompt)
            self.channel.set_variable(v.FEATURE_OUTCOME, outcome.value)
            self.channel.hangup()
        except CallerHangup:
            pass
        return outcome
