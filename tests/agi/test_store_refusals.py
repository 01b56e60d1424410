"""Issue 13: "the store cannot answer" and "the store says no" are told apart in every flow.

``agi.wiring``'s stores raise ``store.errors.StoreUnavailable`` only for a
database error; a refusal of the domain layer reaches the flow as that
refusal, and the flow ends the call as that refusal: IVR-2's guidance on
the temporary-password line, the fail path of an unknown number on the
call route (CALL-1), the not-subscribed guidance on the feature code
(CALL-2), never the system error. Each store method is checked on both
databases, then each flow on the scripted channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from agi import wiring
from agi.call_route import RouteCall
from agi.caller import Caller
from agi.nuisance_feature import NuisanceFeatureCall
from agi.prompts import Prompt
from agi.scripted import ScriptedChannel
from agi.temp_password import Outcome, TempPasswordCall
from dialplan import variables as v
from store import db, service
from store.errors import (
    DomainError,
    InvalidNumber,
    NotFound,
    NotSubscribed,
    RuleViolation,
    StoreUnavailable,
)
from store.models import AuthUnit, Presentation, Service
from store.service import CallerLine, LastCallerResult, RoutingSettings

CONTRACT, EXTRA, CALLER = "0312345678", "0312345679", "0398765432"
NO_LINE = "0611112222"
PW = "24681357"
DOWN_URL = "postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2"
ALLOWED = Caller(CALLER, Presentation.ALLOWED)
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def refuse(exc: DomainError) -> Callable[..., object]:
    def refused(*_args: object, **_kwargs: object) -> object:
        raise exc

    return refused


@pytest.fixture
def down() -> Iterator[sessionmaker[Session]]:
    """Sessions of a database that is not there (nothing listens on port 1)."""
    engine = db.make_engine(DOWN_URL)
    try:
        yield db.session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def extra_without_mail(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """CONTRACT with every service; EXTRA with the nuisance service only (no mail)."""
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo", services=[Service.NUISANCE])
    return sessions


# --- each store method of agi.wiring: a refusal is not "store unavailable" -------------------


def test_issue13_IVR_2_caller_line_passes_a_refusal_on(
    extra_without_mail: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "caller_line", refuse(InvalidNumber("no such number")))
    with pytest.raises(InvalidNumber) as err:
        wiring.SqlTempPasswordStore(extra_without_mail).caller_line(CONTRACT)
    assert not isinstance(err.value, StoreUnavailable)


@pytest.mark.parametrize(
    ("caller", "target", "unit", "refusal"),
    [
        (NO_LINE, NO_LINE, AuthUnit.NUMBER, NotSubscribed),  # the caller's line is gone
        (CONTRACT, EXTRA, AuthUnit.NUMBER, RuleViolation),  # EXTRA has no mail service
    ],
)
def test_issue13_IVR_9_save_passes_a_refusal_on(
    extra_without_mail: sessionmaker[Session],
    caller: str,
    target: str,
    unit: AuthUnit,
    refusal: type[DomainError],
) -> None:
    with pytest.raises(refusal) as err:
        wiring.SqlTempPasswordStore(extra_without_mail).save(caller, target, PW, unit)
    assert not isinstance(err.value, StoreUnavailable)
    with db.transaction(extra_without_mail, read_only=True) as s:
        assert service.get_number(s, CONTRACT).temp_password is None


def test_issue13_CALL_1_route_incoming_call_passes_a_refusal_on(
    extra_without_mail: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "route_incoming_call", refuse(NotFound("no such number")))
    with pytest.raises(NotFound) as err:
        wiring.SqlRoutingStore(extra_without_mail).route_incoming_call(CONTRACT, ALLOWED)
    assert not isinstance(err.value, StoreUnavailable)


def test_issue13_CALL_2_subscribes_passes_a_refusal_on(
    extra_without_mail: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = wiring.SqlNuisanceStore(extra_without_mail)
    assert store.subscribes(CONTRACT) and store.subscribes(EXTRA)
    assert store.subscribes("0399999999") is False  # an unknown number: not subscribed
    monkeypatch.setattr(service, "get_number", refuse(NotSubscribed("not this one")))
    with pytest.raises(NotSubscribed) as err:
        store.subscribes(CONTRACT)
    assert not isinstance(err.value, StoreUnavailable)


@pytest.mark.parametrize(
    ("services", "number", "refusal"),
    [([Service.MAIL], EXTRA, NotSubscribed), ([], "0399999999", NotFound)],
)
def test_issue13_CALL_2_add_last_caller_passes_a_refusal_on(
    sessions: sessionmaker[Session],
    services: list[Service],
    number: str,
    refusal: type[DomainError],
) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo", services=services)
    with pytest.raises(refusal) as err:
        wiring.SqlNuisanceStore(sessions).add_last_caller(number)
    assert not isinstance(err.value, StoreUnavailable)


STORE_METHODS: dict[str, Callable[[sessionmaker[Session]], object]] = {
    "caller_line": lambda s: wiring.SqlTempPasswordStore(s).caller_line(CONTRACT),
    "save": lambda s: wiring.SqlTempPasswordStore(s).save(CONTRACT, CONTRACT, PW, AuthUnit.LINE),
    "route_incoming_call": lambda s: wiring.SqlRoutingStore(s).route_incoming_call(
        CONTRACT, ALLOWED
    ),
    "subscribes": lambda s: wiring.SqlNuisanceStore(s).subscribes(CONTRACT),
    "add_last_caller": lambda s: wiring.SqlNuisanceStore(s).add_last_caller(CONTRACT),
}


@pytest.mark.parametrize("method", sorted(STORE_METHODS))
def test_issue13_a_database_error_is_still_store_unavailable(
    down: sessionmaker[Session], method: str
) -> None:
    with pytest.raises(StoreUnavailable) as err:
        STORE_METHODS[method](down)
    assert not isinstance(err.value, DomainError)
    assert err.value.code == "store_unavailable"
    assert err.value.message and "\n" not in err.value.message  # the first line only
    assert CONTRACT not in err.value.message  # MAIL-9: no SQL parameters


# --- each flow: a refusal ends the call as that refusal ---------------------------------------


@dataclass
class LineGone:
    """The caller's line as it was when the call began; the save meets today's database."""

    store: wiring.SqlTempPasswordStore

    def caller_line(self, caller_number: str) -> CallerLine | None:
        both = frozenset({CONTRACT, EXTRA})  # EXTRA had the mail service then
        return CallerLine(caller_number, CONTRACT, caller_number == CONTRACT, both)

    def save(self, caller: str, target: str, temp_password: str, unit: AuthUnit) -> None:
        self.store.save(caller, target, temp_password, unit)


@dataclass
class RefusingTempPasswordStore:
    refusal: DomainError

    def caller_line(self, caller_number: str) -> CallerLine | None:
        raise self.refusal

    def save(self, caller: str, target: str, temp_password: str, unit: AuthUnit) -> None:
        raise AssertionError("no save after a refusal")


def temp_password_call(store: object, caller: str, actions: list[str]) -> ScriptedChannel:
    channel = ScriptedChannel(actions, agi_env={"agi_callerid": caller})
    with capture_logs() as logs:
        outcome = TempPasswordCall(channel, store).run()  # type: ignore[arg-type]
    assert outcome is Outcome.NOT_SUBSCRIBER
    assert not any(e["event"] == "tp_store_unavailable" for e in logs)
    return channel


@pytest.mark.parametrize("refusal", [NotFound("gone"), NotSubscribed("no service")])
def test_issue13_IVR_2_a_refused_caller_hears_why_not_the_system_error(
    refusal: DomainError,
) -> None:
    channel = temp_password_call(RefusingTempPasswordStore(refusal), CONTRACT, [])
    assert channel.prompts == [Prompt.TP_NOT_SUBSCRIBER.value]
    assert channel.variables[v.TP_OUTCOME] == "not_subscriber"
    assert channel.events[-1] == ("hangup", "")


def test_issue13_IVR_5_a_number_that_lost_the_service_during_the_call_is_refused_at_the_save(
    extra_without_mail: sessionmaker[Session],
) -> None:
    """The call began when EXTRA had the mail service; the save checks again (IVR-9)."""
    store = LineGone(wiring.SqlTempPasswordStore(extra_without_mail))
    channel = temp_password_call(store, CONTRACT, ["2", EXTRA + "#", PW, PW])
    assert channel.prompts[-1] == Prompt.TP_NOT_SUBSCRIBER.value
    assert Prompt.TP_NUMBER_COMPLETED.value not in channel.prompts
    assert Prompt.TP_SYSTEM_ERROR.value not in channel.prompts
    assert channel.variables[v.TP_OUTCOME] == "not_subscriber"
    with db.transaction(extra_without_mail, read_only=True) as s:
        assert service.get_number(s, EXTRA).temp_password is None


@dataclass
class RefusingRoutingStore:
    failure: Exception

    def route_incoming_call(self, number: str, caller: Caller) -> RoutingSettings | None:
        raise self.failure


def route(store: object) -> tuple[str, ScriptedChannel, list[MutableMapping[str, Any]]]:
    channel = ScriptedChannel(
        [], agi_env={"agi_arg_1": CONTRACT, "agi_callerid": CALLER, "agi_callingpres": "0"}
    )
    with capture_logs() as logs:
        outcome = RouteCall(
            channel,
            store,  # type: ignore[arg-type]
            fallback_endpoint="PJSIP/{number}",
            forward_dial="PJSIP/{number}@pstn",
            ring_seconds=30,
        ).run()
    return outcome, channel, logs


def test_issue13_CALL_1_a_refused_number_takes_the_unknown_number_fail_path() -> None:
    outcome, channel, logs = route(RefusingRoutingStore(NotFound(f"no number {CONTRACT}")))
    assert outcome == "unknown_number"
    assert v.ACTION not in channel.variables
    assert channel.variables[v.ROUTE] == "unknown_number"
    assert (channel.variables[v.PRESENTATION], channel.variables[v.CALLER]) == ("allowed", CALLER)
    fallback = next(e for e in logs if e["event"] == "call_route_fallback")
    assert (fallback["reason"], fallback["code"]) == ("refused", "not_found")
    assert f"no number {CONTRACT}" not in repr(logs)  # the code, not the message (MAIL-9)


def test_issue13_CALL_1_a_store_that_cannot_answer_still_takes_its_own_fail_path() -> None:
    outcome, channel, _ = route(RefusingRoutingStore(StoreUnavailable("connection refused")))
    assert outcome == "store_unavailable"
    assert v.ACTION not in channel.variables
    assert channel.variables[v.ROUTE] == "store_unavailable"


@dataclass
class StaleNuisanceStore:
    """Says the number subscribes (as it did when the call began); the rest meets the database."""

    store: wiring.SqlNuisanceStore

    def subscribes(self, number: str) -> bool:
        return True

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]:
        return self.store.add_last_caller(number)


@dataclass
class RefusingNuisanceStore:
    refusal: DomainError

    def subscribes(self, number: str) -> bool:
        raise self.refusal

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]:
        raise AssertionError("nothing to add after a refusal")


def feature_code(store: object, number: str, keys: list[str]) -> ScriptedChannel:
    channel = ScriptedChannel(keys, agi_env={"agi_callerid": number})
    with capture_logs() as logs:
        outcome = NuisanceFeatureCall(channel, store).run()  # type: ignore[arg-type]
    assert outcome == "not_subscribed"
    assert channel.prompts[-1] == Prompt.NUISANCE_NOT_SUBSCRIBED.value
    assert channel.variables[v.FEATURE_OUTCOME] == "not_subscribed"
    assert channel.events[-1] == ("hangup", "")
    assert Prompt.SYSTEM_ERROR.value not in channel.prompts
    assert not any(e["event"] == "nuisance_feature_store_unavailable" for e in logs)
    assert any(e["event"] == "nuisance_feature_refused" for e in logs)
    return channel


def test_issue13_CALL_2_a_refusal_of_subscribes_is_the_not_subscribed_guidance() -> None:
    channel = feature_code(RefusingNuisanceStore(NotSubscribed("no")), CONTRACT, [])
    assert channel.prompts == [Prompt.NUISANCE_NOT_SUBSCRIBED.value]


def test_issue13_CALL_2_a_service_stopped_during_the_call_is_the_not_subscribed_guidance(
    sessions: sessionmaker[Session],
) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo", services=[Service.MAIL])
        service.route_incoming_call(
            s, EXTRA, caller_number=CALLER, presentation=Presentation.ALLOWED, now=NOW
        )
    channel = feature_code(StaleNuisanceStore(wiring.SqlNuisanceStore(sessions)), EXTRA, ["2"])
    assert channel.prompts == [Prompt.NUISANCE_MENU.value, Prompt.NUISANCE_NOT_SUBSCRIBED.value]


def test_issue13_CALL_2_a_database_down_is_the_system_error_guidance(
    down: sessionmaker[Session],
) -> None:
    channel = ScriptedChannel([], agi_env={"agi_callerid": CONTRACT})
    with capture_logs() as logs:
        outcome = NuisanceFeatureCall(channel, wiring.SqlNuisanceStore(down)).run()
    assert outcome == "system_error"
    assert channel.prompts == [Prompt.SYSTEM_ERROR.value]
    assert channel.variables[v.FEATURE_OUTCOME] == "system_error"
    assert any(e["event"] == "nuisance_feature_store_unavailable" for e in logs)
