"""Issue 12 item 4: the FastAGI server's limits (OPS-4), over real TCP on loopback.

A peer that sends an endless line, too many environment lines, holds the
port with idle connections, trickles one byte at a time or never ends its
call is cut by a limit; every cut is counted by reason in the metrics and
logged, and the next real call still completes. The deadline and the idle
timeout compare an injected clock, so no test waits for them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from agi.peer import AsteriskPeer
from agi.server import REFUSAL_REASONS, FastAGIServer, SessionLimits
from chakushin.metrics import ChakushinCollector, Sources
from dialplan import variables
from store import db, service
from tests.builders import CONTRACT, EXTRA, MonotonicClock, default_routes, running_server

PW = "24681357"
BOUND = 10.0  # seconds any wait below may take at most (never reached when all is well)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    done = threading.Event()
    for _ in range(int(BOUND / 0.01)):
        if condition():
            return
        done.wait(0.01)
    pytest.fail(f"not within {BOUND} s: {what}")


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server ends the connection (EOF or reset) before ``BOUND`` s."""
    sock.settimeout(BOUND)
    try:
        while sock.recv(65536):
            pass  # the server may have written something first
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def closed_now(sock: socket.socket) -> bool:
    """True when the server has already ended the connection (no waiting)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server may refuse half-way (it closes the connection)."""
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        sock.sendall(data)


def next_call_completes(server: FastAGIServer) -> None:
    peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
    assert peer.variables[variables.TP_OUTCOME] == "completed"


def metrics_text(server: FastAGIServer, sqlite_line: sessionmaker[Session]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChakushinCollector(Sources(sqlite_line, "n1", agi=server.stats)))
    return generate_latest(registry).decode()


def refused_events(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "agi_connection_refused"]


def test_item4_OPS_4_line_over_cap_is_refused_and_counted(
    sqlite_line: sessionmaker[Session],
) -> None:
    limits = SessionLimits(max_line_bytes=1024)
    with (
        capture_logs() as logs,
        running_server(default_routes(sqlite_line), limits=limits) as server,
    ):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            # One header line of 4 MiB with no end: the server must stop reading
            # long before it ends and close the connection.
            sender = threading.Thread(
                target=send_quietly,
                args=(sock, b"agi_network: yes\nagi_callerid: " + b"9" * (4 << 20)),
            )
            sender.start()
            assert closed_by_server(sock)
            sender.join(BOUND)
        wait_for(lambda: server.stats.refused["line_too_long"] == 1, "line_too_long counted")
        next_call_completes(server)
        text = metrics_text(server, sqlite_line)
    assert 'chakushin_agi_refused_total{reason="line_too_long"} 1.0' in text
    for reason in REFUSAL_REASONS:
        assert f'chakushin_agi_refused_total{{reason="{reason}"}}' in text
    [event] = refused_events(logs)
    assert event["reason"] == "line_too_long" and event["peer"] == "127.0.0.1"
    assert "9999" not in repr(event)


def test_item4_OPS_4_a_command_reply_over_the_line_cap_ends_the_call_cleanly(
    sqlite_line: sessionmaker[Session],
) -> None:
    """Mid-call the cut is a hang-up for the flow: nothing stored, the outcome says so."""

    class HugeReply(AsteriskPeer):
        def answer(self, command: str) -> str | None:
            if command.startswith("GET DATA"):
                return "200 result=" + "1" * 5000
            return super().answer(command)

    limits = SessionLimits(max_line_bytes=1024)
    with running_server(default_routes(sqlite_line), limits=limits) as server:
        peer = HugeReply(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port, timeout=BOUND)
        wait_for(lambda: server.stats.active == 0, "the session ended")
        next_call_completes(server)
    assert variables.TP_OUTCOME not in peer.variables
    assert server.stats.refused["line_too_long"] == 1
    assert server.stats.finished["caller_hangup"] == 1
    with db.transaction(sqlite_line) as s:
        assert service.get_number(s, CONTRACT).temp_password is not None  # the next call's
        assert service.get_number(s, EXTRA).temp_password is None


def test_item4_OPS_4_too_many_environment_lines_are_refused_and_counted(
    sqlite_line: sessionmaker[Session],
) -> None:
    limits = SessionLimits(max_environment_lines=64)
    with running_server(default_routes(sqlite_line), limits=limits) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            lines = b"".join(b"agi_x%d: 1\n" % i for i in range(10_000))
            sender = threading.Thread(target=send_quietly, args=(sock, lines))
            sender.start()
            assert closed_by_server(sock)
            sender.join(BOUND)
        wait_for(lambda: server.stats.refused["too_many_env_lines"] == 1, "counted")
        # Asterisk's real header (24 lines) is well inside the default.
        next_call_completes(server)


def test_item4_OPS_4_a_connection_over_the_concurrency_cap_is_closed_at_once_without_a_thread(
    sqlite_line: sessionmaker[Session],
) -> None:
    limits = SessionLimits(max_sessions=2)
    with (
        capture_logs() as logs,
        running_server(default_routes(sqlite_line), limits=limits) as server,
    ):
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        try:
            wait_for(lambda: server.stats.active == 2, "two sessions active")
            threads_before = threading.active_count()
            with socket.create_connection(("127.0.0.1", server.port)) as third:
                assert closed_by_server(third)
            assert threading.active_count() == threads_before
            assert server.stats.refused["too_many_sessions"] == 1
            assert server.stats.active == 2
        finally:
            idle[0].close()
        wait_for(lambda: server.stats.active == 1, "a slot is free again")
        try:
            next_call_completes(server)
        finally:
            idle[1].close()
    [event] = refused_events(logs)
    assert event["reason"] == "too_many_sessions" and event["limit"] == 2


def test_item4_OPS_4_a_flood_of_refusals_logs_a_few_lines_and_counts_them_all(
    sqlite_line: sessionmaker[Session],
) -> None:
    clock = MonotonicClock()
    limits = SessionLimits(max_sessions=1)
    with (
        capture_logs() as logs,
        running_server(default_routes(sqlite_line), limits=limits, clock=clock) as server,
        socket.create_connection(("127.0.0.1", server.port)),
    ):
        wait_for(lambda: server.stats.active == 1, "one session active")
        for _ in range(50):
            with socket.create_connection(("127.0.0.1", server.port)) as extra:
                assert closed_by_server(extra)
        clock.advance(60)
        with socket.create_connection(("127.0.0.1", server.port)) as extra:
            assert closed_by_server(extra)
    assert server.stats.refused["too_many_sessions"] == 51
    events = refused_events(logs)
    assert len(events) == 2  # the first, then one a minute later with the count in between
    assert events[1]["suppressed"] == 49


def test_item4_OPS_4_peers_leaving_before_their_environment_log_a_few_lines(
    sqlite_line: sessionmaker[Session],
) -> None:
    """A TCP health check every second must not write a log line every second."""
    clock = MonotonicClock()
    with capture_logs() as logs, running_server(default_routes(sqlite_line), clock=clock) as server:
        for second in range(30):
            socket.create_connection(("127.0.0.1", server.port)).close()

            def ended(n: int = second + 1) -> bool:
                return server.stats.finished["aborted"] == n

            wait_for(ended, "session ended")
            clock.advance(1)
        next_call_completes(server)
    aborted = [e for e in logs if e["event"] == "agi_session_aborted"]
    assert [e["suppressed"] for e in aborted] == [0, 9, 9]


def test_item4_OPS_4_the_idle_timeout_does_not_restart_on_every_byte(
    sqlite_line: sessionmaker[Session],
) -> None:
    """A peer sending one byte every 10 s is cut once one line has taken the idle timeout.

    The bytes keep coming (each 10 s later on the server's clock) until the
    server closes the connection; before, each byte restarted the timeout.
    """
    clock = MonotonicClock()
    limits = SessionLimits(idle_timeout=120.0, session_deadline=86400.0)
    with running_server(default_routes(sqlite_line), limits=limits, clock=clock) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            for _ in range(5000):
                clock.advance(10)
                send_quietly(sock, b"x")
                if closed_now(sock):
                    break
            else:
                pytest.fail("the trickling peer was never cut")
        wait_for(lambda: server.stats.refused["idle"] == 1, "idle counted")
        assert sum(server.stats.refused.values()) == 1
        next_call_completes(server)


def test_item4_OPS_4_the_session_deadline_ends_a_call_that_goes_on_and_on(
    sqlite_line: sessionmaker[Session],
) -> None:
    """Each answer comes in time, but the call as a whole outlives the deadline."""
    clock = MonotonicClock()
    limits = SessionLimits(session_deadline=900.0)

    def slow_caller(index: int) -> None:
        if index == 2:
            clock.advance(901)

    with running_server(default_routes(sqlite_line), limits=limits, clock=clock) as server:
        peer = AsteriskPeer(EXTRA, ["1", PW, PW], before_answer=slow_caller)
        peer.over_tcp("127.0.0.1", server.port, timeout=BOUND)
        wait_for(lambda: server.stats.active == 0, "the session ended")
        next_call_completes(server)
    assert variables.TP_OUTCOME not in peer.variables
    assert server.stats.refused["deadline"] == 1
    with db.transaction(sqlite_line) as s:
        assert service.get_number(s, EXTRA).temp_password is None


def test_item4_a_real_call_with_three_tries_fits_the_default_limits(
    sqlite_line: sessionmaker[Session],
) -> None:
    """The defaults: the longest IVR call still completes with room to spare.

    Eight digit entries (two confirmation mismatches before the third try
    succeeds: IVR-7/IVR-8), each after a 15 s prompt and the longest input
    timeout an operator may configure (60 s); every other prompt 15 s, every
    digit read back 1 s.
    """
    clock = MonotonicClock()
    defaults = SessionLimits()
    longest_input_timeout = 60
    peer = AsteriskPeer(CONTRACT, ["2", EXTRA + "#", PW, "97531864", PW, "97531864", PW, PW])

    def caller_takes_their_time(index: int) -> None:
        command = peer.commands[index]
        if command.startswith("GET DATA"):
            clock.advance(15 + longest_input_timeout)
        elif command.startswith("STREAM FILE"):
            clock.advance(1 if "/digit-" in command else 15)

    peer.before_answer = caller_takes_their_time
    with running_server(default_routes(sqlite_line), limits=defaults, clock=clock) as server:
        peer.over_tcp("127.0.0.1", server.port, timeout=BOUND)
    assert peer.variables[variables.TP_OUTCOME] == "completed"
    assert sum(c.startswith("GET DATA") for c in peer.commands) == 8
    assert clock.now - 1000.0 < defaults.session_deadline * 0.9
    assert defaults.max_line_bytes >= 8192 and defaults.max_environment_lines >= 64
    assert sum(server.stats.refused.values()) == 0
