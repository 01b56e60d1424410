"""Hostile input into the FastAGI server: the AGI environment, command replies, DTMF (issue 12).

Every example is one session over loopback TCP against the real FastAGI
server, with a peer that speaks the AGI wire protocol (``agi.peer``) and
then sends what no well-behaved Asterisk would: environment values that
are very long, hold control characters or ``+81…``/``anonymous``, missing
and duplicated lines; replies that are garbage, ``200 result=`` with huge
or negative numbers, 510/511/520, ``HANGUP``; random DTMF with ``*``, ``#``
and timeouts. For each: the session ends (no hang), no flow raises into
the server (no ``failed`` session, no ``agi_session_failed`` traceback),
nothing is stored unless the call really completed, and the next valid
call still works. The DTMF rules also run on the scripted channel, where
an example costs no socket, with a larger budget.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from agi.scripted import HANGUP, TIMEOUT, ScriptedChannel
from agi.server import FastAGIServer
from agi.temp_password import Outcome, TempPasswordCall
from dialplan import variables as v
from store import db, passwords, service, validation
from store.errors import InvalidInput
from store.models import Presentation
from tests.builders import a_line, default_routes, empty_tables, running_server, snapshot
from tests.hostile.conftest import BOUNDARY_TEXT, hostile_text

CONTRACT, EXTRA, CALLER = "0312345678", "0312345679", "0398765432"
PW = "24681357"
VALID_CALL = ["1", PW, PW]  # IVR-4 from EXTRA: the contract number's temporary password
HOSTILE_KEYS = (
    "agi_callerid",
    "agi_calleridname",
    "agi_extension",
    "agi_uniqueid",
    "agi_network_script",
)
ROUTE_KEYS = (*HOSTILE_KEYS, "agi_arg_1", "agi_callingpres", "agi_callingani2")
MAX_LINE = 8192  # agi.max_line_bytes' default, which the server below runs with
WIRE = settings(max_examples=30)  # each example costs one or two TCP sessions


@dataclass
class HostilePeer(AsteriskPeer):
    """An AsteriskPeer that sends a header of the test's making and chosen replies."""

    header: str = ""  # the whole agi_* block, blank line included
    replies: dict[int, str] = field(default_factory=dict)  # command index -> what is sent
    interim: frozenset[int] = frozenset()  # "100 result=0 Trying..." before these answers

    def environment(self, *, network: bool) -> str:
        return self.header or super().environment(network=network)

    def answer(self, command: str) -> str | None:
        index = len(self.commands) - 1
        if index in self.replies:
            return self.replies[index]
        answer = super().answer(command)
        if index in self.interim and answer is not None:
            return "100 result=0 Trying...\n" + answer
        return answer


@dataclass
class Switch:
    """One database, one FastAGI server, for all the examples of a test."""

    server: FastAGIServer
    sessions: sessionmaker[Session]

    def place(self, peer: AsteriskPeer) -> AsteriskPeer:
        finished = sum(self.server.stats.finished.values())
        result = peer.over_tcp("127.0.0.1", self.server.port, timeout=30)
        # The peer may end first (the server cut it): wait for the server's side too.
        ended = threading.Event()
        for _ in range(3000):
            if sum(self.server.stats.finished.values()) > finished:
                break
            ended.wait(0.01)
        assert self.server.stats.active == 0, "the session did not end"
        assert self.server.stats.finished["failed"] == 0, "a flow raised into the server"
        return result

    def state(self) -> dict[str, list[tuple[object, ...]]]:
        return snapshot(self.sessions.kw["bind"])

    def contract_password_is(self, temp_password: str) -> bool:
        with db.transaction(self.sessions) as s:
            stored = service.get_number(s, CONTRACT).temp_password
        return stored is not None and passwords.verify_password(stored.password_hash, temp_password)

    def valid_call_completes(self) -> None:
        before = self.state()
        peer = self.place(AsteriskPeer(EXTRA, VALID_CALL))
        assert peer.variables[v.TP_OUTCOME] == "completed"
        assert self.state() != before and self.contract_password_is(PW)

    def valid_route_works(self) -> None:
        variables = self.place(route_peer({})).variables
        assert variables[v.ACTION] == v.ACTION_RING
        assert (variables[v.CALLER], variables[v.PRESENTATION]) == (CALLER, "allowed")


@pytest.fixture
def switch(sqlite_url: str) -> Iterator[Switch]:
    engine = db.make_engine(sqlite_url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
    try:
        with running_server(default_routes(sessions)) as server:
            yield Switch(server, sessions)
    finally:
        empty_tables(engine)
        engine.dispose()


# --- the environment ----------------------------------------------------------------------

hostile_value = st.one_of(
    hostile_text,
    st.sampled_from(BOUNDARY_TEXT),
    st.sampled_from(["+81312345679", "anonymous", " 0312345679 ", "0312345679\x00", "184"]),
)
# What happens to one line of the header: kept, replaced, left out, or sent twice.
line_change = st.one_of(
    st.just(("keep", "")),
    st.tuples(st.just("replace"), hostile_value),
    st.just(("drop", "")),
    st.tuples(st.sampled_from(["twice_before", "twice_after"]), hostile_value),
)


def header_of(base: AsteriskPeer, changes: dict[str, tuple[str, str]]) -> str:
    """The header of ``base`` with ``changes`` applied to its lines."""
    lines: list[tuple[str, str]] = []
    for raw in base.environment(network=True).splitlines():
        if not raw:
            continue
        key, _, value = raw.partition(": ")
        kind, hostile = changes.get(key, ("keep", ""))
        if kind == "replace":
            lines.append((key, hostile))
        elif kind == "twice_before":
            lines += [(key, hostile), (key, value)]
        elif kind == "twice_after":
            lines += [(key, value), (key, hostile)]
        elif kind == "keep":
            lines.append((key, value))
    return "".join(f"{key}: {value}\n" for key, value in lines) + "\n"


def as_read(header: str) -> dict[str, str] | None:
    """The environment the server takes from ``header``, or None when it cannot be a call.

    None: a line over the cap, or lines left after the first blank one (a
    value with a line break in it), which the server reads as replies.
    """
    lines = header.split("\n")
    env: dict[str, str] = {}
    for index, line in enumerate(lines):
        if len(line.encode()) > MAX_LINE:
            return None
        if not line.strip():
            return env if index == len(lines) - 2 else None
        key, _, value = line.strip().partition(":")
        if key.strip():
            env[key.strip()] = value.strip()  # the last of a key wins
    return None


@WIRE
@given(changes=st.fixed_dictionaries({}, optional=dict.fromkeys(HOSTILE_KEYS, line_change)))
def test_issue12_IVR_2_hostile_agi_environment_of_the_temp_password_line(
    switch: Switch, changes: dict[str, tuple[str, str]]
) -> None:
    header = header_of(AsteriskPeer(EXTRA), changes)
    env = as_read(header) or {}
    before = switch.state()
    peer = switch.place(HostilePeer(EXTRA, VALID_CALL, header=header))
    outcome = peer.variables.get(v.TP_OUTCOME)
    genuine = (
        env.get("agi_callerid") == EXTRA and env.get("agi_network_script") == v.SCRIPT_TEMP_PASSWORD
    )
    if genuine:  # odd names, uniqueids and extensions do not stop a real caller
        assert outcome == "completed"
    else:
        assert outcome != "completed"
        assert switch.state() == before
    switch.valid_call_completes()


def route_peer(env: dict[str, str], header: str = "") -> HostilePeer:
    return HostilePeer(
        CALLER,
        script=v.SCRIPT_ROUTE_CALL,
        env_overrides={
            "agi_arg_1": EXTRA,
            "agi_extension": EXTRA,
            "agi_context": v.CONTEXT_SUBSCRIBERS,
            **env,
        },
        header=header,
    )


def is_caller_number(value: str) -> bool:
    try:
        validation.diallable_number(value)
    except InvalidInput:
        return False
    return True


def assert_only_the_last_caller_changed(
    before: dict[str, list[tuple[object, ...]]], switch: Switch
) -> None:
    """A routed call records the number's last caller (CALL-2) and nothing else."""
    after = switch.state()
    assert {k: rows for k, rows in after.items() if k != "number"} == {
        k: rows for k, rows in before.items() if k != "number"
    }
    with db.transaction(switch.sessions) as s:
        for number in (CONTRACT, EXTRA):
            last = service.get_number(s, number).last_caller_number
            assert last is None or is_caller_number(last), last


@WIRE
@given(changes=st.fixed_dictionaries({}, optional=dict.fromkeys(ROUTE_KEYS, line_change)))
def test_issue12_CALL_1_hostile_agi_environment_of_the_call_route(
    switch: Switch, changes: dict[str, tuple[str, str]]
) -> None:
    header = header_of(route_peer({}), changes)
    before = switch.state()
    peer = switch.place(route_peer({}, header))
    variables = peer.variables
    assert variables.get(v.ACTION, v.ACTION_RING) in v.ACTIONS
    assert variables.get(v.PRESENTATION, "allowed") in {p.value for p in Presentation}
    caller = variables.get(v.CALLER, "")
    assert caller == "" or (is_caller_number(caller) and variables[v.PRESENTATION] == "allowed")
    # Issue 15: and the number's endpoint to AstDB (a number's key only); over PJSIP
    # it reads the SIP identity headers (a payphone's cpc).
    assert all(
        c.startswith(("SET VARIABLE", "DATABASE PUT", "DATABASE DEL", "GET VARIABLE"))
        and "\n" not in c
        and "\r" not in c
        for c in peer.commands
    )
    assert all(re.fullmatch(rf"{v.ASTDB_ENDPOINT}/[0-9]{{1,32}}", k) for k in peer.database)
    assert_only_the_last_caller_changed(before, switch)
    switch.valid_route_works()


# --- command replies ----------------------------------------------------------------------

hostile_reply = st.one_of(
    hostile_text.filter(lambda text: "\n" not in text),
    st.builds(
        lambda n, tail: f"200 result={n}{tail}",
        st.integers(min_value=-(10**30), max_value=10**30),
        st.sampled_from(["", " (timeout)", " (hangup)", " endpos=-1", " (", " (x) y=z"]),
    ),
    st.sampled_from(
        [
            "200 result=",
            "200 result=-1",
            "200",
            "200 ",
            "510 Invalid or unknown command",
            "511 Command Not Permitted on a dead channel or intercepted by a dialplan application",
            "520 Invalid command syntax.  Proper usage not available.",
            "520-Invalid command syntax.  Proper usage follows:\n"
            " Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
            "520 End of proper usage.",
            "HANGUP",
            "hangup",
            "",
            "999 result=1",
            "200 result=1 (" + "x" * 9000 + ")",
        ]
    ),
)
replies = st.dictionaries(st.integers(min_value=0, max_value=30), hostile_reply, max_size=3)


@WIRE
@given(replies=replies, interim=st.frozensets(st.integers(min_value=0, max_value=30), max_size=5))
def test_issue12_IVR_8_hostile_command_replies_on_the_temp_password_line(
    switch: Switch, replies: dict[int, str], interim: frozenset[int]
) -> None:
    before = switch.state()
    peer = switch.place(HostilePeer(EXTRA, VALID_CALL, replies=replies, interim=interim))
    if switch.state() != before:
        # Stored only what the caller keyed twice; a bad reply after the save
        # (to the last words) may still spoil the outcome variable.
        assert switch.contract_password_is(PW)
        assert not any(
            peer.commands[i].startswith("GET DATA") for i in replies if i < len(peer.commands)
        )
    else:
        assert peer.variables.get(v.TP_OUTCOME) != "completed"
    switch.valid_call_completes()


@WIRE
@given(replies=replies)
def test_issue12_CALL_1_hostile_command_replies_on_the_call_route(
    switch: Switch, replies: dict[int, str]
) -> None:
    before = switch.state()
    peer = route_peer({})
    peer.replies = replies
    switch.place(peer)
    assert_only_the_last_caller_changed(before, switch)
    switch.valid_route_works()


# --- DTMF -----------------------------------------------------------------------------------

keyed = st.one_of(
    st.text(alphabet="0123456789*#", max_size=14),
    st.sampled_from([TIMEOUT, HANGUP, "#", "*", "1", "2", "3", EXTRA + "#", PW, "0" * 30]),
)
dtmf = st.lists(keyed, max_size=12)


def scripted(actions: list[str]) -> tuple[Outcome, ScriptedChannel, list[tuple[str, str, str]]]:
    store = a_line()
    # A caller who stops keying lets every later read time out.
    channel = ScriptedChannel(
        [*actions, *[TIMEOUT] * 12],
        agi_env={"agi_callerid": EXTRA, "agi_uniqueid": "1700000000.1"},
    )
    outcome = TempPasswordCall(channel, store).run()
    return outcome, channel, [(c, t, p) for c, t, p, _ in store.saved]


@settings(max_examples=300)
@given(actions=dtmf)
def test_issue12_IVR_8_random_dtmf_on_the_scripted_channel(actions: list[str]) -> None:
    outcome, channel, saved = scripted(actions)
    assert outcome in (Outcome.COMPLETED, Outcome.TOO_MANY_ERRORS, Outcome.CALLER_HANGUP)
    errors = channel.prompts.count("tp-invalid-entry")
    if outcome is Outcome.COMPLETED:
        [(caller, _target, temp_password)] = saved
        assert caller == EXTRA
        assert len(temp_password) == 8 and temp_password.isdigit()
        assert errors <= 2
    else:
        assert saved == []
    if outcome is Outcome.TOO_MANY_ERRORS:
        assert channel.prompts[-2:] == ["tp-invalid-entry", "tp-call-again"]
        assert errors == 3  # two re-prompts, then the last words


@WIRE
@given(actions=dtmf)
def test_issue12_IVR_8_random_dtmf_over_the_wire_matches_the_flow(
    switch: Switch, actions: list[str]
) -> None:
    """Over the wire the same keys give the same prompts and outcome as on the scripted channel."""
    expected, channel, _saved = scripted(actions)
    before = switch.state()
    peer = switch.place(AsteriskPeer(EXTRA, actions))
    outcome = peer.variables.get(v.TP_OUTCOME, Outcome.CALLER_HANGUP.value)
    assert outcome == expected.value
    played = [p for p in channel.prompts if not p.isdigit()]
    digits = "".join(p for p in channel.prompts if p.isdigit())
    assert [p for p in peer.prompts if not p.startswith("digit-")] == played
    assert "".join(p[6:] for p in peer.prompts if p.startswith("digit-")) == digits
    if expected is not Outcome.COMPLETED:
        assert switch.state() == before
    switch.valid_call_completes()
