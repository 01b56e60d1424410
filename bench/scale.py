"""Benchmark: chakushin with 100 and with 100,000 subscriber numbers (issue 18).

Run: ``.venv/bin/python bench/scale.py [--numbers 100,100000]
[--databases sqlite,postgresql] [--stages a,b,c,d,e,f] [--quick]
[--calls 3000] [--requests 50] [--pg-url URL] [--keep DIR] [--json FILE]``.

What is measured. For each size N and each database (a SQLite file; a new
PostgreSQL database made with CREATE DATABASE at ``--pg-url``, dropped at
the end) the schema is migrated and the subscribers are written with
SQLAlchemy Core bulk inserts, rows equal to what ``store.service`` makes
(``add_line``, ``add_number``, ``add_address`` x2, ``start_mail``): N numbers
on lines of 10, every service subscribed, the mail service started with two
addresses. The site's line of 1,000 numbers (contract number 0660000000,
auth unit 回線単位) is one of them: at N=100,000 it is 1,000 of the 100,000
(99,000 others on 9,900 lines); at N below 2,000 the database holds it and
N others (1,100 numbers at N=100). A sample of numbers is checked with
``service.describe_number`` before anything runs. Then, on each:

- (a) *notifier decisions*: bench/notifier.py's stage (b), imported: the
  ``NotifierService`` as a child process, its delivery worker parked, the
  recorded calls (shipped event filter, ``--window`` in flight) from a
  loopback AMI server, until one decision row per call. Twice: the calls
  spread evenly over all the numbers, and all to one number. calls/s.
- (b) *site*: the settings site's ASGI app (``web.app.create_app``, over
  httpx as tests/web) with the line's administrator logged in (temporary
  password, password change, one-time password declined): ``GET /numbers``
  (the list of the 1,000 numbers) and ``GET /numbers?q=...`` with ``*``
  searches (``066*5``, ``0660001*`` ...). p50/p99 per request.
- (c) *bulk*: ``store.bulk.apply_bulk`` on the line's 1,000 numbers in one
  transaction, as the site's bulk page applies it (add an address, set
  both conditions, start, Number Request on/off). Seconds per run.
- (d) *API read*: ``GET /api/v1/numbers/{n}`` through
  ``web.api.app.create_api`` with a read token, when that route exists;
  otherwise ``service.get_number`` + ``service.describe_number`` in a read
  transaction (the table says which). Numbers drawn over all N.
- (e) *routing*: ``agi.wiring.SqlRoutingStore.route_incoming_call``, what
  the routing AGI asks of the store for each call (one transaction: the
  settings read and the last caller written). Numbers drawn over all N.
- (f) *status*: ``chakushin.node.check``, the function ``chakushin status``
  runs (the outbox then holds the mails of (a)).

Targets: no stage more than 10 % slower at the largest N than at the
smallest (p50, or calls/s for (a)); (b) search p99 < 100 ms; (c) < 2 s;
(e) p99 < 20 ms. ``--quick`` runs fewer calls and requests.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, and bench/notifier.py would
# hide the notifier package: put the repo root there (as bench/notifier.py does).
if sys.path and Path(sys.path[0] or ".").resolve() == REPO / "bench":
    sys.path[0] = str(REPO)
elif str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import argparse  # noqa: E402 - after the sys.path fix above
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from agi.caller import Caller  # noqa: E402
from agi.wiring import SqlRoutingStore  # noqa: E402
from bench import notifier as nbench  # noqa: E402
from bench.machine import machine, machine_line  # noqa: E402
from chakushin import logs, node  # noqa: E402
from chakushin.demo import recordings as traces  # noqa: E402
from store import api_tokens, bulk, db, service  # noqa: E402
from store.models import (  # noqa: E402
    AuthUnit,
    DesignatedNumber,
    DestinationAddress,
    Line,
    NotificationSetting,
    Number,
    NumberRequestSetting,
    OutboxMail,
    Presentation,
    StoredCall,
    StoredDecision,
    VoiceWarpMode,
    VoiceWarpSetting,
)
from web.app import SiteDeps, create_app  # noqa: E402
from web.ratelimit import LoginThrottle  # noqa: E402
from web.sessions import COOKIE  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SITE_CONTRACT = "0660000000"
SITE_NUMBERS = 1000
PER_LINE = 10
TIMEZONE = "Asia/Tokyo"
TEMP, PASSWORD = "24681357", "Tokyo2026x"
SEARCHES = ("066*5", "06600001*", "*99", "06600*3*", "*0007*", "0660000*12")
ADDRESSES = ("boss{}@example.jp", "desk{}@example.jp")
BULK_ADDRESS = "bulk@example.jp"
SITE_NUMBERS_SHOWN = re.compile("066000[0-9]{4}")
DESIGNATED = "0901234567"  # every number's one designated caller (MAIL-5)
CHUNK = 5000  # rows per executemany

TARGET_GROWTH = 0.10
TARGET_SEARCH_P99_MS = 100.0
TARGET_BULK_S = 2.0
TARGET_ROUTING_P99_MS = 20.0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the numbers -------------------------------------------------------------------------


def site_numbers() -> list[str]:
    return [f"066{j:07d}" for j in range(SITE_NUMBERS)]


def other_count(n: int) -> int:
    """Numbers besides the site's line: the total is N from 2,000 on."""
    return n - SITE_NUMBERS if n >= 2 * SITE_NUMBERS else n


def all_numbers(n: int) -> list[str]:
    return [f"031{i:07d}" for i in range(other_count(n))] + site_numbers()


def lines_of(n: int) -> list[list[str]]:
    """Every line's numbers, the contract number first; the site's line last."""
    others = [f"031{i:07d}" for i in range(other_count(n))]
    found = [others[i : i + PER_LINE] for i in range(0, len(others), PER_LINE)]
    return [*found, site_numbers()]


def populate(engine: sa.Engine, n: int, now: dt.datetime) -> int:
    """The rows ``store.service`` would make for every line, with ids given here."""
    tables: dict[str, type[Any]] = {
        m.__tablename__: m
        for m in (
            Line,
            Number,
            NotificationSetting,
            NumberRequestSetting,
            VoiceWarpSetting,
            DestinationAddress,
            DesignatedNumber,
        )
    }
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
    number_id = address_id = 0
    for line_id, numbers in enumerate(lines_of(n), start=1):
        site = numbers[0] == SITE_CONTRACT
        rows["line"].append(
            {
                "id": line_id,
                "contract_number": numbers[0],
                "auth_unit": AuthUnit.LINE,
                "created_at": now,
            }
        )
        for k, number in enumerate(numbers):
            number_id += 1
            rows["number"].append(
                {
                    "id": number_id,
                    "line_id": line_id,
                    "number": number,
                    "is_contract": k == 0,
                    "endpoint": f"PJSIP/{number}",
                    "queue": None,
                    "queue_seconds": None,
                    "timezone": TIMEZONE,
                    "mail_subscribed": True,
                    "number_request_subscribed": True,
                    "voice_warp_subscribed": True,
                    "nuisance_subscribed": True,
                    "created_at": now,
                    "last_caller_number": None,
                    "last_caller_presentation": None,
                    "last_call_at": None,
                }
            )
            common = {"id": number_id, "number_id": number_id}
            rows["notification_setting"].append(
                {**common, "started": True, "designated_only": False, "unanswered_only": False}
            )
            rows["number_request_setting"].append(
                {**common, "enabled": False, "reject_payphone": False, "reject_unavailable": False}
            )
            rows["voice_warp_setting"].append(
                {
                    **common,
                    "enabled": False,
                    "mode": VoiceWarpMode.UNCONDITIONAL,
                    "destination": None,
                    "ring_seconds": 20,
                }
            )
            rows["designated_number"].append(
                {**common, "position": 1, "caller_number": DESIGNATED, "designated": True}
            )
            tag = "" if site else number[-4:]
            for position, pattern in enumerate(ADDRESSES, start=1):
                address_id += 1
                address = pattern.format(tag)
                rows["destination_address"].append(
                    {
                        "id": address_id,
                        "number_id": number_id,
                        "position": position,
                        "address": address,
                        "address_key": address.lower(),
                        "send": True,
                        "test_sent_at": None,
                    }
                )
    with engine.begin() as conn:
        for name, model in tables.items():
            data = rows[name]
            for start in range(0, len(data), CHUNK):
                conn.execute(sa.insert(model), data[start : start + CHUNK])
        if engine.dialect.name == "postgresql":  # ids were given: move the sequences on
            for name in tables:
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
        conn.execute(sa.text("ANALYZE"))
    if engine.dialect.name == "sqlite":
        # The one big write leaves a WAL as large as the database; a running
        # database is checkpointed as it goes, so start the measurements from one.
        raw = engine.raw_connection()  # outside a transaction, which SQLAlchemy would begin
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
    return number_id


def check_sample(sessions: sessionmaker[Session], numbers: Sequence[str]) -> None:
    """The bulk rows read back through the domain as ``store.service`` wrote them."""
    with db.transaction(sessions, read_only=True) as s:
        for number in numbers:
            found = service.describe_number(service.get_number(s, number))
            mail = found["mail"]
            if not (mail["started"] and len(mail["addresses"]) == 2 and mail["designated_numbers"]):
                raise SystemExit(f"populated number {number} is not as store.service makes it")
            if (
                found["services"] != sorted(("mail", "number_request", "voice_warp", "nuisance"))
                or found["mail"]["warnings"]
            ):
                raise SystemExit(f"populated number {number}: {found}")


@contextlib.contextmanager
def database(kind: str, data_dir: Path, tag: str, pg_url: str) -> Iterator[str]:
    """A new, migrated database of ``kind``; its URL."""
    if kind == "sqlite":
        path = data_dir / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        yield url
        return
    name = f"chakushin_scale_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- measuring ---------------------------------------------------------------------------


def percentile_ms(seconds: Sequence[float], pct: int) -> float:
    if not seconds:
        return math.nan
    ordered = sorted(seconds)
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000, 2)


@dataclass
class Result:
    stage: str
    what: str
    database: str
    numbers: int
    samples: int
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    per_s: float | None = None  # (a): calls/s
    statements: float | None = None  # SQL statements per request, when counted
    cpu_ms: float | None = None  # this process's CPU per request (all threads), mean
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.stage, self.what)


class StatementCounter:
    """SQL statements an engine executes while counting."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


class Cpu:
    """This process's CPU time (every thread) from the start: less noisy than the wall clock
    on a shared machine (the PostgreSQL server's own CPU is not in it)."""

    def __init__(self) -> None:
        self.start = time.process_time()

    def per(self, count: int) -> float:
        return round((time.process_time() - self.start) / max(1, count) * 1000, 2)


def timed(run: Callable[[], object], times: int) -> tuple[list[float], float]:
    """Wall seconds of each of ``times`` runs, and the mean CPU ms per run."""
    spent = []
    cpu = Cpu()
    for _ in range(times):
        t0 = time.perf_counter()
        run()
        spent.append(time.perf_counter() - t0)
    return spent, cpu.per(times)


def spread(numbers: Sequence[str], count: int) -> list[str]:
    """``count`` numbers evenly over ``numbers`` (all of them when fewer)."""
    step = max(1, len(numbers) // max(1, count))
    return [numbers[(i * step) % len(numbers)] for i in range(count)]


# --- (a) notifier decisions ----------------------------------------------------------------


def calls_to(subscribers: Sequence[str], count: int) -> list[nbench.Call]:
    names = list(traces.SCENARIOS)
    calls = []
    for i in range(count):
        name = names[i % len(names)]
        linkedid, frames = traces.renumbered(name, i, subscriber=subscribers[i % len(subscribers)])
        kept = tuple(f for f in frames if nbench.event_name(f) not in nbench.CONNECTION_EVENTS)
        calls.append(nbench.Call(linkedid, name, kept))
    return calls


def forget_calls(engine: sa.Engine) -> None:
    """The rows one (a) run leaves (decisions are counted from zero by bench/notifier.py)."""
    with engine.begin() as conn:
        for model in (OutboxMail, StoredDecision, StoredCall):
            conn.execute(sa.delete(model))


async def stage_notifier(
    args: argparse.Namespace, data_dir: Path, url: str, engine: sa.Engine, numbers: list[str]
) -> list[Result]:
    settings = nbench.Settings(
        data_dir, data_dir / "unused.db", args.window, 4, "warning", False, args.timeout
    )
    patterns = nbench.shipped_filter()
    found = []
    for what, subscribers in (
        ("calls over all numbers", spread(numbers, args.calls)),
        ("calls to one number", [numbers[0]]),
    ):
        forget_calls(engine)
        stream = nbench.interleave(
            nbench.filtered(calls_to(subscribers, args.calls), patterns), args.window
        )
        out = await nbench.stage_decisions(settings, nbench.SHIPPED, stream, url)
        found.append(
            Result(
                "a",
                what,
                "",
                0,
                out.calls,
                per_s=out.calls_per_s,
                note=f"{out.decisions:,} decisions, {out.outbox_rows:,} outbox rows",
            )
        )
    return found


# --- (b) the site, (c) bulk -------------------------------------------------------------------


async def site_client(sessions: sessionmaker[Session]) -> tuple[httpx.AsyncClient, str]:
    """The site's app with the line's administrator logged in; the client and a CSRF token."""
    with db.transaction(sessions) as s:
        service.set_temp_password(
            s,
            SITE_CONTRACT,
            SITE_CONTRACT,
            service.hash_temp_password(TEMP),
            AuthUnit.LINE,
            now=dt.datetime.now(dt.UTC),
        )
    app = create_app(
        SiteDeps(sessions, sender_address="chakushin@example.jp", throttle=LoginThrottle(limit=50))
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")

    async def post(path: str, data: dict[str, str]) -> httpx.Response:
        page = await client.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if token is None:
            raise SystemExit(f"site: no CSRF token on {path}: {page.status_code}")
        return await client.post(path, data={"csrf_token": token.group(1), **data})

    steps = (
        ("/login", {"number": SITE_CONTRACT, "password": TEMP}),
        (
            "/password",
            {"current_password": TEMP, "new_password": PASSWORD, "confirm_password": PASSWORD},
        ),
        ("/login", {"number": SITE_CONTRACT, "password": PASSWORD}),
        ("/otp/choice", {"choice": "decline", "agree": "1"}),
    )
    for path, data in steps:
        if path == "/login":
            client.cookies.delete(COOKIE)  # as a browser without a session
        response = await post(path, data)
        if response.status_code >= 400:
            raise SystemExit(f"site log-in: {path} {response.status_code}: {response.text[:300]}")
    return client, ""


async def stage_site(
    sessions: sessionmaker[Session], counter: StatementCounter, requests: int
) -> list[Result]:
    client, _ = await site_client(sessions)
    found = []
    try:
        for what, paths in (
            ("GET /numbers (1,000 numbers)", ["/numbers"]),
            ("GET /numbers?q= * search", [f"/numbers?q={q}" for q in SEARCHES]),
        ):
            spent = []
            before, cpu = counter.count, Cpu()
            for i in range(requests):
                path = paths[i % len(paths)]
                t0 = time.perf_counter()
                response = await client.get(path)
                spent.append(time.perf_counter() - t0)
                if response.status_code != 200 or SITE_NUMBERS_SHOWN.search(response.text) is None:
                    raise SystemExit(f"site: {path} {response.status_code}: {response.text[:300]}")
            found.append(
                Result(
                    "b",
                    what,
                    "",
                    0,
                    len(spent),
                    percentile_ms(spent, 50),
                    percentile_ms(spent, 99),
                    statements=(counter.count - before) / len(spent),
                    cpu_ms=cpu.per(len(spent)),
                )
            )
    finally:
        await client.aclose()
    return found


def stage_bulk(
    sessions: sessionmaker[Session], counter: StatementCounter, runs: int
) -> list[Result]:
    numbers = site_numbers()
    spent = []
    before, cpu = counter.count, Cpu()
    for i in range(runs):
        change = bulk.BulkChange(
            mail_started=True,
            designated_only=i % 2 == 0,
            unanswered_only=i % 2 == 0,
            add_address=BULK_ADDRESS,
            number_request=i % 2 == 0,
        )
        t0 = time.perf_counter()
        with db.transaction(sessions) as s:
            result = bulk.apply_bulk(s, numbers, change)
        spent.append(time.perf_counter() - t0)
        if len(result.numbers) != len(numbers):
            raise SystemExit(f"bulk: {len(result.numbers)} numbers changed")
    return [
        Result(
            "c",
            "apply_bulk, 1,000 numbers (address, conditions, start, Number Request)",
            "",
            0,
            runs,
            percentile_ms(spent, 50),
            max(spent) * 1000,
            statements=(counter.count - before) / runs,
            cpu_ms=cpu.per(runs),
        )
    ]


# --- (d) API, (e) routing, (f) status ------------------------------------------------------


def api_has_number_route() -> bool:
    """Whether the API serves ``GET /api/v1/numbers/{number}`` (its OpenAPI document says)."""
    from web.api.app import create_api
    from web.api.deps import ApiDeps

    paths = create_api(ApiDeps(sessionmaker())).openapi().get("paths", {})
    return "get" in paths.get("/api/v1/numbers/{number}", {})


def stage_api(
    sessions: sessionmaker[Session], counter: StatementCounter, numbers: list[str], requests: int
) -> list[Result]:
    sample = spread(numbers, requests)
    before = counter.count
    if api_has_number_route():
        from starlette.testclient import TestClient

        from web.api.app import create_api
        from web.api.deps import ApiDeps

        with db.transaction(sessions) as s:
            _, secret = api_tokens.create_token(
                s, f"bench{uuid.uuid4().hex[:8]}", "read", now=dt.datetime.now(dt.UTC)
            )
        with TestClient(create_api(ApiDeps(sessions))) as client:
            headers = {"Authorization": f"Bearer {secret}"}
            client.get(f"/api/v1/numbers/{sample[0]}", headers=headers)  # warm up
            before = counter.count
            it = iter(sample)

            def one() -> None:
                response = client.get(f"/api/v1/numbers/{next(it)}", headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"api: {response.status_code}: {response.text[:300]}")

            spent, cpu = timed(one, len(sample))
        what = "GET /api/v1/numbers/{n} (create_api, read token)"
    else:
        it = iter(sample)

        def one() -> None:
            with db.transaction(sessions, read_only=True) as s:
                service.describe_number(service.get_number(s, next(it)))

        spent, cpu = timed(one, len(sample))
        what = "service.get_number + describe_number (the API route is not there yet)"
    return [
        Result(
            "d",
            what,
            "",
            0,
            len(spent),
            percentile_ms(spent, 50),
            percentile_ms(spent, 99),
            statements=(counter.count - before) / len(spent),
            cpu_ms=cpu,
        )
    ]


def stage_routing(
    sessions: sessionmaker[Session], counter: StatementCounter, numbers: list[str], requests: int
) -> list[Result]:
    store = SqlRoutingStore(sessions, clock=lambda: dt.datetime.now(dt.UTC))
    caller = Caller("0901234567", Presentation.ALLOWED)
    it = iter(spread(numbers, requests))
    before = counter.count

    def one() -> None:
        if store.route_incoming_call(next(it), caller) is None:
            raise SystemExit("routing: a populated number is not provisioned")

    spent, cpu = timed(one, requests)
    return [
        Result(
            "e",
            "SqlRoutingStore.route_incoming_call (routing AGI)",
            "",
            0,
            len(spent),
            percentile_ms(spent, 50),
            percentile_ms(spent, 99),
            statements=(counter.count - before) / len(spent),
            cpu_ms=cpu,
        )
    ]


def stage_status(
    sessions: sessionmaker[Session], counter: StatementCounter, requests: int
) -> list[Result]:
    before = counter.count
    spent, cpu = timed(lambda: node.check(sessions, 300), requests)
    return [
        Result(
            "f",
            "chakushin.node.check (chakushin status)",
            "",
            0,
            len(spent),
            percentile_ms(spent, 50),
            percentile_ms(spent, 99),
            statements=(counter.count - before) / len(spent),
            cpu_ms=cpu,
        )
    ]


# --- one database of one size ----------------------------------------------------------------


async def run_one(
    args: argparse.Namespace, data_dir: Path, kind: str, n: int
) -> tuple[list[Result], dict[str, float]]:
    with database(kind, data_dir, f"scale-{n}", args.pg_url) as url:
        engine = db.make_engine(url)
        try:
            t0 = time.perf_counter()
            db.upgrade(engine)
            rows = populate(engine, n, dt.datetime.now(dt.UTC))
            populated = time.perf_counter() - t0
            progress(f"{kind}, {rows:,} numbers: populated in {populated:.1f} s")
            sessions = db.session_factory(engine)
            numbers = all_numbers(n)
            check_sample(sessions, spread(numbers, 50))
            counter = StatementCounter(engine)
            found: list[Result] = []
            stages: set[str] = args.stages
            if "a" in stages:
                progress(f"{kind}, {rows:,}: (a) notifier decisions ...")
                found += await stage_notifier(args, data_dir, url, engine, numbers)
            if "b" in stages:
                progress(f"{kind}, {rows:,}: (b) site ...")
                found += await stage_site(sessions, counter, args.requests)
            if "c" in stages:
                progress(f"{kind}, {rows:,}: (c) bulk ...")
                found += stage_bulk(sessions, counter, args.bulk_runs)
            if "d" in stages:
                progress(f"{kind}, {rows:,}: (d) API read ...")
                found += stage_api(sessions, counter, numbers, args.requests * 4)
            if "e" in stages:
                progress(f"{kind}, {rows:,}: (e) routing ...")
                found += stage_routing(sessions, counter, numbers, args.requests * 4)
            if "f" in stages:
                progress(f"{kind}, {rows:,}: (f) status ...")
                found += stage_status(sessions, counter, args.requests)
            for r in found:
                r.database, r.numbers = kind, rows
            return found, {"populate_s": round(populated, 1), "numbers": rows}
        finally:
            engine.dispose()


# --- the report --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    measured: str
    met: bool | None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    populated: dict[str, dict[str, float]] = field(default_factory=dict)

    def growth(self) -> list[tuple[str, Result, Result, float]]:
        """(database, smallest, largest, how much slower the largest is: 0.1 = 10 %)."""
        found = []
        for kind in dict.fromkeys(r.database for r in self.results):
            mine = [r for r in self.results if r.database == kind]
            sizes = sorted({r.numbers for r in mine})
            if len(sizes) < 2:
                continue
            small = {r.key: r for r in mine if r.numbers == sizes[0]}
            for big in (r for r in mine if r.numbers == sizes[-1]):
                base = small.get(big.key)
                if base is None:
                    continue
                if big.per_s is not None and base.per_s:
                    slower = base.per_s / big.per_s - 1
                else:
                    slower = big.p50_ms / base.p50_ms - 1
                found.append((kind, base, big, slower))
        return found

    def targets(self) -> list[Target]:
        found = []
        for kind, base, big, slower in self.growth():
            cpu = ""
            if big.cpu_ms and base.cpu_ms:
                cpu = f" (CPU {big.cpu_ms / base.cpu_ms - 1:+.0%})"
            found.append(
                Target(
                    f"({big.stage}) {big.what}, {kind}: {big.numbers:,} vs {base.numbers:,} "
                    f"numbers, at most {TARGET_GROWTH:.0%} slower",
                    f"{slower:+.0%}{cpu}",
                    slower <= TARGET_GROWTH,
                )
            )
        for r in self.results:
            if r.stage == "b" and "search" in r.what:
                found.append(
                    Target(
                        f"(b) search p99 < {TARGET_SEARCH_P99_MS:.0f} ms, {r.database}, "
                        f"{r.numbers:,}",
                        f"{r.p99_ms:.1f} ms",
                        r.p99_ms < TARGET_SEARCH_P99_MS,
                    )
                )
            if r.stage == "c":
                found.append(
                    Target(
                        f"(c) bulk on 1,000 numbers < {TARGET_BULK_S:.0f} s (slowest run), "
                        f"{r.database}, {r.numbers:,}",
                        f"{r.p99_ms / 1000:.2f} s",
                        r.p99_ms / 1000 < TARGET_BULK_S,
                    )
                )
            if r.stage == "e":
                found.append(
                    Target(
                        f"(e) routing p99 < {TARGET_ROUTING_P99_MS:.0f} ms, {r.database}, "
                        f"{r.numbers:,}",
                        f"{r.p99_ms:.1f} ms",
                        r.p99_ms < TARGET_ROUTING_P99_MS,
                    )
                )
        return found


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:,.{digits}f}"


def markdown(report: Report) -> str:
    rows = [
        "| stage | what | database | numbers | samples | p50 ms | p99 ms | CPU ms | calls/s "
        "| SQL/request | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(report.results, key=lambda r: (r.stage, r.what, r.database, r.numbers)):
        rows.append(
            f"| {r.stage} | {r.what} | {r.database} | {r.numbers:,} | {r.samples:,} "
            f"| {fmt(r.p50_ms)} | {fmt(r.p99_ms)} | {fmt(r.cpu_ms)} | {fmt(r.per_s, 0)} "
            f"| {fmt(r.statements)} | {r.note} |"
        )
    rows += ["", "| target | measured | |", "|---|---:|---|"]
    for t in report.targets():
        status = {True: "met", False: "**missed**", None: "not run"}[t.met]
        rows.append(f"| {t.name} | {t.measured} | {status} |")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--numbers", default="100,100000", help="sizes, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--stages", default="a,b,c,d,e,f")
    parser.add_argument("--quick", action="store_true", help="fewer calls and requests")
    parser.add_argument("--calls", type=int, help="(a): calls per run (default 3000, quick 1000)")
    parser.add_argument("--window", type=int, default=500, help="(a): calls in flight")
    parser.add_argument(
        "--requests", type=int, help="(b), (f) requests; (d), (e) four times as many"
    )
    parser.add_argument("--bulk-runs", type=int, help="(c): runs (default 5, quick 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="(a): seconds per run at most")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (admin database)")
    parser.add_argument("--keep", help="keep the SQLite files and logs in this directory")
    parser.add_argument("--json", dest="json_file", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s.replace("_", "")) for s in args.numbers.split(",") if s.strip()})
    args.kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    args.stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    if not args.stages <= set("abcdef"):
        parser.error("--stages: letters a to f")
    if not set(args.kinds) <= {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite, postgresql")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--numbers: positive sizes")
    args.calls = args.calls or (1000 if args.quick else 3000)
    args.requests = args.requests or (20 if args.quick else 100)
    args.bulk_runs = args.bulk_runs or (2 if args.quick else 5)
    return args


async def run(args: argparse.Namespace, data_dir: Path) -> Report:
    report = Report()
    for kind in args.kinds:
        for n in args.sizes:
            results, populated = await run_one(args, data_dir, kind, n)
            report.results += results
            report.populated[f"{kind} {populated['numbers']:,}"] = populated
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure("warning", stream=sys.stderr)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.keep:
            data_dir = Path(args.keep).resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chk-scale-")))
        report = asyncio.run(run(args, data_dir))
    run_time = time.perf_counter() - started
    print(markdown(report))
    print()
    print(
        "Populated (s): "
        + ", ".join(f"{k} in {v['populate_s']}" for k, v in report.populated.items())
        + f". Run time {run_time:.0f} s; (a) {args.calls:,} calls, {args.window} in flight, "
        f"shipped filter; (b) {args.requests} requests each; (c) {args.bulk_runs} runs."
    )
    print(machine_line(machine()))
    missed = [t for t in report.targets() if t.met is False]
    print(f"Summary: {len(report.targets()) - len(missed)} targets met, {len(missed)} missed.")
    if args.json_file:
        data = {
            "results": [asdict(r) for r in report.results],
            "targets": [asdict(t) for t in report.targets()],
            "populated": report.populated,
            "run_time_s": round(run_time, 1),
            "settings": {
                "numbers": args.sizes,
                "databases": args.kinds,
                "calls": args.calls,
                "window": args.window,
                "requests": args.requests,
                "bulk_runs": args.bulk_runs,
            },
            "machine": machine(),
        }
        Path(args.json_file).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
