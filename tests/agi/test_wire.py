"""The temporary-password line over the real AGI wire protocol (IVR-1 ... IVR-10).

Each test runs one call: an ``AsteriskPeer`` speaks Asterisk's side over a
loopback TCP connection to the real FastAGI server, or over pipes to the
real ``chakushin-agi`` process (classic AGI); then the test asserts the
exact prompts played and what the database holds.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from agi import wiring
from agi.peer import AsteriskPeer, HangupStyle
from agi.prompts import Prompt
from agi.scripted import HANGUP, TIMEOUT
from chakushin import config as config_mod
from dialplan import variables
from store import db, passwords, service
from store.models import AuthUnit, Line, Service, TempPassword
from tests.builders import empty_tables, running_server, snapshot

CONTRACT, EXTRA, NO_MAIL, STRANGER = "0312345678", "0312345679", "0312345670", "0611112222"
PW, PW2 = "24681357", "97531864"
MENU, ENTER_NUMBER = Prompt.TP_UNIT_MENU.value, Prompt.TP_ENTER_NUMBER.value
ENTER_PW, CONFIRM = Prompt.TP_NUMBER_ENTER_PASSWORD.value, Prompt.TP_CONFIRM_PASSWORD.value
INVALID, DONE = Prompt.TP_INVALID_ENTRY.value, Prompt.TP_NUMBER_COMPLETED.value


def read_back(number: str) -> list[str]:
    return [f"digit-{d}" for d in number]


# --- fixtures -------------------------------------------------------------------------------

TRANSPORTS = [
    pytest.param(("fastagi", "sqlite"), id="fastagi-sqlite"),
    pytest.param(("fastagi", "postgresql"), id="fastagi-postgresql", marks=pytest.mark.postgresql),
    pytest.param(("classic", "sqlite"), id="classic-sqlite"),
]


@dataclass
class Line1:
    """The database with one line and a way to place a call on it."""

    url: str
    sessions: sessionmaker[Session]
    place: Callable[[AsteriskPeer], AsteriskPeer]
    transport: str

    def temp_password(self, number: str) -> TempPassword | None:
        with db.transaction(self.sessions) as s:
            return service.get_number(s, number).temp_password

    def auth_unit(self) -> AuthUnit:
        with db.transaction(self.sessions) as s:
            return s.scalars(sa.select(Line.auth_unit)).one()


@pytest.fixture(params=TRANSPORTS)
def wired_line(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Line1]:
    transport, backend = request.param
    url: str = request.getfixturevalue(f"{backend}_url")
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, NO_MAIL, timezone="Asia/Tokyo", services=[Service.NUISANCE])
    try:
        if transport == "fastagi":
            config = config_mod.load(env={"CHAKUSHIN_DATABASE_URL": url})
            with running_server(
                wiring.routes(sessions, ivr=config.ivr, call=config.call)
            ) as server:
                yield Line1(
                    url, sessions, lambda peer: peer.over_tcp("127.0.0.1", server.port), transport
                )
        else:
            env = {
                "PATH": os.environ["PATH"],
                "CHAKUSHIN_DATABASE_URL": url,
                "CHAKUSHIN_DATA_DIR": str(tmp_path),
            }
            yield Line1(
                url, sessions, lambda peer: peer.over_process(classic_command(), env=env), transport
            )
    finally:
        empty_tables(engine)
        engine.dispose()


def classic_command() -> list[str]:
    found = shutil.which("chakushin-agi", path=os.path.dirname(sys.executable))
    assert found, "chakushin-agi is not installed next to this Python"
    return [found, "temp-password"]


def assert_stored(wired_line: Line1, number: str, password: str, unit: AuthUnit) -> None:
    stored = wired_line.temp_password(number)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert password not in stored.password_hash
    assert passwords.verify_password(stored.password_hash, password)
    assert stored.auth_unit is unit and stored.wrong_count == 0
    assert stored.expires_at - stored.created_at == dt.timedelta(hours=24)
    assert wired_line.auth_unit() is unit


# --- the paths -------------------------------------------------------------------------------


def test_IVR_4_unit_1_line(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(EXTRA, ["1", PW, PW]))
    assert peer.prompts == [
        MENU,
        *read_back(CONTRACT),
        ENTER_PW,
        CONFIRM,
        *read_back(CONTRACT),
        DONE,
    ]
    assert peer.variables[variables.TP_OUTCOME] == "completed"
    assert peer.commands[-1] == "HANGUP"
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)


def test_IVR_5_unit_2_number(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(CONTRACT, ["2", EXTRA + "#", PW, PW]))
    assert peer.prompts == [
        MENU,
        ENTER_NUMBER,
        *read_back(EXTRA),
        ENTER_PW,
        CONFIRM,
        *read_back(EXTRA),
        DONE,
    ]
    assert_stored(wired_line, EXTRA, PW, AuthUnit.NUMBER)
    assert wired_line.temp_password(CONTRACT) is None


def test_IVR_6_unit_3_from_the_contract_number(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(CONTRACT, ["3", EXTRA + "#", PW, PW]))
    assert peer.prompts[:2] == [MENU, ENTER_NUMBER]
    assert_stored(wired_line, EXTRA, PW, AuthUnit.ADMIN_USER)


def test_IVR_6_unit_3_from_an_additional_number(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(EXTRA, ["3", PW, PW]))
    assert peer.prompts == [MENU, *read_back(EXTRA), ENTER_PW, CONFIRM, *read_back(EXTRA), DONE]
    assert_stored(wired_line, EXTRA, PW, AuthUnit.ADMIN_USER)


def test_IVR_8_invalid_menu_digit_then_success(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(EXTRA, ["7", "1", PW, PW]))
    assert peer.prompts[:3] == [MENU, INVALID, MENU]
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)


def test_IVR_8_three_errors_hang_up_with_nothing_stored(wired_line: Line1) -> None:
    before = snapshot(wired_line.url)
    peer = wired_line.place(AsteriskPeer(CONTRACT, ["2", STRANGER + "#", "#", "1234567#"]))
    assert peer.prompts[-2:] == [INVALID, Prompt.TP_CALL_AGAIN.value]
    assert peer.prompts.count(INVALID) == 3
    assert peer.commands[-1] == "HANGUP"
    assert peer.variables[variables.TP_OUTCOME] == "too_many_errors"
    assert snapshot(wired_line.url) == before


def test_IVR_7_mismatched_confirmation(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(EXTRA, ["1", PW, PW2, PW2, PW2]))
    assert peer.prompts.count(INVALID) == 1
    assert peer.prompts.index(INVALID) == peer.prompts.index(CONFIRM) + 1
    assert_stored(wired_line, CONTRACT, PW2, AuthUnit.LINE)


def test_IVR_5_number_not_on_the_callers_line(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(CONTRACT, ["2", STRANGER + "#", EXTRA + "#", PW, PW]))
    assert peer.prompts[:4] == [MENU, ENTER_NUMBER, INVALID, ENTER_NUMBER]
    assert_stored(wired_line, EXTRA, PW, AuthUnit.NUMBER)
    with db.transaction(wired_line.sessions) as s:
        assert s.scalars(sa.select(TempPassword)).all() != []


@pytest.mark.parametrize("caller", [STRANGER, "", "anonymous"])
def test_IVR_2_caller_not_a_subscriber(wired_line: Line1, caller: str) -> None:
    before = snapshot(wired_line.url)
    peer = wired_line.place(AsteriskPeer(caller, []))
    assert peer.prompts == [Prompt.TP_NOT_SUBSCRIBER.value]
    assert peer.variables[variables.TP_OUTCOME] == "not_subscriber"
    assert snapshot(wired_line.url) == before


@pytest.mark.parametrize("presented", ["+81312345679", "0081312345679"])
def test_IVR_2_a_caller_presented_in_e164_is_found_by_its_national_number(
    wired_line: Line1, presented: str
) -> None:
    """Issue 14: a SIP trunk's +81 caller is the line's additional number EXTRA."""
    peer = wired_line.place(AsteriskPeer(presented, ["1", PW, PW]))
    assert peer.prompts[0] == MENU
    assert peer.variables[variables.TP_OUTCOME] == "completed"
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)


def test_IVR_8_timeout_with_no_input(wired_line: Line1) -> None:
    peer = wired_line.place(AsteriskPeer(EXTRA, [TIMEOUT, "1", TIMEOUT, PW, PW]))
    assert peer.prompts[:3] == [MENU, INVALID, MENU]
    assert peer.prompts.count(INVALID) == 2
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)


def test_IVR_9_a_newer_temporary_password_replaces_the_older(wired_line: Line1) -> None:
    wired_line.place(AsteriskPeer(CONTRACT, ["2", EXTRA + "#", PW, PW]))
    wired_line.place(AsteriskPeer(EXTRA, ["3", PW2, PW2]))
    assert_stored(wired_line, EXTRA, PW2, AuthUnit.ADMIN_USER)
    stored = wired_line.temp_password(EXTRA)
    assert stored is not None and not passwords.verify_password(stored.password_hash, PW)


# --- hanging up ---------------------------------------------------------------------------------

UNIT_2 = ["2", EXTRA + "#", PW, PW]


def _step_commands() -> dict[str, int]:
    """Index of a command in each step of a unit-2 call (see test_IVR_5_unit_2_number)."""
    prompts = [MENU, ENTER_NUMBER, *read_back(EXTRA), ENTER_PW, CONFIRM, *read_back(EXTRA), DONE]
    return {
        "menu": 0,
        "number": 1,
        "read_back": 4,
        "password": prompts.index(ENTER_PW),
        "confirmation": prompts.index(CONFIRM),
    }


@pytest.mark.parametrize("style", list(HangupStyle), ids=lambda s: s.value)
@pytest.mark.parametrize("step", list(_step_commands()))
def test_IVR_10_hang_up_in_the_middle_of_each_step(
    wired_line: Line1, step: str, style: HangupStyle
) -> None:
    if wired_line.transport == "classic" and style is HangupStyle.HANGUP_LINE:
        pytest.skip("classic AGI gets SIGHUP, not a HANGUP line: same as result_minus_one")
    before = snapshot(wired_line.url)
    at = _step_commands()[step]
    peer = wired_line.place(
        AsteriskPeer(CONTRACT, UNIT_2, hangup_at_command=at, hangup_style=style)
    )
    assert len(peer.commands) >= at + 1
    assert DONE not in peer.prompts
    assert variables.TP_OUTCOME not in peer.variables
    assert snapshot(wired_line.url) == before


def test_IVR_10_hang_up_while_asked_for_digits(wired_line: Line1) -> None:
    before = snapshot(wired_line.url)
    peer = wired_line.place(AsteriskPeer(EXTRA, ["1", PW, HANGUP]))
    assert peer.prompts[-1] == CONFIRM
    assert snapshot(wired_line.url) == before


# --- Asterisk's quirks ---------------------------------------------------------------------


def test_missing_sound_files_do_not_end_the_call(wired_line: Line1) -> None:
    missing = frozenset(f"chakushin/{p}" for p in (*read_back(CONTRACT), DONE))
    peer = wired_line.place(AsteriskPeer(EXTRA, ["1", PW, PW], missing_files=missing))
    assert peer.prompts[-1] == DONE
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)


def test_interim_100_trying_answers_are_skipped(wired_line: Line1) -> None:
    wired_line.place(AsteriskPeer(EXTRA, ["1", PW, PW], interim_trying=True))
    assert_stored(wired_line, CONTRACT, PW, AuthUnit.LINE)
