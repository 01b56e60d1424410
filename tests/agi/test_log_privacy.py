"""Issue 12 item 18 (MAIL-9): a withheld caller's number never reaches a log line of agi/.

Over the real AGI wire (FastAGI on loopback) for the temporary-password
line, the call route and the nuisance feature code, and on the scripted
channel for the temporary-password flow's every step: the caller's
number is logged only when its presentation is allowed; a withheld one
logs as ``withheld``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from agi import wiring
from agi.peer import AsteriskPeer
from agi.prompts import Prompt
from agi.scripted import ScriptedChannel
from agi.temp_password import Outcome, TempPasswordCall
from dialplan import variables as v
from store import db, service
from store.models import Service
from tests.builders import a_line, default_routes, empty_tables, running_server

CONTRACT, EXTRA, CALLER = "0312345678", "0312345679", "0398765432"
PW = "24681357"
WITHHELD_PRES = "33"  # AST_PRES_PROHIB_USER_NUMBER_PASSED_SCREEN, what 184 gives


@pytest.fixture
def port(sqlite_url: str) -> Iterator[int]:
    engine = db.make_engine(sqlite_url)
    sessions: sessionmaker[Session] = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo", services=[Service.NUISANCE])
    try:
        with running_server(default_routes(sessions)) as server:
            yield server.port
    finally:
        empty_tables(engine)
        engine.dispose()


def logged(logs: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(repr(sorted(e.items())) for e in logs)


def test_item18_MAIL_9_withheld_caller_of_the_temp_password_line_is_never_logged(
    port: int,
) -> None:
    with capture_logs() as logs:
        peer = AsteriskPeer(
            EXTRA, ["1", PW, PW], env_overrides={"agi_callingpres": WITHHELD_PRES}
        ).over_tcp("127.0.0.1", port)
    assert peer.variables[v.TP_OUTCOME] == "completed"
    assert logs, "the flow logs its steps"
    assert EXTRA not in logged(logs)
    started = next(e for e in logs if e["event"] == "tp_call_started")
    assert started["caller"] == "withheld"


def test_item18_MAIL_9_presented_caller_of_the_temp_password_line_is_logged(port: int) -> None:
    with capture_logs() as logs:
        AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", port)
    started = next(e for e in logs if e["event"] == "tp_call_started")
    assert started["caller"] == EXTRA


@pytest.mark.parametrize("step", range(12))
def test_item18_MAIL_9_no_step_of_the_flow_logs_a_withheld_callers_own_number(step: int) -> None:
    """Unit 3 from an additional number sets the caller's own number: not logged either."""
    channel = ScriptedChannel(
        ["9", "3", "1234", PW, PW],
        agi_env={
            "agi_callerid": EXTRA,
            "agi_callingpres": WITHHELD_PRES,
            "agi_uniqueid": "1700000000.9",
        },
        hangup_at_command=step if step < 11 else None,
    )
    with capture_logs() as logs:
        outcome = TempPasswordCall(channel, a_line()).run()
    assert outcome in (Outcome.COMPLETED, Outcome.CALLER_HANGUP)
    assert EXTRA not in logged(logs)


def test_item18_MAIL_9_withheld_caller_of_the_call_route_is_never_logged(port: int) -> None:
    with capture_logs() as logs:
        peer = AsteriskPeer(
            CALLER,
            script=v.SCRIPT_ROUTE_CALL,
            env_overrides={
                "agi_arg_1": EXTRA,
                "agi_extension": EXTRA,
                "agi_callingpres": WITHHELD_PRES,
                "agi_context": v.CONTEXT_SUBSCRIBERS,
            },
        ).over_tcp("127.0.0.1", port)
    assert peer.variables[v.PRESENTATION] == "withheld"
    assert peer.variables[v.CALLER] == ""
    assert CALLER not in logged(logs)
    routed = next(e for e in logs if e["event"] == "call_routed")
    assert routed["caller"] == "withheld"


def test_item18_MAIL_9_a_withheld_subscriber_phone_on_the_feature_code_is_never_logged(
    port: int,
) -> None:
    """The subscriber's own phone may withhold its number (184): 144 still works, unlogged."""
    with capture_logs() as logs:
        peer = AsteriskPeer(
            EXTRA,
            ["2"],
            script=v.SCRIPT_NUISANCE_FEATURE,
            env_overrides={"agi_callingpres": WITHHELD_PRES},
        ).over_tcp("127.0.0.1", port)
    assert peer.variables[v.FEATURE_OUTCOME] == "no_last_call"
    assert EXTRA not in logged(logs)
    done = next(e for e in logs if e["event"] == "nuisance_feature_done")
    assert done["number"] == "withheld"


def test_item18_MAIL_9_a_store_refusal_logs_its_code_not_the_callers_number(
    sqlite_url: str,
) -> None:
    """The domain layer's messages name the caller; the flow logs the refusal's code.

    Issue 13: the refusal is an answer, not a store that cannot answer: the
    caller hears IVR-2's guidance, not the system error.
    """
    engine = db.make_engine(sqlite_url)
    try:
        store = wiring.SqlTempPasswordStore(db.session_factory(engine))
        channel = ScriptedChannel(
            ["1", PW, PW],
            agi_env={"agi_callerid": EXTRA, "agi_callingpres": WITHHELD_PRES},
        )
        with capture_logs() as logs:
            outcome = TempPasswordCall(channel, _LineGoneBeforeTheSave(store)).run()
    finally:
        engine.dispose()
    assert outcome is Outcome.NOT_SUBSCRIBER
    assert channel.prompts[-1] == Prompt.TP_NOT_SUBSCRIBER.value
    assert channel.variables[v.TP_OUTCOME] == "not_subscriber"
    refused = next(e for e in logs if e["event"] == "tp_caller_refused")
    assert refused["reason"] == "not_subscribed"
    assert not any(e["event"] == "tp_store_unavailable" for e in logs)
    assert EXTRA not in logged(logs)


class _LineGoneBeforeTheSave:
    """The caller's line is found, then removed by the operator before the save."""

    def __init__(self, store: wiring.SqlTempPasswordStore) -> None:
        self.store = store

    def caller_line(self, caller_number: str) -> service.CallerLine | None:
        return a_line().caller_line(caller_number)

    def save(
        self, caller_number: str, target_number: str, temp_password: str, unit: object
    ) -> None:
        self.store.save(caller_number, target_number, temp_password, unit)  # type: ignore[arg-type]
