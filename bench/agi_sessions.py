"""Benchmark: complete temporary-password calls over FastAGI and over classic AGI.

Run: ``.venv/bin/python bench/agi_sessions.py [--sizes 100,500,1000] [--classic 100]
[--json FILE]``.

What is measured. A throw-away SQLite database gets one line per caller (a
contract number and an additional number, both with the mail service).
``chakushin agi-server`` runs as a subprocess, as in production; for each
size N, N callers (one thread each, released together by a barrier) each
make one complete unit-1 call from an additional number (IVR-4: the
contract number's temporary password, keyed twice) with ``AsteriskPeer``
over TCP. Then the server is stopped with SIGTERM, and N classic AGI
sessions run the way Asterisk runs ``AGI(chakushin-agi,temp-password)``:
one ``chakushin-agi`` process per call, all started at once.

How to read the numbers.
- *sessions/s*: completed sessions divided by the wall time from the
  barrier's release to the last caller's end.
- *ms/command*: per AGI command, the time from the peer's answer to the
  server's next command, i.e. the server's processing time per step
  (p50 is the plain protocol round trip). A session sends about 26
  commands; one of them follows the hash of the temporary password, so
  p99 shows the hashing and the queue in front of it.
- *first command*: from the end of the ``agi_*`` header block to the first
  command: accepting the connection, reading the header, the caller's
  lookup in the database, and for classic AGI the start of a Python
  process with its imports.
- Every completed session hashes its temporary password with argon2id
  (19 MiB, t=2), at most max(2, cpu_count) hashes at once per process
  (``store.passwords``). That bounds FastAGI sessions/s at roughly
  slots / hash time whatever the transport does; classic AGI processes
  each have their own slots, so there only the CPU bounds them. The
  callers run on the same machine and share its CPUs.
- *failures* (printed when any): sessions that did not complete, by the
  outcome the flow set, the classic process's exit status, or "no command
  received" (the server never served the connection; ``AsteriskPeer``
  ends such a call quietly at its read timeout). On Linux the count of
  connection attempts the kernel dropped at the server's full accept
  queue is printed too (TcpExt ListenOverflows, in the JSON as
  ``listen_overflows``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

# Run as a script, bench/ is first on sys.path; the repo root finds bench.machine.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agi.peer import AsteriskPeer
from bench.machine import machine, machine_line
from chakushin import logs
from dialplan import variables
from store import db, service

TIMEZONE = "Asia/Tokyo"
TEMP_PASSWORD = "24681357"
UNIT_LINE = "1"
HOST = "127.0.0.1"
CALL_TIMEOUT = 120.0  # seconds a caller waits for the server's next command
THREAD_STACK = 512 * 1024
COMPLETED = "completed"


def contract_number(i: int) -> str:
    return f"03{i:08d}"


def additional_number(i: int) -> str:
    return f"05{i:09d}"


@dataclass
class Result:
    transport: str
    callers: int
    completed: int
    wall_s: float
    sessions_per_s: float
    p50_ms_per_command: float
    p99_ms_per_command: float
    p99_first_command_ms: float
    # Sessions that did not complete, by outcome or exception.
    failures: dict[str, int]
    # FastAGI on Linux: connection attempts the kernel dropped because the
    # server's accept queue was full (TcpExt ListenOverflows during the run).
    listen_overflows: int | None = None


# --- set-up ------------------------------------------------------------------------


def provision(database_url: str, lines: int) -> None:
    """``lines`` lines with a contract and an additional number, in one transaction."""
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine)
        with db.transaction(db.session_factory(engine)) as session:
            for i in range(lines):
                service.add_line(session, contract_number(i), timezone=TIMEZONE)
                service.add_number(
                    session, contract_number(i), additional_number(i), timezone=TIMEZONE
                )
    finally:
        engine.dispose()


def raise_open_files_limit(needed: int) -> None:
    """Each caller holds a socket here and one in the server, which inherits this limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        print(f"warning: at most {hard} open files, {needed} wanted", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def console_script(name: str) -> str:
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        raise SystemExit(f"{name} not found next to {sys.executable}")
    return path


def chakushin_env(data_dir: str, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAKUSHIN_")}
    env.update(
        CHAKUSHIN_DATABASE_URL=database_url,
        CHAKUSHIN_DATA_DIR=data_dir,
        CHAKUSHIN_LOG_LEVEL="warning",
        **extra,
    )
    return env


@dataclass
class ServerProcess:
    """``chakushin agi-server`` with its stderr drained into ``log`` so the pipe never fills."""

    process: subprocess.Popen[str]
    log: list[str]
    drain: threading.Thread

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        self.drain.join()
        return status


@contextlib.contextmanager
def agi_server(env: dict[str, str], cwd: str) -> Iterator[ServerProcess]:
    process = subprocess.Popen(
        [console_script("chakushin"), "agi-server"],
        env=env,
        cwd=cwd,  # away from any ./chakushin.toml
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None  # PIPE given
    stderr = process.stderr
    log: list[str] = []
    try:
        for line in stderr:
            if line.startswith("FastAGI server listening"):
                break
            log.append(line)
        else:
            raise SystemExit("agi-server ended before listening:\n" + "".join(log))

        def drain_stderr() -> None:
            for line in stderr:
                log.append(line)

        drain = threading.Thread(target=drain_stderr, name="server-stderr")
        drain.start()
        yield ServerProcess(process, log, drain)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- calls ---------------------------------------------------------------------------


def caller_peer(i: int, uniqueid: str) -> AsteriskPeer:
    """Line i's additional number sets the contract number's temporary password."""
    return AsteriskPeer(
        additional_number(i), [UNIT_LINE, TEMP_PASSWORD, TEMP_PASSWORD], uniqueid=uniqueid
    )


def place_calls(
    transport: str, peers: Sequence[AsteriskPeer], call: Callable[[AsteriskPeer], object]
) -> Result:
    """One thread per peer, released together; wall time from release to the last end."""
    barrier = threading.Barrier(len(peers) + 1)
    raised: dict[int, str] = {}

    def caller(index: int, peer: AsteriskPeer) -> None:
        barrier.wait()
        try:
            call(peer)
        except Exception as exc:  # noqa: BLE001 - count every failed session, run the rest
            raised[index] = type(exc).__name__

    threading.stack_size(THREAD_STACK)
    threads = [
        threading.Thread(target=caller, args=(i, p), name=f"caller-{i}")
        for i, p in enumerate(peers)
    ]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started

    outcomes = Counter(raised.get(i) or outcome(p) for i, p in enumerate(peers))
    completed = outcomes.pop(COMPLETED, 0)
    per_command = [s for p in peers for s in p.latencies[1:]]
    first_command = [p.latencies[0] for p in peers if p.latencies]
    return Result(
        transport=transport,
        callers=len(peers),
        completed=completed,
        wall_s=round(wall, 3),
        sessions_per_s=round(completed / wall, 2),
        p50_ms_per_command=percentile_ms(per_command, 50),
        p99_ms_per_command=percentile_ms(per_command, 99),
        p99_first_command_ms=percentile_ms(first_command, 99),
        failures=dict(outcomes),
    )


def outcome(peer: AsteriskPeer) -> str:
    found = peer.variables.get(variables.TP_OUTCOME)
    if found is not None:
        return found
    if peer.returncode:  # classic AGI: the process failed before it set an outcome
        return f"exit status {peer.returncode}"
    if not peer.commands:
        # The peer swallows a read timeout or reset: the server never served the call.
        return "no command received"
    return "no outcome"


def percentile_ms(seconds: Sequence[float], pct: int) -> float:
    """Nearest-rank percentile, in milliseconds (NaN when there are no samples)."""
    if not seconds:
        return math.nan
    ordered = sorted(seconds)
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000, 2)


def fastagi_run(size: int, port: int) -> Result:
    peers = [caller_peer(i, f"bench.{size}.{i}") for i in range(size)]
    before = listen_overflows()
    result = place_calls("FastAGI", peers, lambda p: p.over_tcp(HOST, port, timeout=CALL_TIMEOUT))
    after = listen_overflows()
    if before is not None and after is not None:
        result.listen_overflows = after - before
    return result


def listen_overflows() -> int | None:
    """Linux's count of connections dropped at a full accept queue (network namespace-wide)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            counters = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(counters.get("ListenOverflows", 0))
    return None


def classic_run(size: int, env: dict[str, str]) -> Result:
    argv = [console_script("chakushin-agi"), "temp-password"]
    peers = [caller_peer(i, f"bench.classic.{i}") for i in range(size)]
    return place_calls(
        "classic AGI", peers, lambda p: p.over_process(argv, env=env, timeout=CALL_TIMEOUT)
    )


# --- report --------------------------------------------------------------------------


def markdown(results: Sequence[Result]) -> str:
    rows = [
        "| transport | concurrent callers | completed | wall s | sessions/s "
        "| p50 ms/command | p99 ms/command | p99 first command ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows += [
        f"| {r.transport} | {r.callers} | {r.completed} | {r.wall_s:.2f} | "
        f"{r.sessions_per_s:.1f} | {r.p50_ms_per_command:.2f} | {r.p99_ms_per_command:.2f} | "
        f"{r.p99_first_command_ms:.1f} |"
        for r in results
    ]
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=lambda v: sorted({int(s) for s in v.split(",") if s.strip()}),
        default=[100, 500, 1000],
        help="comma-separated numbers of concurrent FastAGI callers (default: 100,500,1000)",
    )
    parser.add_argument(
        "--classic", type=int, default=100, help="concurrent classic AGI sessions (default: 100)"
    )
    parser.add_argument("--json", dest="json_file", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    if not args.sizes or min(args.sizes) < 1 or args.classic < 1:
        parser.error("sizes and --classic must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: list[int] = args.sizes
    classic_size: int = args.classic
    logs.configure("warning", stream=sys.stderr)  # no store events for every provisioned line
    raise_open_files_limit(2 * max(sizes) + 3 * classic_size + 100)

    with tempfile.TemporaryDirectory(prefix="chakushin-bench-") as data_dir:
        database_url = f"sqlite:///{data_dir}/chakushin.db"
        provision(database_url, max(*sizes, classic_size))

        port = free_port()
        results: list[Result] = []
        with agi_server(
            chakushin_env(data_dir, database_url, CHAKUSHIN_AGI_PORT=str(port)), data_dir
        ) as server:
            for size in sizes:
                results.append(fastagi_run(size, port))
                print(f"FastAGI, {size} callers: done", file=sys.stderr)
            server_status = server.stop()
        if server_status != 0 or server.log:
            print(f"agi-server exit status {server_status}; its log:", file=sys.stderr)
            sys.stderr.writelines(server.log[-20:])

        classic = classic_run(classic_size, chakushin_env(data_dir, database_url))
        results.append(classic)

    fastagi = next((r for r in results if r.callers == classic_size), results[0])
    ratio = fastagi.sessions_per_s / classic.sessions_per_s if classic.sessions_per_s else math.nan
    ratio_line = (
        f"FastAGI ({fastagi.callers} callers) ÷ classic AGI ({classic.callers} callers): "
        f"{ratio:.1f}× the sessions/s"
    )
    print(markdown(results))
    print()
    print(ratio_line)
    print(machine_line(machine()))
    failures = {f"{r.transport} {r.callers}": r.failures for r in results if r.failures}
    if failures:
        print(f"Failures: {json.dumps(failures)}")
    for r in results:
        if r.listen_overflows:
            print(
                f"{r.transport}, {r.callers} callers: the kernel dropped {r.listen_overflows} "
                "connection attempts at the server's full accept queue (ListenOverflows)"
            )
    if server_status != 0:
        print(f"agi-server exited with status {server_status} on SIGTERM (expected 0)")

    if args.json_file:
        report = {
            "results": [asdict(r) for r in results],
            "fastagi_over_classic": {
                "fastagi_callers": fastagi.callers,
                "classic_callers": classic.callers,
                "ratio": round(ratio, 2),
            },
            "agi_server_exit_status": server_status,
            "machine": machine(),
        }
        Path(args.json_file).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    ok = server_status == 0 and not failures
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
