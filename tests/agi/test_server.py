"""The FastAGI server itself: many calls at once, odd peers, the fail path, the command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from agi.prompts import Prompt
from dialplan import variables
from store import db, passwords, service
from tests.builders import CONTRACT, EXTRA, default_routes, free_port, running_server

PW = "24681357"


def test_many_calls_at_once(sqlite_line: sessionmaker[Session]) -> None:
    with running_server(default_routes(sqlite_line)) as server:
        peers = [
            AsteriskPeer(
                EXTRA if i % 2 else CONTRACT,
                ["3", *(["0312345678#"] if i % 2 == 0 else []), PW, PW],
                uniqueid=f"1700000000.{i}",
            )
            for i in range(40)
        ]
        threads = [
            threading.Thread(target=p.over_tcp, args=("127.0.0.1", server.port)) for p in peers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [p.variables.get(variables.TP_OUTCOME) for p in peers] == ["completed"] * 40
    assert server.stats.finished["completed"] == 40 and server.stats.active == 0
    with db.transaction(sqlite_line) as s:
        for number in (CONTRACT, EXTRA):
            stored = service.get_number(s, number).temp_password
            assert stored is not None and passwords.verify_password(stored.password_hash, PW)


def test_a_silent_peer_does_not_hold_up_other_calls(sqlite_line: sessionmaker[Session]) -> None:
    """panoramisk's FastAGI server froze on this; each session here has its own thread."""
    with running_server(default_routes(sqlite_line)) as server:
        silent = socket.create_connection(("127.0.0.1", server.port))
        half = socket.create_connection(("127.0.0.1", server.port))
        half.sendall(b"agi_network: yes\nagi_callerid: 03")
        try:
            peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
        finally:
            silent.close()
            half.close()
    assert peer.variables[variables.TP_OUTCOME] == "completed"
    assert server.stats.finished["aborted"] == 2


def test_peer_closing_before_the_environment_is_logged_and_survived(
    sqlite_line: sessionmaker[Session],
) -> None:
    with running_server(default_routes(sqlite_line)) as server:
        socket.create_connection(("127.0.0.1", server.port)).close()
        peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
    assert peer.variables[variables.TP_OUTCOME] == "completed"
    assert server.stats.finished == {"aborted": 1, "completed": 1}


def test_unknown_script_is_refused(sqlite_line: sessionmaker[Session]) -> None:
    with running_server(default_routes(sqlite_line)) as server:
        peer = AsteriskPeer(EXTRA, [], script="no-such-script").over_tcp("127.0.0.1", server.port)
    assert peer.commands == []
    assert server.stats.finished["unknown_script"] == 1


def test_allow_list_refuses_other_peers(sqlite_line: sessionmaker[Session]) -> None:
    with running_server(default_routes(sqlite_line), allowed_peers=["192.0.2.10"]) as server:
        peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
    assert peer.commands == []
    with running_server(
        default_routes(sqlite_line), allowed_peers=["192.0.2.10", "127.0.0.1"]
    ) as server:
        peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
    assert peer.variables[variables.TP_OUTCOME] == "completed"


def test_database_unavailable_plays_the_system_error_guidance() -> None:
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2")
    try:
        with running_server(default_routes(db.session_factory(engine))) as server:
            peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp("127.0.0.1", server.port)
    finally:
        engine.dispose()
    assert peer.prompts == [Prompt.TP_SYSTEM_ERROR.value]
    assert peer.variables[variables.TP_OUTCOME] == "system_error"
    assert peer.commands[-1] == "HANGUP"


def test_agi_server_command_serves_calls_and_stops_on_sigterm(
    sqlite_url: str, sqlite_line: sessionmaker[Session], tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAKUSHIN_")}
    env.update(
        CHAKUSHIN_DATABASE_URL=sqlite_url,
        CHAKUSHIN_AGI_PORT=str(port),
        CHAKUSHIN_DATA_DIR=str(tmp_path),
    )
    command = shutil.which("chakushin", path=os.path.dirname(sys.executable))
    assert command
    process = subprocess.Popen(
        [command, "agi-server"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.startswith("FastAGI server listening"):
                assert line.strip().endswith(f"127.0.0.1:{port}")
                break
        else:
            pytest.fail("agi-server ended before listening")
        peer = AsteriskPeer(CONTRACT, ["2", EXTRA + "#", PW, PW]).over_tcp("127.0.0.1", port)
        assert peer.variables[variables.TP_OUTCOME] == "completed"
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    events = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    stopped = [e for e in events if e["event"] == "agi_server_stopped"]
    assert stopped and stopped[0]["sessions"] == {"completed": 1}


def test_a_burst_of_calls_waits_in_the_listen_backlog() -> None:
    """200 calls arriving before the server accepts any all get connected, none dropped."""
    from agi.server import FastAGIServer

    server = FastAGIServer(("127.0.0.1", 0), {})  # accepting nothing yet
    connected: list[socket.socket] = []
    try:
        for _ in range(200):
            connected.append(socket.create_connection(("127.0.0.1", server.port), timeout=3))
    finally:
        for sock in connected:
            sock.close()
        server.server_close()
    assert len(connected) == 200
