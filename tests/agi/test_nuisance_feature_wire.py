"""CALL-2 feature code over the AGI wire: 144, then 2, lists the last caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from agi.prompts import Prompt
from agi.scripted import TIMEOUT
from dialplan import variables as v
from store import db, service
from store.models import Presentation, Service
from tests.builders import default_routes, empty_tables, running_server
from tests.conftest import BACKENDS

NUMBER, NO_SERVICE, CALLER = "0312345678", "0312345679", "0398765432"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@dataclass
class Phone:
    sessions: sessionmaker[Session]
    port: int

    def dial_144(self, keys: list[str], number: str = NUMBER) -> AsteriskPeer:
        return AsteriskPeer(number, keys, script=v.SCRIPT_NUISANCE_FEATURE).over_tcp(
            "127.0.0.1", self.port
        )

    def last_call(self, caller: str, presentation: Presentation) -> None:
        with db.transaction(self.sessions) as s:
            service.route_incoming_call(
                s, NUMBER, caller_number=caller, presentation=presentation, now=NOW
            )

    def listed(self) -> list[dict[str, object]]:
        with db.transaction(self.sessions) as s:
            listed: list[dict[str, object]] = service.describe_number(
                service.get_number(s, NUMBER)
            )["nuisance_list"]
            return listed


@pytest.fixture(params=BACKENDS)
def phone(request: pytest.FixtureRequest) -> Iterator[Phone]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_number(s, NUMBER, NO_SERVICE, timezone="Asia/Tokyo", services=[Service.MAIL])
    try:
        with running_server(default_routes(sessions)) as server:
            yield Phone(sessions, server.port)
    finally:
        empty_tables(engine)
        engine.dispose()


def digits(number: str) -> list[str]:
    return [f"digit-{d}" for d in number]


def test_CALL_2_144_2_lists_the_last_caller_and_reads_it_back(phone: Phone) -> None:
    phone.last_call(CALLER, Presentation.ALLOWED)
    peer = phone.dial_144(["2"])
    assert peer.prompts == [
        Prompt.NUISANCE_MENU.value,
        *digits(CALLER),
        Prompt.NUISANCE_ADDED.value,
    ]
    assert peer.variables[v.FEATURE_OUTCOME] == "added"
    assert phone.listed() == [{"position": 1, "caller_number": CALLER, "hidden": False}]


def test_CALL_2_a_withheld_last_caller_is_listed_hidden(phone: Phone) -> None:
    phone.last_call(CALLER, Presentation.WITHHELD)
    peer = phone.dial_144(["2"])
    assert peer.prompts == [Prompt.NUISANCE_MENU.value, Prompt.NUISANCE_ADDED_WITHHELD.value]
    assert not any(p.startswith("digit-") for p in peer.prompts)
    assert phone.listed() == [{"position": 1, "caller_number": None, "hidden": True}]
    with db.transaction(phone.sessions) as s:  # refused like any other entry (CALL-2)
        settings = service.route_incoming_call(
            s, NUMBER, caller_number=CALLER, presentation=Presentation.WITHHELD, now=NOW
        )
        assert settings is not None and CALLER in settings.nuisance_numbers


@pytest.mark.parametrize(
    ("setup", "outcome", "prompt"),
    [
        (None, "no_last_call", Prompt.NUISANCE_NO_LAST_CALL),
        (("", Presentation.UNAVAILABLE), "no_number", Prompt.NUISANCE_NO_NUMBER),
        (("", Presentation.PAYPHONE), "no_number", Prompt.NUISANCE_NO_NUMBER),
    ],
)
def test_CALL_2_nothing_to_list(
    phone: Phone, setup: tuple[str, Presentation] | None, outcome: str, prompt: Prompt
) -> None:
    if setup is not None:
        phone.last_call(*setup)
    peer = phone.dial_144(["2"])
    assert peer.variables[v.FEATURE_OUTCOME] == outcome
    assert peer.prompts[-1] == prompt.value
    assert phone.listed() == []


def test_CALL_2_already_listed_and_list_full(phone: Phone) -> None:
    phone.last_call(CALLER, Presentation.ALLOWED)
    phone.dial_144(["2"])
    assert phone.dial_144(["2"]).variables[v.FEATURE_OUTCOME] == "already_listed"
    with db.transaction(phone.sessions) as s:
        for i in range(29):
            service.add_nuisance(s, NUMBER, f"09011112{i:03d}")
    phone.last_call("0355556666", Presentation.ALLOWED)
    peer = phone.dial_144(["2"])
    assert peer.variables[v.FEATURE_OUTCOME] == "list_full"
    assert peer.prompts[-1] == Prompt.NUISANCE_LIST_FULL.value
    assert len(phone.listed()) == 30


def test_CALL_2_other_keys_three_times_list_nothing(phone: Phone) -> None:
    phone.last_call(CALLER, Presentation.ALLOWED)
    peer = phone.dial_144(["1", TIMEOUT, "9"])
    assert peer.prompts == [Prompt.NUISANCE_MENU.value] * 3
    assert peer.variables[v.FEATURE_OUTCOME] == "no_choice"
    assert phone.listed() == []


def test_CALL_2_number_without_the_service(phone: Phone) -> None:
    peer = phone.dial_144(["2"], number=NO_SERVICE)
    assert peer.prompts == [Prompt.NUISANCE_NOT_SUBSCRIBED.value]
    assert peer.variables[v.FEATURE_OUTCOME] == "not_subscribed"
    unknown = phone.dial_144(["2"], number="0399999999")
    assert unknown.variables[v.FEATURE_OUTCOME] == "not_subscribed"


# --- caller IDs as trunks send them (issue 14) -----------------------------------------


def test_CALL_2_an_e164_caller_is_listed_by_144_2_in_national_form(phone: Phone) -> None:
    """The routing AGI records the last caller as the rules compare it; 144-2 lists that."""
    AsteriskPeer(
        "+81311110000",
        script=v.SCRIPT_ROUTE_CALL,
        env_overrides={"agi_arg_1": NUMBER, "agi_extension": NUMBER, "agi_callingpres": "0"},
    ).over_tcp("127.0.0.1", phone.port)
    peer = phone.dial_144(["2"])
    assert peer.prompts == [
        Prompt.NUISANCE_MENU.value,
        *digits("0311110000"),
        Prompt.NUISANCE_ADDED.value,
    ]
    assert phone.listed() == [{"position": 1, "caller_number": "0311110000", "hidden": False}]
    with db.transaction(phone.sessions) as s:  # and the next call from +81... is refused
        settings = service.route_incoming_call(
            s, NUMBER, caller_number="0311110000", presentation=Presentation.ALLOWED, now=NOW
        )
        assert settings is not None and "0311110000" in settings.nuisance_numbers


def test_CALL_2_a_subscriber_phone_presenting_e164_reaches_its_own_number(phone: Phone) -> None:
    phone.last_call(CALLER, Presentation.ALLOWED)
    peer = phone.dial_144(["2"], number="+81312345678")
    assert peer.variables[v.FEATURE_OUTCOME] == "added"
    assert phone.listed() == [{"position": 1, "caller_number": CALLER, "hidden": False}]


def test_CALL_2_an_anonymous_last_caller_is_listed_hidden(phone: Phone) -> None:
    AsteriskPeer(
        "anonymous",
        script=v.SCRIPT_ROUTE_CALL,
        env_overrides={"agi_arg_1": NUMBER, "agi_extension": NUMBER, "agi_callingpres": "0"},
    ).over_tcp("127.0.0.1", phone.port)
    peer = phone.dial_144(["2"])
    # A withheld caller without digits: there is nothing to list (CALL-2), said as such.
    assert peer.variables[v.FEATURE_OUTCOME] == "no_number"
    assert phone.listed() == []
    with db.transaction(phone.sessions) as s:
        number = service.get_number(s, NUMBER)
        assert number.last_caller_presentation is Presentation.WITHHELD
