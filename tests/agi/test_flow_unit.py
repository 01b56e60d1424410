"""The temporary-password flow against a scripted in-memory Channel (IVR-2 ... IVR-10)."""

from __future__ import annotations

import pytest
import structlog
from structlog.testing import capture_logs

from agi.channel import DigitEntry
from agi.flow import Ending, FlowBreak, StoreExits, ask_store
from agi.prompts import Prompt
from agi.scripted import HANGUP, TIMEOUT, ScriptedChannel
from agi.temp_password import Outcome, TempPasswordCall
from dialplan import variables
from store.errors import NotFound, StoreUnavailable
from store.models import AuthUnit
from tests.builders import CONTRACT, EXTRA, NO_MAIL, MemoryStore, a_line

OTHER_LINE = "0611112222"
PW, PW2 = "12345678", "87654321"

MENU = Prompt.TP_UNIT_MENU.value
ENTER_NUMBER = Prompt.TP_ENTER_NUMBER.value
ENTER_PW = Prompt.TP_NUMBER_ENTER_PASSWORD.value
CONFIRM = Prompt.TP_CONFIRM_PASSWORD.value
INVALID = Prompt.TP_INVALID_ENTRY.value
DONE = Prompt.TP_NUMBER_COMPLETED.value
CALL_AGAIN = Prompt.TP_CALL_AGAIN.value


def call(
    caller: str, actions: list[str], store: MemoryStore | None = None, **kw: object
) -> tuple[Outcome, ScriptedChannel, MemoryStore]:
    store = store if store is not None else a_line()
    channel = ScriptedChannel(
        actions,
        agi_env={"agi_callerid": caller, "agi_uniqueid": "1700000000.1"},
        **kw,  # type: ignore[arg-type]
    )
    outcome = TempPasswordCall(channel, store).run()
    return outcome, channel, store


def completed(number: str) -> list[str]:
    return [number, DONE]


def test_IVR_4_line_unit_sets_the_contract_numbers_password() -> None:
    outcome, ch, store = call(EXTRA, ["1", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts == [MENU, CONTRACT, ENTER_PW, CONFIRM, *completed(CONTRACT)]
    assert store.saved == [(EXTRA, CONTRACT, PW, AuthUnit.LINE)]
    assert ch.variables[variables.TP_OUTCOME] == "completed"
    assert ch.events[-1] == ("hangup", "")


def test_IVR_5_number_unit_asks_for_the_number_then_the_password() -> None:
    outcome, ch, store = call(CONTRACT, ["2", EXTRA + "#", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts == [MENU, ENTER_NUMBER, EXTRA, ENTER_PW, CONFIRM, *completed(EXTRA)]
    assert store.saved == [(CONTRACT, EXTRA, PW, AuthUnit.NUMBER)]


def test_IVR_6_admin_user_unit_from_the_contract_number_asks_for_the_number() -> None:
    outcome, ch, store = call(CONTRACT, ["3", CONTRACT + "#", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts == [MENU, ENTER_NUMBER, CONTRACT, ENTER_PW, CONFIRM, *completed(CONTRACT)]
    assert store.saved == [(CONTRACT, CONTRACT, PW, AuthUnit.ADMIN_USER)]


def test_IVR_6_admin_user_unit_from_an_additional_number_sets_its_own() -> None:
    outcome, ch, store = call(EXTRA, ["3", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts == [MENU, EXTRA, ENTER_PW, CONFIRM, *completed(EXTRA)]
    assert store.saved == [(EXTRA, EXTRA, PW, AuthUnit.ADMIN_USER)]


def test_IVR_8_invalid_menu_digit_then_success() -> None:
    outcome, ch, store = call(EXTRA, ["9", "1", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts[:3] == [MENU, INVALID, MENU]
    assert store.saved == [(EXTRA, CONTRACT, PW, AuthUnit.LINE)]


@pytest.mark.parametrize(
    ("caller", "actions", "errors_at"),
    [
        (EXTRA, ["4", "0", "*"], "menu"),
        (CONTRACT, ["2", OTHER_LINE + "#", "#", NO_MAIL + "#"], "number"),
        (EXTRA, ["1", "1234567#", PW, PW2, TIMEOUT], "password"),
    ],
)
def test_IVR_8_third_error_ends_the_call_and_stores_nothing(
    caller: str, actions: list[str], errors_at: str
) -> None:
    outcome, ch, store = call(caller, actions)
    assert outcome is Outcome.TOO_MANY_ERRORS
    assert ch.prompts.count(INVALID) == 3
    assert ch.prompts[-2:] == [INVALID, CALL_AGAIN]
    assert ch.events[-1] == ("hangup", "")
    assert ch.variables[variables.TP_OUTCOME] == "too_many_errors"
    assert store.saved == []


def test_IVR_7_mismatched_confirmation_is_an_error_and_starts_the_password_again() -> None:
    outcome, ch, store = call(EXTRA, ["1", PW, PW2, PW2, PW2])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts == [
        MENU,
        CONTRACT,
        ENTER_PW,
        CONFIRM,
        INVALID,
        CONTRACT,
        ENTER_PW,
        CONFIRM,
        *completed(CONTRACT),
    ]
    assert store.saved == [(EXTRA, CONTRACT, PW2, AuthUnit.LINE)]


@pytest.mark.parametrize("entry", ["1234567#", "#", "12345678901"[:7], TIMEOUT])
def test_IVR_7_password_must_be_eight_digits(entry: str) -> None:
    outcome, ch, store = call(EXTRA, ["1", entry, PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts[:5] == [MENU, CONTRACT, ENTER_PW, INVALID, CONTRACT]
    assert store.saved[0][2] == PW


def test_IVR_5_number_not_on_the_callers_line_is_an_error() -> None:
    outcome, ch, store = call(CONTRACT, ["2", OTHER_LINE + "#", EXTRA + "#", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts[:4] == [MENU, ENTER_NUMBER, INVALID, ENTER_NUMBER]
    assert store.saved == [(CONTRACT, EXTRA, PW, AuthUnit.NUMBER)]


def test_IVR_5_number_without_the_service_is_an_error() -> None:
    outcome, ch, _ = call(CONTRACT, ["2", NO_MAIL + "#", EXTRA + "#", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts.count(INVALID) == 1


def test_IVR_6_additional_number_without_the_service_cannot_choose_unit_3() -> None:
    outcome, ch, store = call(NO_MAIL, ["3", "2", EXTRA + "#", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts[:3] == [MENU, INVALID, MENU]
    assert store.saved == [(NO_MAIL, EXTRA, PW, AuthUnit.NUMBER)]


@pytest.mark.parametrize("caller", [OTHER_LINE, "unknown", "", "anonymous", "03-1234-5678"])
def test_IVR_2_caller_not_a_subscriber_hears_why_and_nothing_is_stored(caller: str) -> None:
    outcome, ch, store = call(caller, [])
    assert outcome is Outcome.NOT_SUBSCRIBER
    assert ch.prompts == [Prompt.TP_NOT_SUBSCRIBER.value]
    assert ch.events[-1] == ("hangup", "")
    assert store.saved == []


def test_IVR_8_no_input_before_the_timeout_counts_as_an_error() -> None:
    outcome, ch, _ = call(EXTRA, [TIMEOUT, TIMEOUT, "1", PW, PW])
    assert outcome is Outcome.COMPLETED
    assert ch.prompts[:5] == [MENU, INVALID, MENU, INVALID, MENU]


def test_IVR_10_hang_up_at_every_step_leaves_nothing() -> None:
    """Hang up at each command of a complete unit-2 call in turn."""
    _, full, _ = call(CONTRACT, ["2", EXTRA + "#", PW, PW])
    saved_at = next(i for i, (kind, arg) in enumerate(full.events) if arg == DONE) - 1
    for n in range(len(full.events)):
        outcome, _, store = call(CONTRACT, ["2", EXTRA + "#", PW, PW], hangup_at_command=n)
        if n < saved_at:
            assert outcome is Outcome.CALLER_HANGUP, n
            assert store.saved == [], n
        else:  # stored before the read-back: the call did complete
            assert outcome is Outcome.COMPLETED, n
            assert len(store.saved) == 1


def test_IVR_10_hang_up_while_asked_for_digits() -> None:
    for actions in (["1", HANGUP], ["2", HANGUP], [HANGUP], ["1", PW, HANGUP]):
        outcome, ch, store = call(CONTRACT, actions)
        assert outcome is Outcome.CALLER_HANGUP
        assert store.saved == []
        assert ("hangup", "") not in ch.events


def test_store_unavailable_plays_the_system_error_guidance() -> None:
    store = a_line()
    store.down = True
    outcome, ch, _ = call(EXTRA, [], store)
    assert outcome is Outcome.SYSTEM_ERROR
    assert ch.prompts == [Prompt.TP_SYSTEM_ERROR.value]
    assert ch.variables[variables.TP_OUTCOME] == "system_error"


def test_store_failing_at_the_save_stores_nothing_and_says_so() -> None:
    class SaveFails(MemoryStore):
        def save(self, *args: object) -> None:
            raise StoreUnavailable("disk full")

    store = SaveFails(a_line().lines)
    outcome, ch, _ = call(EXTRA, ["1", PW, PW], store)
    assert outcome is Outcome.SYSTEM_ERROR
    assert ch.prompts[-1] == Prompt.TP_SYSTEM_ERROR.value
    assert DONE not in ch.prompts


def test_an_unexpected_agi_answer_ends_the_flow_without_storing() -> None:
    from agi.channel import ChannelError

    class Broken(ScriptedChannel):
        def read_digits(self, prompt: Prompt, *, max_digits: int, timeout: float) -> DigitEntry:
            raise ChannelError("510 Invalid or unknown command")

    store = a_line()
    channel = Broken([], agi_env={"agi_callerid": EXTRA})
    assert TempPasswordCall(channel, store).run() is Outcome.SYSTEM_ERROR
    assert store.saved == []


@pytest.mark.parametrize(
    ("actions", "down"),
    [(["4", "0", "*"], False), ([], True)],  # the third error (IVR-8); the store down
)
def test_issue13_an_agi_error_in_the_last_words_ends_the_flow_without_raising(
    actions: list[str], down: bool
) -> None:
    """Every ending leaves through the one exit, where an unexpected answer is handled too."""
    from agi.channel import ChannelError

    class BrokenAtTheEnd(ScriptedChannel):
        def play(self, prompt: Prompt) -> None:
            if prompt in (Prompt.TP_CALL_AGAIN, Prompt.TP_SYSTEM_ERROR):
                raise ChannelError("510 Invalid or unknown command")
            super().play(prompt)

    store = a_line()
    store.down = down
    channel = BrokenAtTheEnd(actions, agi_env={"agi_callerid": EXTRA})
    assert TempPasswordCall(channel, store).run() is Outcome.SYSTEM_ERROR
    assert store.saved == []


# --- the one store question of the voice flows (agi.flow.ask_store) ---------------------------

EXITS = StoreExits(
    unavailable=Ending("system_error", (Prompt.SYSTEM_ERROR,)),
    unavailable_event="x_store_unavailable",
    refused=Ending("not_subscribed", (Prompt.NUISANCE_NOT_SUBSCRIBED,)),
    refused_event="x_refused",
)


def test_issue13_ask_store_returns_the_answer_and_logs_nothing() -> None:
    with capture_logs() as logs:
        assert ask_store(structlog.get_logger("t"), lambda: 42, EXITS) == 42
    assert logs == []


def test_issue13_ask_store_ends_the_call_with_the_flows_endings() -> None:
    def down() -> None:
        raise StoreUnavailable("database is locked")

    def refuses() -> None:
        raise NotFound(f"{CONTRACT} is not provisioned")

    with capture_logs() as logs:
        with pytest.raises(FlowBreak) as unavailable:
            ask_store(structlog.get_logger("t"), down, EXITS)
        with pytest.raises(FlowBreak) as refused:
            ask_store(structlog.get_logger("t"), refuses, EXITS)
    assert unavailable.value.ending is EXITS.unavailable
    assert refused.value.ending is EXITS.refused
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("x_store_unavailable", "error"),
        ("x_refused", "info"),
    ]
    assert logs[0]["error"] == "database is locked"
    assert logs[1]["reason"] == "not_found"
    assert CONTRACT not in repr(logs)  # MAIL-9: the refusal by its code, never its message
