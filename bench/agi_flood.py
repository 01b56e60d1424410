"""Benchmark: what a flood costs the FastAGI server process (issue 12 item 4).

Run: ``.venv/bin/python bench/agi_flood.py [--tree DIR ...] [--idle 3000]
[--line-mb 200] [--json FILE]``.

What is measured. For each source tree given (default: this one; give an
old checkout, e.g. ``git worktree add /tmp/old <commit>``, to compare),
``chakushin agi-server`` runs from that tree as a subprocess on a throw-away
SQLite database with one line, once per scenario:

- *idle*: this script opens ``--idle`` TCP connections to the server and
  sends nothing, waits until the server's thread count has not changed for
  two seconds (at most 60 s), then reads the server's threads and memory,
  counts the connections the server has already closed, and places one
  complete temporary-password call (IVR-4) while the flood holds.
- *long line*: one connection sends ``agi_network: yes``, then a header line
  of ``--line-mb`` MiB of digits with no end, 1 MiB at a time, until the
  server closes the connection or all is sent; then the same valid call.

How to read the numbers. *threads* and *RSS* are the server's
``/proc/<pid>/status`` (Threads, VmRSS) at the measuring point; *peak RSS*
is VmHWM, the largest the process has been; *growth* is peak RSS minus the
RSS of the idle server before the scenario. *closed by server*: connections
the server ended at once (a cap); *sent before close*: how much of the long
line the server took before closing. *valid call during / after*: the outcome
of a real call while the flood holds (``refused`` when the server turned it
away) and once it has gone. *log*: lines the server wrote to stderr from
the start of the scenario to the measuring point.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Run as a script, bench/ is first on sys.path; the repo root finds bench.machine.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.peer import AsteriskPeer
from bench.machine import machine, machine_line
from dialplan import variables

HOST = "127.0.0.1"
CONTRACT, EXTRA, PW = "0312345678", "0312345679", "24681357"
MIB = 1 << 20
PROVISION = f"""
from store import db, service
engine = db.make_engine({{url!r}})
db.ensure_schema(engine)
with db.transaction(db.session_factory(engine)) as s:
    service.add_line(s, {CONTRACT!r}, timezone="Asia/Tokyo")
    service.add_number(s, {CONTRACT!r}, {EXTRA!r}, timezone="Asia/Tokyo")
engine.dispose()
"""


@dataclass
class Result:
    tree: str
    commit: str
    scenario: str
    threads_before: int
    rss_before_mib: float
    threads: int
    rss_mib: float
    peak_rss_mib: float
    growth_mib: float
    closed_by_server: int
    sent_before_close_mib: float | None
    valid_call: str
    valid_call_after: str
    log_lines: int


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def threads_and_rss(pid: int) -> tuple[int, float, float]:
    """Threads, VmRSS and VmHWM (MiB) of ``pid``."""
    status = proc_status(pid)
    return (
        int(status["Threads"]),
        int(status["VmRSS"].split()[0]) / 1024,
        int(status["VmHWM"].split()[0]) / 1024,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """``chakushin agi-server`` from ``tree``, on its own database and port."""

    def __init__(self, tree: Path, workdir: Path) -> None:
        self.port = free_port()
        url = f"sqlite:///{workdir / 'chakushin.db'}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHAKUSHIN_")}
        self.env.update(
            PYTHONPATH=str(tree),
            CHAKUSHIN_DATABASE_URL=url,
            CHAKUSHIN_DATA_DIR=str(workdir),
            CHAKUSHIN_AGI_PORT=str(self.port),
            CHAKUSHIN_LOG_FORMAT="json",
        )
        subprocess.run(
            [sys.executable, "-c", PROVISION.format(url=url)], env=self.env, cwd=tree, check=True
        )
        self.log_path = workdir / "server.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from chakushin.cli import main; main()", "agi-server"],
            env=self.env,
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while "FastAGI server listening" not in self.log_path.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"agi-server from {tree} did not start")
            time.sleep(0.1)

    def log_lines(self) -> int:
        return len(self.log_path.read_text().splitlines())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def valid_call(port: int) -> str:
    try:
        peer = AsteriskPeer(EXTRA, ["1", PW, PW]).over_tcp(HOST, port, timeout=30)
    except OSError as exc:
        return f"error: {exc}"
    if not peer.commands:
        return "refused"
    return peer.variables.get(variables.TP_OUTCOME, "no outcome")


def closed_now(sock: socket.socket) -> bool:
    poller = select.poll()  # select() cannot take descriptors above 1023
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_for_steady_threads(pid: int) -> None:
    last, since, deadline = -1, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline:
        threads = threads_and_rss(pid)[0]
        if threads != last:
            last, since = threads, time.monotonic()
        elif time.monotonic() - since >= 2:
            return
        time.sleep(0.1)


@dataclass
class Measured:
    threads: int
    rss_mib: float
    peak_rss_mib: float
    closed_by_server: int
    sent_before_close_mib: float | None
    valid_call: str
    log_lines: int  # lines the server has written so far


def idle_flood(server: Server, connections: int) -> Measured:
    held: list[socket.socket] = []
    try:
        for _ in range(connections):
            with contextlib.suppress(OSError):
                held.append(socket.create_connection((HOST, server.port), timeout=30))
        wait_for_steady_threads(server.process.pid)
        closed = sum(closed_now(s) for s in held)
        threads, rss, peak = threads_and_rss(server.process.pid)  # while the flood holds
        call = valid_call(server.port)
        return Measured(threads, rss, peak, closed, None, call, server.log_lines())
    finally:
        for s in held:
            s.close()


def long_line(server: Server, megabytes: int) -> Measured:
    sent = 0
    chunk = b"9" * MIB
    with socket.create_connection((HOST, server.port), timeout=60) as sock:
        sock.sendall(b"agi_network: yes\nagi_callerid: ")
        try:
            while sent < megabytes * MIB and not closed_now(sock):
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection
        closed = 1 if sent < megabytes * MIB else 0
        if not closed:  # all sent: let the server take it in
            wait_for_steady_threads(server.process.pid)
        threads, rss, peak = threads_and_rss(server.process.pid)
        call = valid_call(server.port)
        return Measured(threads, rss, peak, closed, sent / MIB, call, server.log_lines())


def after_flood(server: Server) -> str:
    """A valid call once the flood has gone (its sessions have ended)."""
    deadline = time.monotonic() + 30
    call = valid_call(server.port)
    while call == "refused" and time.monotonic() < deadline:
        time.sleep(0.2)
        call = valid_call(server.port)
    return call


def commit_of(tree: Path) -> str:
    found = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return found.stdout.strip() or "?"


def run(tree: Path, scenario: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="chakushin-flood-") as workdir:
        server = Server(tree, Path(workdir))
        try:
            pid = server.process.pid
            threads_before, rss_before, _ = threads_and_rss(pid)
            logged_before = server.log_lines()
            if scenario == "idle":
                m = idle_flood(server, args.idle)
            else:
                m = long_line(server, args.line_mb)
            return Result(
                tree=str(tree),
                commit=commit_of(tree),
                scenario=f"idle {args.idle}" if scenario == "idle" else f"line {args.line_mb} MiB",
                threads_before=threads_before,
                rss_before_mib=round(rss_before, 1),
                threads=m.threads,
                rss_mib=round(m.rss_mib, 1),
                peak_rss_mib=round(m.peak_rss_mib, 1),
                growth_mib=round(m.peak_rss_mib - rss_before, 1),
                closed_by_server=m.closed_by_server,
                sent_before_close_mib=m.sent_before_close_mib,
                valid_call=m.valid_call,
                valid_call_after=after_flood(server),
                log_lines=m.log_lines - logged_before,
            )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="source tree (repeatable)")
    parser.add_argument("--idle", type=int, default=3000, help="idle connections")
    parser.add_argument("--line-mb", type=int, default=200, help="MiB of the endless header line")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    trees = args.tree or [Path(__file__).resolve().parents[1]]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.idle + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    print(machine_line(machine()))
    results = [
        run(tree.resolve(), scenario, args) for tree in trees for scenario in ("idle", "line")
    ]
    header = (
        f"{'tree':<22} {'scenario':<14} {'threads':>13} {'RSS MiB':>15} {'peak':>7} "
        f"{'growth':>7} {'closed':>6} {'sent MiB':>8} {'log':>5}  valid call during / after"
    )
    print(header)
    for r in results:
        sent = "" if r.sent_before_close_mib is None else f"{r.sent_before_close_mib:.1f}"
        threads = f"{r.threads_before:>5} -> {r.threads:>4}"
        rss = f"{r.rss_before_mib:>6.1f} -> {r.rss_mib:>5.1f}"
        print(
            f"{Path(r.tree).name + ' ' + r.commit:<22} {r.scenario:<14} {threads} {rss} "
            f"{r.peak_rss_mib:>7.1f} {r.growth_mib:>7.1f} {r.closed_by_server:>6} {sent:>8} "
            f"{r.log_lines:>5}  {r.valid_call} / {r.valid_call_after}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine(), "results": [asdict(r) for r in results]}, indent=2)
        )


if __name__ == "__main__":
    threading.stack_size(512 * 1024)
    main()
