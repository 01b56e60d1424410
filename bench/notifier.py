"""Benchmark: the notifier from AMI bytes to mail, stage by stage.

Run: ``.venv/bin/python bench/notifier.py [--calls 5000] [--window 1000]
[--rate 200] [--seconds 10] [--repeat 3] [--rss-calls 10000] [--concurrency 4]
[--stages a,b,c,d,e] [--profile] [--json FILE]``.

What is measured. Every call is one of the recorded Asterisk 22 traces
(chakushin/demo/recordings.py, chakushin's outcome event in place of the
reference marker), renumbered so that each has its own Linkedid, cycling
over all scenarios. The per-connection events the recording session got
(FullyBooted, SuccessfulAuth) are left out: Asterisk sends them once per
login, not once per call. ``--window`` calls are in flight at once: the
stream takes one frame from each in turn (round robin), and a call that
has sent its last frame makes room for the next. The measured process is
always a child process of this script (its own interpreter, so its own
GIL); the AMI server (chakushin/demo/amiserver.py), the SMTP server
(aiosmtpd) and the clock that starts each measurement are in this one.
Both processes read the same system-wide monotonic clock.

- (a) *framing*: a bare panoramisk ``Manager`` with one ``*`` event
  callback that only counts, from the first byte written to the last event
  dispatched. (a') is the same with the product's ``AmiClient`` and a
  no-op ``on_event``: its incremental decoding and ``notifier.ami.read_event``
  on every frame on top of panoramisk. Each runs ``--repeat`` times (a
  run of the filtered stream lasts about a second); the median is shown.
- (b) *decisions*: ``NotifierService`` (AMI client -> tracker -> decider
  -> rules -> composed mails -> one transaction per batch) with its
  delivery worker parked, on a SQLite file database holding the subscriber
  0312345678 with two addresses and the mail service started. The clock
  stops when this process sees one ``StoredDecision`` row per call (polled every
  20 ms). b/a divides (b)'s events/s by (a)'s for the same stream.
- Both run twice: on the unfiltered stream (a user with ``read = all`` and
  no filter) and with the *shipped event filter*, the ``eventfilter``
  lines of asterisk-conf/manager_chakushin.conf applied the way Asterisk
  applies them (a regular expression searched in the whole event text; so
  ``Event: Hangup`` also lets ``HangupRequest`` through).
- (c) *delivery*: the ``DeliveryWorker`` the service builds (``--concurrency``
  SMTP connections) drains the outbox rows (b) left, to an aiosmtpd server
  in this process; until every row is marked sent.
- (d) *latency*: the full service (AMI client, decider, delivery worker)
  under a steady ``--rate`` calls/s for ``--seconds`` s, shipped filter.
  Each call's frames are spread over ``--call-seconds`` s and calls start
  1/rate s apart, so rate x call-seconds calls are in flight. Latency of a
  mail: from the write of its call's last frame to the SMTP server's
  DATA handler accepting it (matched by the X-Chakushin-Call header).
  Call end -> decision committed is read from the service's call_decided
  log lines (logged right after the commit), to split the two halves.
- (e) *memory*: the first half of each of ``--rss-calls`` calls' frames
  (no Hangup, no outcome event; shipped filter), so that every call stays
  in the tracker; then the peak RSS (VmHWM) of the service's process.

*CPU ms/call* (and /mail, % of a core): user + system CPU time of the
measured process, all its threads, from its event loop's start.

The service logs at ``--log-level`` (default info, the shipped default),
as JSON to a file, like production logs to journald. ``--profile`` runs
the children of (b), (c) and (d) under cProfile (the event loop thread and
the worker threads of ``asyncio.to_thread`` apart) and prints where the
time goes; the numbers of such a run are slowed by the profiler.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory comes first on sys.path, and this
# file, notifier.py, would hide the notifier package: put the repo root there.
if sys.path and Path(sys.path[0] or ".").resolve() == REPO / "bench":
    sys.path[0] = str(REPO)
elif str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import argparse  # noqa: E402 - after the sys.path fix above
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from collections.abc import AsyncIterator, Callable, Iterator, Sequence  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import IO, Any, TypeVar  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from panoramisk import Manager  # type: ignore[import-untyped]  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.machine import machine, machine_line  # noqa: E402
from chakushin import bootstrap, logs  # noqa: E402
from chakushin import config as config_mod  # noqa: E402
from chakushin.demo import recordings as traces  # noqa: E402
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer  # noqa: E402
from notifier.amiclient import AmiClient  # noqa: E402
from notifier.outbox import DeliveryWorker  # noqa: E402
from store import db, service  # noqa: E402
from store.models import MailStatus, OutboxMail, StoredDecision  # noqa: E402

SUBSCRIBER = traces.SUBSCRIBER
ADDRESSES = ("boss@example.jp", "desk@example.jp")
FROM_ADDRESS = "chakushin@example.jp"
MANAGER_CONF = REPO / "asterisk-conf" / "manager_chakushin.conf"
SCRIPT = str(Path(__file__).resolve())
# Sent by Asterisk once per AMI login; the recording has them in every trace.
CONNECTION_EVENTS = frozenset({b"FullyBooted", b"SuccessfulAuth"})
CHUNK = 64 * 1024  # bytes per write when the stream is sent as fast as possible
POLL = 0.02  # seconds between checks of a condition in this process
UNFILTERED, SHIPPED = "unfiltered", "shipped filter"

TARGET_RATIO = 0.5
TARGET_CALLS_PER_S = 1500.0
TARGET_P99_MS = 500.0
TARGET_RSS_MB = 150.0  # 10^6 bytes

T = TypeVar("T")


class StageFailed(RuntimeError):
    """A stage could not be measured (a child died, a count never came)."""


# --- the AMI stream ------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    linkedid: str
    scenario: str
    frames: tuple[bytes, ...]  # each with its blank line


def event_name(frame: bytes) -> bytes:
    return frame[len(b"Event: ") : frame.index(b"\r\n")]


def make_calls(count: int) -> list[Call]:
    """``count`` recorded calls, cycling over the scenarios, each with its own ids."""
    names = list(traces.SCENARIOS)
    calls = []
    for i in range(count):
        name = names[i % len(names)]
        linkedid, frames = traces.renumbered(name, i)
        kept = tuple(f for f in frames if event_name(f) not in CONNECTION_EVENTS)
        calls.append(Call(linkedid, name, kept))
    return calls


def shipped_filter(path: Path = MANAGER_CONF) -> list[re.Pattern[bytes]]:
    """The ``eventfilter`` lines of the shipped manager.conf part, as Asterisk reads them."""
    patterns = []
    for line in path.read_text().splitlines():
        name, equals, value = line.partition("=")
        if not equals or name.strip() != "eventfilter":
            continue
        value = value.strip()
        if value.startswith("!"):
            raise SystemExit(f"{path}: exclusion filters are not modelled here: {value}")
        patterns.append(re.compile(value.encode()))
    if not patterns:
        raise SystemExit(f"{path}: no eventfilter lines")
    return patterns


def passes(frame: bytes, patterns: Sequence[re.Pattern[bytes]]) -> bool:
    # Asterisk's legacy filters: any include regex found anywhere in the event text.
    return any(p.search(frame) for p in patterns)


def filtered(calls: Sequence[Call], patterns: Sequence[re.Pattern[bytes]]) -> list[Call]:
    return [
        Call(c.linkedid, c.scenario, tuple(f for f in c.frames if passes(f, patterns)))
        for c in calls
    ]


def first_halves(calls: Sequence[Call]) -> list[Call]:
    """Each call's first half of frames, without Hangup or outcome: it stays in flight."""
    halves = []
    for c in calls:
        head = c.frames[: len(c.frames) // 2]
        kept = tuple(
            f
            for f in head
            if event_name(f) not in (b"Hangup", b"UserEvent") and b"ChakushinCall" not in f
        )
        halves.append(Call(c.linkedid, c.scenario, kept))
    return halves


@dataclass
class Stream:
    calls: int
    frames: list[bytes]

    @property
    def events(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> int:
        return sum(len(f) for f in self.frames)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        data = b"".join(self.frames)
        for start in range(0, len(data), size):
            yield data[start : start + size]


def interleave(calls: Sequence[Call], window: int) -> Stream:
    """Round robin over ``window`` calls in flight; a finished call makes room for the next."""
    pending = iter(calls)
    active: deque[tuple[tuple[bytes, ...], int]] = deque()

    def admit() -> None:
        for call in pending:
            if call.frames:
                active.append((call.frames, 0))
                return

    for _ in range(window):
        admit()
    out: list[bytes] = []
    while active:
        frames, i = active.popleft()
        out.append(frames[i])
        if i + 1 < len(frames):
            active.append((frames, i + 1))
        else:
            admit()
    return Stream(sum(1 for c in calls if c.frames), out)


@dataclass(frozen=True)
class Scheduled:
    at: float  # seconds after the start
    call: int
    index: int
    frame: bytes
    ends: str | None  # the Linkedid, on a call's last frame


def paced(calls: Sequence[Call], rate: float, call_seconds: float) -> list[Scheduled]:
    """Call i starts at i/rate s; its frames are spread evenly over ``call_seconds``."""
    items = []
    for i, call in enumerate(calls):
        start, last = i / rate, len(call.frames) - 1
        for j, frame in enumerate(call.frames):
            at = start + (call_seconds * j / last if last else call_seconds)
            items.append(Scheduled(at, i, j, frame, call.linkedid if j == last else None))
    items.sort(key=lambda s: (s.at, s.call, s.index))
    return items


# --- the database ------------------------------------------------------------------


def provision(path: Path) -> None:
    """The subscriber with two addresses and the mail service started."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)  # --keep: a directory used before
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        db.upgrade(engine)
        with db.transaction(db.session_factory(engine)) as session:
            service.add_line(session, SUBSCRIBER, timezone="Asia/Tokyo")
            for address in ADDRESSES:
                service.add_address(session, SUBSCRIBER, address)
            service.start_mail(session, SUBSCRIBER)
    finally:
        engine.dispose()


def copy_database(template: Path, target: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        source, copy = Path(f"{template}{suffix}"), Path(f"{target}{suffix}")
        copy.unlink(missing_ok=True)
        if source.exists():
            shutil.copyfile(source, copy)
    return f"sqlite:///{target}"


@dataclass
class RowCounts:
    """Row counts of one database, read from this process."""

    url: str
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = db.make_engine(self.url)
        self.sessions = db.session_factory(self.engine)

    def count(self, model: type[Any], *where: sa.ColumnElement[bool]) -> int:
        with db.transaction(self.sessions, read_only=True) as s:
            query = sa.select(sa.func.count()).select_from(model).where(*where)
            return int(s.scalar(query) or 0)

    def decisions(self) -> int:
        return self.count(StoredDecision)

    def mails(self, *where: sa.ColumnElement[bool]) -> int:
        return self.count(OutboxMail, *where)

    def close(self) -> None:
        self.engine.dispose()


# --- the SMTP server ---------------------------------------------------------------

_CALL_HEADER = re.compile(rb"^X-Chakushin-Call: *([^\r\n]*)", re.MULTILINE | re.IGNORECASE)


class TimingInbox:
    """aiosmtpd handler: accepts every mail; keeps when it was accepted, and for which call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[float, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        content: bytes = envelope.content
        match = _CALL_HEADER.search(content.partition(b"\r\n\r\n")[0])
        with self.lock:
            self.accepted.append((at, match.group(1).decode() if match else ""))
        return "250 OK queued"

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, TimingInbox]]:
    """An aiosmtpd server on loopback (its own thread and loop): its port and handler."""
    inbox = TimingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


# --- the measured process ------------------------------------------------------------


@dataclass
class ChildSpec:
    mode: str  # a key of CHILD_MODES
    data_dir: str
    tag: str = ""  # names its log, stderr and profile files; default: the mode
    ami_port: int = 0
    db_url: str = ""
    smtp_port: int = 0
    concurrency: int = 4
    expect: int = 0  # events, mails or tracked calls, depending on the mode
    log_level: str = "info"
    profile: str = ""  # pstats path prefix; "" = not profiled
    timeout: float = 180.0


def _open_for_child(path: Path) -> IO[bytes]:
    return path.open("wb")


@dataclass
class Child:
    """This script run with ``--child``: one measured process, one JSON line on stdout."""

    spec: ChildSpec
    process: asyncio.subprocess.Process
    stderr: Path

    @classmethod
    async def start(cls, spec: ChildSpec) -> Child:
        stderr = Path(spec.data_dir) / f"{spec.tag}.stderr"
        with _open_for_child(stderr) as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                SCRIPT,
                "--child",
                json.dumps(asdict(spec)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=spec.data_dir,  # away from any ./chakushin.toml
            )
        return cls(spec, process, stderr)

    def running(self) -> bool:
        return self.process.returncode is None

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.stderr.read_text(errors="replace")[-3000:]
        return "(no stderr)"

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)

    async def result(self, within: float) -> dict[str, Any]:
        assert self.process.stdout is not None  # PIPE given
        try:
            async with asyncio.timeout(within):
                line = await self.process.stdout.readline()
                status = await self.process.wait()
        except TimeoutError:
            await self.kill()
            raise StageFailed(
                f"{self.spec.mode}: no result within {within} s\n{self.tail()}"
            ) from None
        if status != 0 or not line:
            raise StageFailed(f"{self.spec.mode}: exit status {status}\n{self.tail()}")
        result: dict[str, Any] = json.loads(line)
        return result

    async def kill(self) -> None:
        if self.running():
            self.process.kill()
        await self.process.wait()

    async def until(self, predicate: Callable[[], bool], within: float, what: str) -> float:
        """Poll until ``predicate()``; the monotonic time it was seen true."""
        deadline = time.monotonic() + within
        while True:
            if predicate():
                return time.monotonic()
            if not self.running():
                raise StageFailed(f"{self.spec.mode}: exited waiting for {what}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise StageFailed(f"{self.spec.mode}: timed out waiting for {what}\n{self.tail()}")
            await asyncio.sleep(POLL)


@contextlib.asynccontextmanager
async def child_process(spec: ChildSpec) -> AsyncIterator[Child]:
    child = await Child.start(spec)
    try:
        yield child
    finally:
        if child.running():
            child.stop()
            try:
                async with asyncio.timeout(30):
                    await child.process.wait()
            except TimeoutError:
                await child.kill()


async def logged_in(ami: AmiServer, child: Child) -> None:
    await child.until(lambda: ami.logins >= 1, 60, "the AMI login")


# --- the child's side ------------------------------------------------------------------


class ParkedWorker(DeliveryWorker):
    """(b) measures decisions and outbox rows only: the worker sends nothing."""

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


class ThreadProfiles:
    """cProfile for the threads of ``asyncio.to_thread`` (one profiler per thread)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.profiles: list[cProfile.Profile] = []

    def _profiler(self) -> cProfile.Profile:
        profiler: cProfile.Profile | None = getattr(self._local, "profiler", None)
        if profiler is None:
            profiler = self._local.profiler = cProfile.Profile()
            with self._lock:
                self.profiles.append(profiler)
        return profiler

    def _call(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        result: T = self._profiler().runcall(func, *args, **kwargs)
        return result

    def install(self) -> None:
        original = asyncio.to_thread

        async def to_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
            return await original(self._call, func, *args, **kwargs)

        # The product looks up asyncio.to_thread at each call: profile what it runs.
        setattr(asyncio, "to_thread", to_thread)  # noqa: B010 - module attribute

    def dump(self, path: str) -> bool:
        if not self.profiles:
            return False
        stats = pstats.Stats(self.profiles[0])
        for profiler in self.profiles[1:]:
            stats.add(profiler)
        stats.dump_stats(path)
        return True


def memory_kib() -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            found[name] = int(value.split()[0])
    found["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found


def child_config(spec: ChildSpec) -> config_mod.Config:
    return config_mod.load(
        env={
            "CHAKUSHIN_DATABASE_URL": spec.db_url,
            "CHAKUSHIN_DATA_DIR": spec.data_dir,
            "CHAKUSHIN_AMI_PORT": str(spec.ami_port or 5038),  # (c) connects to no AMI
            "CHAKUSHIN_AMI_USERNAME": USERNAME,
            "CHAKUSHIN_AMI_SECRET": SECRET,
            "CHAKUSHIN_MAIL_FROM_ADDRESS": FROM_ADDRESS,
            "CHAKUSHIN_MAIL_SMTP_HOST": "127.0.0.1" if spec.smtp_port else "",
            "CHAKUSHIN_MAIL_SMTP_PORT": str(spec.smtp_port or 25),
            "CHAKUSHIN_MAIL_CONCURRENCY": str(spec.concurrency),
            "CHAKUSHIN_LOG_LEVEL": spec.log_level,
        }
    )


def stop_on_sigterm() -> asyncio.Event:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop


async def child_panoramisk(spec: ChildSpec) -> dict[str, Any]:
    """(a): a bare panoramisk Manager; the time the ``expect``-th event was dispatched."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    count = 0

    def on_event(manager: Manager, message: Any) -> None:
        nonlocal count
        count += 1
        if count == spec.expect:
            done.set_result(time.monotonic())

    manager = Manager(
        loop=loop,
        host="127.0.0.1",
        port=spec.ami_port,
        username=USERNAME,
        secret=SECRET,
        ping_delay=3600,
        reconnect_timeout=3600,
    )
    manager.register_event("*", on_event)
    await manager.connect()
    t_last = await asyncio.wait_for(done, spec.timeout)
    manager.close()
    return {"t_last": t_last, "events": count}


async def child_amiclient(spec: ChildSpec) -> dict[str, Any]:
    """(a'): AmiClient, no-op on_event; counts frames as they are read."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    count = 0

    def on_frame(_: object) -> None:
        nonlocal count
        count += 1
        if count == spec.expect:
            # read_event of this last frame runs right after; call_soon sees it done.
            loop.call_soon(lambda: done.set_result(time.monotonic()))

    client = AmiClient(
        "127.0.0.1",
        spec.ami_port,
        USERNAME,
        SECRET,
        on_event=lambda _: None,
        on_frame=on_frame,
        ping_interval=3600,
    )
    await client.start()
    t_last = await asyncio.wait_for(done, spec.timeout)
    await client.close()
    return {"t_last": t_last, "events": count}


async def child_pipeline(spec: ChildSpec) -> dict[str, Any]:
    """(b): the service with its delivery worker parked, until SIGTERM."""
    stop = stop_on_sigterm()
    config = child_config(spec)
    engine = db.make_engine(spec.db_url)
    sessions = db.session_factory(engine)
    svc = bootstrap.notifier_service(config, sessions, senders=[])
    svc.worker = ParkedWorker(sessions, [], config.mail.from_address)
    await svc.run(stop)
    engine.dispose()
    return {"decisions": dict(svc.notifier.counts)}


async def child_deliver(spec: ChildSpec) -> dict[str, Any]:
    """(c): the service's delivery worker alone, until ``expect`` mails are sent or failed."""
    config = child_config(spec)
    engine = db.make_engine(spec.db_url)
    worker = bootstrap.notifier_service(config, db.session_factory(engine)).worker
    stop = asyncio.Event()
    t_start = time.monotonic()
    task = asyncio.create_task(worker.run(stop))
    while worker.counts["sent"] + worker.counts["failed"] < spec.expect:
        if task.done():
            break
        await asyncio.sleep(0.005)
    t_done = time.monotonic()
    stop.set()
    await task
    await worker.close()
    engine.dispose()
    return {"t_start": t_start, "t_done": t_done, "counts": dict(worker.counts)}


async def child_service(spec: ChildSpec) -> dict[str, Any]:
    """(d): the whole service, as ``chakushin notifier`` runs it, until SIGTERM."""
    stop = stop_on_sigterm()
    engine = db.make_engine(spec.db_url)
    svc = bootstrap.notifier_service(child_config(spec), db.session_factory(engine))
    await svc.run(stop)
    engine.dispose()
    return {
        "decisions": dict(svc.notifier.counts),
        "mails": dict(svc.worker.counts),
        "memory_kib": memory_kib(),
    }


async def child_rss(spec: ChildSpec) -> dict[str, Any]:
    """(e): the whole service; memory once ``expect`` calls are in its tracker."""
    engine = db.make_engine(spec.db_url)
    svc = bootstrap.notifier_service(child_config(spec), db.session_factory(engine))
    baseline = memory_kib()
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    deadline = time.monotonic() + spec.timeout
    while len(svc.notifier.tracker) < spec.expect and time.monotonic() < deadline:
        if task.done():
            break
        await asyncio.sleep(POLL)
    tracked = len(svc.notifier.tracker)
    loaded = memory_kib()
    stop.set()
    await task
    engine.dispose()
    return {"tracked": tracked, "baseline_kib": baseline, "loaded_kib": loaded}


CHILD_MODES: dict[str, Callable[[ChildSpec], Any]] = {
    "panoramisk": child_panoramisk,
    "amiclient": child_amiclient,
    "pipeline": child_pipeline,
    "deliver": child_deliver,
    "service": child_service,
    "rss": child_rss,
}


def child_main(spec_json: str) -> int:
    spec = ChildSpec(**json.loads(spec_json))
    with (Path(spec.data_dir) / f"{spec.tag}.log").open("w") as log_file:
        logs.configure(spec.log_level, "json", log_file)
        threads = ThreadProfiles()
        loop_profile = cProfile.Profile()
        if spec.profile:
            threads.install()
            loop_profile.enable()
        cpu, started = time.process_time(), time.monotonic()
        result = asyncio.run(CHILD_MODES[spec.mode](spec))
        # CPU of all the process's threads, from the loop's start (after the imports).
        result["cpu_s"] = time.process_time() - cpu
        result["run_s"] = time.monotonic() - started
        if spec.profile:
            loop_profile.disable()
            loop_profile.dump_stats(f"{spec.profile}-loop.pstats")
            threads.dump(f"{spec.profile}-threads.pstats")
    print(json.dumps(result), flush=True)
    return 0


# --- the stages ------------------------------------------------------------------------


@dataclass
class Throughput:
    stage: str
    what: str
    stream: str
    calls: int
    events: int
    megabytes: float
    wall_s: float
    events_per_s: float
    calls_per_s: float
    decisions: int | None = None
    outbox_rows: int | None = None
    # (a): events/s of every repetition; the row shows the median run.
    runs_events_per_s: list[float] | None = None
    # CPU time of the measured process per call (all threads; from its loop's start).
    cpu_ms_per_call: float | None = None


@dataclass
class Delivery:
    connections: int
    mails: int
    sent: int
    wall_s: float
    mails_per_s: float
    cpu_ms_per_mail: float


@dataclass
class Latency:
    calls: int
    rate: float
    call_seconds: float
    in_flight: int
    completion_rate: float  # calls/s actually ended (last frames written)
    max_pacing_lag_ms: float
    mails: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    decisions: int
    # Call end -> its decision committed (the service's call_decided log line).
    decided_p50_ms: float
    decided_p99_ms: float
    service_peak_rss_mb: float
    service_cpu_percent: float  # of one core, over the service process's run


@dataclass
class Memory:
    calls: int
    events: int
    tracked: int
    baseline_mb: float  # VmRSS before the stream
    rss_mb: float  # VmRSS with the calls in flight
    peak_rss_mb: float  # VmHWM


@dataclass
class Settings:
    data_dir: Path
    template_db: Path
    window: int
    concurrency: int
    log_level: str
    profile: bool
    timeout: float

    def spec(self, mode: str, *, tag: str = "", **fields: Any) -> ChildSpec:
        tag = tag or mode
        profile = ""
        if self.profile and mode in ("pipeline", "deliver", "service"):
            profile = str(self.data_dir / f"profile-{tag}")
        return ChildSpec(
            mode,
            str(self.data_dir),
            tag,
            concurrency=self.concurrency,
            log_level=self.log_level,
            profile=profile,
            timeout=self.timeout,
            **fields,
        )


def throughput(
    stage: str,
    what: str,
    label: str,
    stream: Stream,
    wall: float,
    *,
    cpu_s: float,
    decisions: int | None = None,
    outbox_rows: int | None = None,
) -> Throughput:
    return Throughput(
        stage=stage,
        what=what,
        stream=label,
        calls=stream.calls,
        events=stream.events,
        megabytes=round(stream.size / 1e6, 1),
        wall_s=round(wall, 3),
        events_per_s=round(stream.events / wall, 1),
        calls_per_s=round(stream.calls / wall, 1),
        decisions=decisions,
        outbox_rows=outbox_rows,
        cpu_ms_per_call=round(cpu_s / stream.calls * 1000, 2),
    )


async def stage_framing(s: Settings, mode: str, label: str, stream: Stream) -> Throughput:
    async with (
        AmiServer() as ami,
        child_process(s.spec(mode, ami_port=ami.port, expect=stream.events)) as child,
    ):
        await logged_in(ami, child)
        t0 = time.monotonic()
        await ami.send(stream.chunks())
        out = await child.result(s.timeout)
    what = {
        "panoramisk": "panoramisk Manager: framing only",
        "amiclient": "AmiClient, no-op on_event: framing + read_event",
    }[mode]
    stage = "a" if mode == "panoramisk" else "a'"
    return throughput(stage, what, label, stream, out["t_last"] - t0, cpu_s=out["cpu_s"])


async def stage_decisions(s: Settings, label: str, stream: Stream, db_url: str) -> Throughput:
    counter = RowCounts(db_url)
    try:
        tag = "b-shipped" if label == SHIPPED else "b-unfiltered"
        async with (
            AmiServer() as ami,
            child_process(s.spec("pipeline", ami_port=ami.port, db_url=db_url, tag=tag)) as child,
        ):
            await logged_in(ami, child)
            t0 = time.monotonic()
            sending = asyncio.create_task(ami.send(stream.chunks()))
            t1 = await child.until(
                lambda: counter.decisions() >= stream.calls, s.timeout, "all decisions"
            )
            await sending
            child.stop()
            out = await child.result(60)
        return throughput(
            "b",
            "NotifierService: tracker, rules, outbox rows committed",
            label,
            stream,
            t1 - t0,
            cpu_s=out["cpu_s"],
            decisions=counter.decisions(),
            outbox_rows=counter.mails(),
        )
    finally:
        counter.close()


async def stage_delivery(s: Settings, db_url: str) -> Delivery:
    counter = RowCounts(db_url)
    try:
        pending = counter.mails(OutboxMail.status == MailStatus.PENDING)
        with smtp_server() as (smtp_port, inbox):
            async with child_process(
                s.spec("deliver", db_url=db_url, smtp_port=smtp_port, expect=pending)
            ) as child:
                out = await child.result(s.timeout)
            sent = counter.mails(OutboxMail.status == MailStatus.SENT)
            if inbox.count() < pending:
                raise StageFailed(f"deliver: {inbox.count()} of {pending} mails arrived")
        wall = out["t_done"] - out["t_start"]
        return Delivery(
            s.concurrency,
            pending,
            sent,
            round(wall, 3),
            round(pending / wall, 1),
            round(out["cpu_s"] / pending * 1000, 2),
        )
    finally:
        counter.close()


async def stage_latency(
    s: Settings, calls: Sequence[Call], rate: float, call_seconds: float, db_url: str
) -> Latency:
    schedule = paced(calls, rate, call_seconds)
    counter = RowCounts(db_url)
    ended: dict[str, float] = {}
    lag = 0.0
    try:
        with smtp_server() as (smtp_port, inbox):
            async with (
                AmiServer() as ami,
                child_process(
                    s.spec("service", ami_port=ami.port, db_url=db_url, smtp_port=smtp_port)
                ) as child,
            ):
                await logged_in(ami, child)
                wall_minus_monotonic = time.time() - time.monotonic()
                t0 = time.monotonic() + 0.05
                k = 0
                while k < len(schedule):
                    now = time.monotonic() - t0
                    if schedule[k].at > now:
                        await asyncio.sleep(schedule[k].at - now)
                        continue
                    lag = max(lag, now - schedule[k].at)
                    batch: list[bytes] = []
                    ends: list[str] = []
                    while k < len(schedule) and schedule[k].at <= now:
                        item = schedule[k]
                        batch.append(item.frame)
                        if item.ends is not None:
                            ends.append(item.ends)
                        k += 1
                    written = time.monotonic()  # send() writes before its first await
                    await ami.send(b"".join(batch))
                    for linkedid in ends:
                        ended[linkedid] = written
                await child.until(
                    lambda: counter.decisions() >= len(calls), s.timeout, "all decisions"
                )
                expected = counter.mails()
                await child.until(lambda: inbox.count() >= expected, s.timeout, "all mails")
                child.stop()
                out = await child.result(60)
            with inbox.lock:
                accepted = list(inbox.accepted)
        latencies = [at - ended[linkedid] for at, linkedid in accepted if linkedid in ended]
        if len(latencies) != len(accepted):
            raise StageFailed(f"latency: {len(accepted) - len(latencies)} mails of unknown calls")
        decided = decided_at(s.data_dir / "service.log", wall_minus_monotonic)
        to_decision = [
            at - ended[linkedid] for linkedid, at in decided.items() if linkedid in ended
        ]
        ends_at = sorted(ended.values())
        span = ends_at[-1] - ends_at[0] if len(ends_at) > 1 else math.nan
        return Latency(
            calls=len(calls),
            rate=rate,
            call_seconds=call_seconds,
            in_flight=round(rate * call_seconds),
            completion_rate=round((len(ends_at) - 1) / span, 1),
            max_pacing_lag_ms=round(lag * 1000, 1),
            mails=len(latencies),
            p50_ms=percentile_ms(latencies, 50),
            p99_ms=percentile_ms(latencies, 99),
            max_ms=round(max(latencies) * 1000, 1),
            decisions=counter.decisions(),
            decided_p50_ms=percentile_ms(to_decision, 50),
            decided_p99_ms=percentile_ms(to_decision, 99),
            service_peak_rss_mb=kib_to_mb(out["memory_kib"]["VmHWM"]),
            service_cpu_percent=round(out["cpu_s"] / out["run_s"] * 100, 1),
        )
    finally:
        counter.close()


async def stage_memory(s: Settings, stream: Stream, db_url: str) -> Memory:
    async with (
        AmiServer() as ami,
        child_process(
            s.spec("rss", ami_port=ami.port, db_url=db_url, expect=stream.calls)
        ) as child,
    ):
        await logged_in(ami, child)
        await ami.send(stream.chunks())
        out = await child.result(s.timeout)
    loaded, baseline = out["loaded_kib"], out["baseline_kib"]
    if out["tracked"] < stream.calls:
        raise StageFailed(f"rss: {out['tracked']} of {stream.calls} calls tracked")
    return Memory(
        calls=stream.calls,
        events=stream.events,
        tracked=out["tracked"],
        baseline_mb=kib_to_mb(baseline["VmRSS"]),
        rss_mb=kib_to_mb(loaded["VmRSS"]),
        peak_rss_mb=kib_to_mb(loaded["VmHWM"]),
    )


def kib_to_mb(kib: int) -> float:
    return round(kib * 1024 / 1e6, 1)


def decided_at(log: Path, wall_minus_monotonic: float) -> dict[str, float]:
    """Linkedid -> when the service logged call_decided (after the commit), monotonic."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == "call_decided":
                    wall = dt.datetime.fromisoformat(entry["timestamp"]).timestamp()
                    found[entry["call_id"]] = wall - wall_minus_monotonic
    return found


def percentile_ms(seconds: Sequence[float], pct: int) -> float:
    """Nearest-rank percentile, in milliseconds (NaN when there are no samples)."""
    if not seconds:
        return math.nan
    ordered = sorted(seconds)
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000, 1)


# --- report ----------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    measured: str
    met: bool | None  # None: not measured in this run


@dataclass
class Report:
    throughput: list[Throughput] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    delivery: Delivery | None = None
    latency: Latency | None = None
    memory: Memory | None = None
    failures: list[str] = field(default_factory=list)

    def targets(self) -> list[Target]:
        found: list[Target] = []
        for label in (SHIPPED, UNFILTERED):
            ratio = self.ratios.get(label)
            found.append(
                Target(
                    f"(b)/(a) events/s ≥ {TARGET_RATIO} ({label})",
                    "-" if ratio is None else f"{ratio:.2f}",
                    None if ratio is None else ratio >= TARGET_RATIO,
                )
            )
        b = next((t for t in self.throughput if t.stage == "b" and t.stream == SHIPPED), None)
        found.append(
            Target(
                f"(b) ≥ {TARGET_CALLS_PER_S:,.0f} calls/s ({SHIPPED})",
                "-" if b is None else f"{b.calls_per_s:,.0f} calls/s",
                None if b is None else b.calls_per_s >= TARGET_CALLS_PER_S,
            )
        )
        d = self.latency
        found.append(
            Target(
                f"(d) p99 call end -> SMTP accepted < {TARGET_P99_MS:.0f} ms",
                "-" if d is None else f"{d.p99_ms:,.0f} ms",
                None if d is None else d.p99_ms < TARGET_P99_MS,
            )
        )
        e = self.memory
        found.append(
            Target(
                f"(e) peak RSS < {TARGET_RSS_MB:.0f} MB, {e.calls if e else 0:,} calls in flight",
                "-" if e is None else f"{e.peak_rss_mb:.1f} MB",
                None if e is None else e.peak_rss_mb < TARGET_RSS_MB,
            )
        )
        return found


def markdown(report: Report) -> str:
    rows = [
        "| stage | what | stream | calls | events | MB | wall s | events/s | calls/s | b/a "
        "| CPU ms/call |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in report.throughput:
        ratio = report.ratios.get(t.stream) if t.stage == "b" else None
        rows.append(
            f"| {t.stage} | {t.what} | {t.stream} | {t.calls:,} | {t.events:,} | "
            f"{t.megabytes:.1f} | {t.wall_s:.2f} | {t.events_per_s:,.0f} | "
            f"{t.calls_per_s:,.0f} | {'' if ratio is None else f'{ratio:.2f}'} | "
            f"{t.cpu_ms_per_call or math.nan:.2f} |"
        )
    rows += ["", "| stage | what | result | details |", "|---|---|---|---|"]
    c = report.delivery
    if c is not None:
        rows.append(
            f"| c | DeliveryWorker, {c.connections} SMTP connections -> aiosmtpd, "
            f"draining the outbox of (b, {SHIPPED}) | **{c.mails_per_s:,.0f} mails/s** "
            f"| {c.mails:,} mails in {c.wall_s:.2f} s; "
            f"service CPU {c.cpu_ms_per_mail:.2f} ms/mail |"
        )
    d = report.latency
    if d is not None:
        rows.append(
            f"| d | full service, {d.rate:g} calls/s for {d.calls / d.rate:g} s, "
            f"{d.in_flight} calls in flight, {SHIPPED} "
            f"| call end -> SMTP accepted: **p50 {d.p50_ms:,.0f} ms, p99 {d.p99_ms:,.0f} ms** "
            f"| max {d.max_ms:,.0f} ms; call end -> decision committed: p50 "
            f"{d.decided_p50_ms:,.0f} ms, p99 {d.decided_p99_ms:,.0f} ms; {d.mails:,} mails; "
            f"calls ended at {d.completion_rate:,.0f}/s; service CPU {d.service_cpu_percent:.0f}% "
            f"of a core, peak RSS {d.service_peak_rss_mb:.1f} MB |"
        )
    e = report.memory
    if e is not None:
        rows.append(
            f"| e | service with {e.calls:,} calls in flight (first half of each call), "
            f"{SHIPPED} | **peak RSS {e.peak_rss_mb:.1f} MB** | RSS before the stream "
            f"{e.baseline_mb:.1f} MB, after {e.rss_mb:.1f} MB; {e.events:,} events; "
            f"{e.tracked:,} calls tracked |"
        )
    rows += ["", "| target | measured | |", "|---|---:|---|"]
    for target in report.targets():
        status = {True: "met", False: "**missed**", None: "not run"}[target.met]
        rows.append(f"| {target.name} | {target.measured} | {status} |")
    return "\n".join(rows)


def print_profiles(data_dir: Path, top: int) -> None:
    for path in sorted(data_dir.glob("profile-*.pstats")):
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(str(path), stream=out)
            stats.strip_dirs().sort_stats(key).print_stats(top)
            text = out.getvalue()
            body = text[text.find("   ncalls") :] if "   ncalls" in text else text
            total = next((ln.strip() for ln in text.splitlines() if "function calls" in ln), "")
            print(f"\n### {path.stem} by {key} ({total})\n```\n{body.rstrip()}\n```")


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000, help="calls for (a), (b), (c)")
    parser.add_argument("--window", type=int, default=1000, help="calls in flight in (a), (b)")
    parser.add_argument("--rate", type=float, default=200.0, help="(d): calls/s (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="(d): seconds (default 10)")
    parser.add_argument(
        "--call-seconds", type=float, default=3.0, help="(d): each call's frames span this long"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="(a): runs of each, the median shown (default 3)"
    )
    parser.add_argument("--rss-calls", type=int, default=10_000, help="(e): calls in flight")
    parser.add_argument("--concurrency", type=int, default=4, help="SMTP connections (c), (d)")
    parser.add_argument("--stages", default="a,b,c,d,e", help="which stages to run (a,b,c,d,e)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per stage at most")
    parser.add_argument("--profile", action="store_true", help="cProfile the (b)-(d) children")
    parser.add_argument("--profile-top", type=int, default=25, help="functions per profile")
    parser.add_argument("--keep", help="keep the databases, logs and profiles in this directory")
    parser.add_argument("--json", dest="json_file", help="also write the numbers to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    if not stages <= set("abcde"):
        parser.error("--stages: letters a to e")
    if "c" in stages:
        stages.add("b")  # (c) drains what (b) queued
    args.stages = stages
    if min(args.calls, args.window, args.rss_calls, args.concurrency, args.repeat) < 1:
        parser.error("sizes must be positive")
    if args.rate <= 0 or args.seconds <= 0 or args.call_seconds <= 0:
        parser.error("--rate, --seconds and --call-seconds must be positive")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, data_dir: Path) -> Report:
    stages: set[str] = args.stages
    latency_calls = round(args.rate * args.seconds) if "d" in stages else 0
    needed = max(
        args.calls if stages & {"a", "b"} else 0,
        latency_calls,
        args.rss_calls if "e" in stages else 0,
    )
    progress(f"renumbering {needed:,} recorded calls ...")
    calls = make_calls(needed)
    patterns = shipped_filter()
    template = data_dir / "template.db"
    provision(template)
    s = Settings(
        data_dir,
        template,
        args.window,
        args.concurrency,
        args.log_level,
        args.profile,
        args.timeout,
    )
    report = Report()

    main_calls = calls[: args.calls]
    streams = {
        UNFILTERED: interleave(main_calls, args.window),
        SHIPPED: interleave(filtered(main_calls, patterns), args.window),
    }
    framing: dict[str, Throughput] = {}
    if "a" in stages:
        for label, stream in streams.items():
            for mode in ("panoramisk", "amiclient"):
                progress(f"(a) {mode}, {label}: {stream.events:,} events, {args.repeat}x ...")
                runs = [await stage_framing(s, mode, label, stream) for _ in range(args.repeat)]
                runs.sort(key=lambda r: r.events_per_s)
                result = runs[len(runs) // 2]
                result.runs_events_per_s = [r.events_per_s for r in runs]
                report.throughput.append(result)
                if mode == "panoramisk":
                    framing[label] = result
    shipped_db = ""
    if "b" in stages:
        for label, stream in streams.items():
            progress(f"(b) pipeline, {label}: {stream.calls:,} calls ...")
            db_url = copy_database(template, data_dir / f"b-{label.replace(' ', '-')}.db")
            result = await stage_decisions(s, label, stream, db_url)
            report.throughput.append(result)
            if result.decisions != stream.calls:
                report.failures.append(
                    f"(b) {label}: {result.decisions} decisions for {stream.calls} calls"
                )
            if label in framing:
                report.ratios[label] = round(result.events_per_s / framing[label].events_per_s, 3)
            if label == SHIPPED:
                shipped_db = db_url
    if "c" in stages and shipped_db:
        progress("(c) delivery ...")
        report.delivery = await stage_delivery(s, shipped_db)
        if report.delivery.sent != report.delivery.mails:
            report.failures.append(
                f"(c) {report.delivery.sent} of {report.delivery.mails} outbox rows sent"
            )
    if "d" in stages:
        progress(f"(d) latency: {args.rate:g} calls/s for {args.seconds:g} s ...")
        db_url = copy_database(template, data_dir / "d.db")
        report.latency = await stage_latency(
            s, filtered(calls[:latency_calls], patterns), args.rate, args.call_seconds, db_url
        )
    if "e" in stages:
        halves = filtered(first_halves(calls[: args.rss_calls]), patterns)
        stream = interleave(halves, args.window)
        progress(f"(e) memory: {stream.calls:,} calls in flight ...")
        db_url = copy_database(template, data_dir / "e.db")
        report.memory = await stage_memory(s, stream, db_url)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    logs.configure("warning", stream=sys.stderr)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(args.keep).resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="chakushin-bench-"))
            )
        try:
            report = asyncio.run(run(args, data_dir))
        except StageFailed as exc:
            print(f"stage failed: {exc}", file=sys.stderr)
            return 1
        run_time = time.perf_counter() - started
        print(markdown(report))
        print()
        print(
            f"Run time {run_time:.0f} s; service log level {args.log_level}; "
            f"(a)/(b) window {args.window} calls in flight; (a) median of {args.repeat} runs; "
            "SQLite file database."
        )
        print(machine_line(machine()))
        for failure in report.failures:
            print(f"Failure: {failure}")
        if args.profile:
            print_profiles(data_dir, args.profile_top)
    if args.json_file:
        data = {
            "throughput": [asdict(t) for t in report.throughput],
            "b_over_a": report.ratios,
            "delivery": asdict(report.delivery) if report.delivery else None,
            "latency": asdict(report.latency) if report.latency else None,
            "memory": asdict(report.memory) if report.memory else None,
            "targets": [asdict(t) for t in report.targets()],
            "failures": report.failures,
            "run_time_s": round(run_time, 1),
            "settings": {
                "calls": args.calls,
                "window": args.window,
                "rate": args.rate,
                "seconds": args.seconds,
                "call_seconds": args.call_seconds,
                "rss_calls": args.rss_calls,
                "repeat": args.repeat,
                "concurrency": args.concurrency,
                "log_level": args.log_level,
                "profiled": args.profile,
            },
            "machine": machine(),
        }
        Path(args.json_file).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
