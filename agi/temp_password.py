"""The temporary-password line (仮パスワード設定), IVR-2 ... IVR-10.

One call, one ``TempPasswordCall``: check the caller (IVR-2), ask the auth
unit (IVR-3), find the number to set (IVR-4/5/6), take the eight digits
twice (IVR-7), store them (IVR-9). Every invalid entry plays the error
guidance and asks again; the third ends the call (IVR-8). Nothing is
written before the last step, so a call that does not complete, whether
the caller hangs up or errs three times, leaves no state (IVR-10).

Every way the call ends leaves through one exit (``agi.flow``): a step
that ends the call early raises ``FlowBreak`` with its ``Ending``, and
``run()`` plays it. A store that cannot answer (``StoreUnavailable``)
plays the system-error guidance; a refusal of the domain layer (the
caller's right is checked again at the save, IVR-2) is the IVR-2 ending.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from agi.caller import caller_of
from agi.channel import CallerHangup, Channel, ChannelError, DigitEntry
from agi.flow import Ending, FlowBreak, StoreExits, ask_store, finish
from agi.prompts import Prompt
from dialplan import variables
from store import caller_number, validation
from store.errors import InvalidInput
from store.models import AuthUnit
from store.service import CallerLine, temp_password_targets

MAX_ERRORS = 3  # IVR-8
NUMBER_MAX_DIGITS = 12  # longer than any number, so the caller's '#' ends the entry
UNIT_BY_DIGIT = {"1": AuthUnit.LINE, "2": AuthUnit.NUMBER, "3": AuthUnit.ADMIN_USER}

T = TypeVar("T")


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    TOO_MANY_ERRORS = "too_many_errors"
    CALLER_HANGUP = "caller_hangup"
    NOT_SUBSCRIBER = "not_subscriber"
    SYSTEM_ERROR = "system_error"


# The endings decided before the last step (IVR-2, IVR-8, the store down).
END_NOT_SUBSCRIBER = Ending(Outcome.NOT_SUBSCRIBER, (Prompt.TP_NOT_SUBSCRIBER,))
END_TOO_MANY_ERRORS = Ending(
    Outcome.TOO_MANY_ERRORS, (Prompt.TP_INVALID_ENTRY, Prompt.TP_CALL_AGAIN)
)
END_SYSTEM_ERROR = Ending(Outcome.SYSTEM_ERROR, (Prompt.TP_SYSTEM_ERROR,))
STORE_EXITS = StoreExits(
    unavailable=END_SYSTEM_ERROR,
    unavailable_event="tp_store_unavailable",
    refused=END_NOT_SUBSCRIBER,
    refused_event="tp_caller_refused",
)


class TempPasswordStore(Protocol):
    """What the flow needs from the database (``agi.wiring.SqlTempPasswordStore``).

    Both raise ``store.errors.StoreUnavailable`` when the database cannot
    answer, and a ``DomainError`` when the domain layer refuses the caller.
    """

    def caller_line(self, caller_number: str) -> CallerLine | None: ...

    def save(
        self, caller_number: str, target_number: str, temp_password: str, auth_unit: AuthUnit
    ) -> None: ...


@dataclass
class TempPasswordCall:
    channel: Channel
    store: TempPasswordStore
    input_timeout: float = 10.0
    errors: int = 0
    # call.e164_without_plus: a caller ID 81... is read as +81... (store.caller_number).
    e164_without_plus: bool = False

    def __post_init__(self) -> None:
        # MAIL-9: a withheld caller logs as withheld, never the digits.
        self.caller = caller_of(self.channel.env, e164_without_plus=self.e164_without_plus)
        self.log = structlog.get_logger("agi.temp_password").bind(
            call_id=self.channel.env.get("agi_uniqueid", ""),
            caller=self.caller.logged,
        )

    def run(self) -> Outcome:
        """Run the call to its end; never raises for what the caller, Asterisk or the store does.

        The one exit: the ending the steps return or break with is played
        here and only here.
        """
        self.log.info("tp_call_started")
        try:
            try:
                ending = self._steps()
            except FlowBreak as stop:
                ending = stop.ending
            finish(self.channel, ending, variables.TP_OUTCOME)
            outcome = Outcome(ending.outcome)
        except CallerHangup:
            outcome = Outcome.CALLER_HANGUP
        except ChannelError as exc:
            # Asterisk answered something the flow cannot go on from; the
            # dialplan's fail path takes over when the session ends.
            self.log.error("tp_channel_error", error=str(exc))
            outcome = Outcome.SYSTEM_ERROR
        self.log.info("tp_call_ended", outcome=outcome.value, errors=self.errors)
        return outcome

    def _steps(self) -> Ending:
        caller = self._caller_line()
        if caller is None:
            self.log.info("tp_caller_refused", reason="not_a_number_of_a_line_with_the_service")
            raise FlowBreak(END_NOT_SUBSCRIBER)
        unit = self._ask(lambda: self._read(Prompt.TP_UNIT_MENU, 1), self._unit_for(caller))
        target = self._target(caller, unit)
        temp_password = self._temp_password(target)
        self._store(lambda: self.store.save(caller.caller_number, target, temp_password, unit))
        self.log.info("tp_completed", number=self._logged(target), auth_unit=unit.value)
        return Ending(Outcome.COMPLETED, (Prompt.TP_NUMBER_COMPLETED,), read_back=target)

    def _store(self, ask: Callable[[], T]) -> T:
        """One question to the store (``agi.flow.ask_store``).

        A refusal (the caller's line lost the service or the number during
        the call, or may not set this number) is IVR-2's: the caller hears
        why and nothing is stored.
        """
        return ask_store(self.log, ask, STORE_EXITS)

    def _logged(self, number: str) -> str:
        """A number for the log: the caller's own only when presented (IVR-6 sets it)."""
        return self.caller.logged if number == self.caller.number else number

    def _caller_line(self) -> CallerLine | None:
        # IVR-2: the line is found by the caller's number in the national
        # form (a SIP trunk may present it as +81...), withheld or not.
        caller_id = caller_number.national_form(
            self.channel.env.get("agi_callerid", ""), e164_without_plus=self.e164_without_plus
        )
        try:
            validation.subscriber_number(caller_id)
        except InvalidInput:
            return None  # withheld ("unknown"), empty or not a national number
        return self._store(lambda: self.store.caller_line(caller_id))

    def _unit_for(self, caller: CallerLine) -> Callable[[DigitEntry], AuthUnit | None]:
        def parse(entry: DigitEntry) -> AuthUnit | None:
            unit = UNIT_BY_DIGIT.get(entry.digits)
            # IVR-6: an additional number without the service has nothing to set.
            if unit is None or not temp_password_targets(caller, unit):
                return None
            return unit

        return parse

    def _target(self, caller: CallerLine, unit: AuthUnit) -> str:
        """IVR-4/5/6: the number whose temporary password is set."""
        allowed = temp_password_targets(caller, unit)
        if unit is AuthUnit.LINE:
            return caller.contract_number
        if unit is AuthUnit.ADMIN_USER and not caller.caller_is_contract:
            return caller.caller_number
        return self._ask(
            lambda: self._read(Prompt.TP_ENTER_NUMBER, NUMBER_MAX_DIGITS),
            lambda entry: entry.digits if entry.digits in allowed else None,
        )

    def _temp_password(self, target: str) -> str:
        """IVR-7: eight digits, then the same eight again; a mismatch starts over."""

        def ask_first() -> DigitEntry:
            self.channel.say_digits(target)
            return self._read(Prompt.TP_NUMBER_ENTER_PASSWORD, validation.TEMP_PASSWORD_DIGITS)

        while True:
            first = self._ask(ask_first, _eight_digits)
            second = self._ask(
                lambda: self._read(Prompt.TP_CONFIRM_PASSWORD, validation.TEMP_PASSWORD_DIGITS),
                _eight_digits,
            )
            if second == first:
                return first
            self._error("confirmation_mismatch")

    def _read(self, prompt: Prompt, max_digits: int) -> DigitEntry:
        return self.channel.read_digits(prompt, max_digits=max_digits, timeout=self.input_timeout)

    def _ask(self, ask: Callable[[], DigitEntry], parse: Callable[[DigitEntry], T | None]) -> T:
        """Ask until the entry parses; each failure is one error of the call (IVR-8)."""
        while True:
            entry = ask()
            value = parse(entry)
            if value is not None:
                return value
            self._error("timeout" if entry.timed_out and not entry.digits else "invalid_entry")

    def _error(self, reason: str) -> None:
        self.errors += 1
        self.log.info("tp_invalid_entry", reason=reason, errors=self.errors)
        if self.errors >= MAX_ERRORS:
            raise FlowBreak(END_TOO_MANY_ERRORS)
        self.channel.play(Prompt.TP_INVALID_ENTRY)


def _eight_digits(entry: DigitEntry) -> str | None:
    try:
        return validation.temp_password(entry.digits)
    except InvalidInput:
        return None
