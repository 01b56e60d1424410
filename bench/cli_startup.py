"""Benchmark: how long a ``chakushin`` read command takes to start (issue 18).

Run: ``.venv/bin/python bench/cli_startup.py [--tree DIR ...] [--runs 20]
[--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--json FILE]``.

What is measured. For each source tree given (default: this one; give an
old export to compare, e.g. ``git archive <commit> | tar -x -C /tmp/old``),
every command below runs ``--runs`` times as a new process, the trees'
runs taking turns
(``python -c 'from chakushin.cli import main; main()' ...``, the entry
point's own code, with the tree first on ``PYTHONPATH``) against a
throw-away SQLite database holding one line of two numbers, and, with
``--pg``, against a throw-away PostgreSQL database made from that server
(dropped at the end):

- ``line list``, ``number show N``, ``status``, ``--help``, ``--version``;
- ``python -c pass``: the interpreter alone, the floor no command beats;
  ``import sqlalchemy.orm`` and ``import store.service``: the domain layer
  every read command goes through, the floor of a read.

How to read the numbers. *median* and *p90* are wall times of the whole
process, from ``fork`` to exit, in milliseconds; *min* the fastest run (the
nearest to an idle machine); *CPU* is the user plus
system time the process used (less disturbed than wall time when other
work shares the machine, which then shows as wall time well above CPU). Then where the time goes,
measured inside one process per phase (median of ``--runs``): importing
``chakushin.cli``; reading the config and setting up logging (``App.config``:
``config.load`` and ``logs.configure``); opening the database and checking
its schema (``bootstrap.make_engine`` and ``open_sessions``, whose check
reads ``alembic_version``); and the heaviest imports of ``line list``
(``python -X importtime``, cumulative, the top entries below
``chakushin.cli``), with whether alembic, uvicorn, starlette, fastapi,
panoramisk, aiosmtplib, argon2, jinja2 or prometheus_client were imported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Run as a script, bench/ is first on sys.path; the repo root finds bench.machine.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine, machine_line

CONTRACT, EXTRA = "0312345678", "0312345679"
ENTRY = "from chakushin.cli import main; main()"
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("line", "list"),
    ("number", "show", EXTRA),
    ("status",),
    ("--help",),
    ("--version",),
)
# What no read command can do without: the interpreter, then the store's
# domain layer (SQLAlchemy, its ORM and the models) a read goes through.
FLOORS = ("pass", "import sqlalchemy.orm", "import store.service")
HEAVY = (
    "alembic",
    "uvicorn",
    "starlette",
    "fastapi",
    "panoramisk",
    "aiosmtplib",
    "argon2",
    "jinja2",
    "prometheus_client",
)
# One process per sample: each phase of a read command, timed from inside.
PHASES = """
import json, sys, time
t0 = time.perf_counter()
import chakushin.cli
from chakushin.cli.app import App
t1 = time.perf_counter()
app = App(config_path=None)
app.config
t2 = time.perf_counter()
app.sessions()
t3 = time.perf_counter()
app.close()
heavy = sorted(name for name in HEAVY if name in sys.modules)
print(json.dumps({"import": t1 - t0, "config_and_logging": t2 - t1, "open_and_schema": t3 - t2,
                  "heavy_after_open": heavy}))
"""
LINE_LIST_HEAVY = """
import sys
from chakushin.cli import main
sys.argv = ["chakushin", "line", "list"]
try:
    main()
except SystemExit:
    pass
print(",".join(sorted(name for name in HEAVY if name in sys.modules)), file=sys.stderr)
"""


@dataclass
class Timing:
    command: str
    median_ms: float
    p90_ms: float
    min_ms: float
    cpu_median_ms: float


@dataclass
class Result:
    tree: str
    commit: str
    database: str
    runs: int
    timings: list[Timing] = field(default_factory=list)
    phases_ms: dict[str, float] = field(default_factory=dict)
    heavy_imported: list[str] = field(default_factory=list)
    top_imports_ms: list[tuple[str, float]] = field(default_factory=list)


def p90(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def commit_of(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "export"


@contextlib.contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``admin_url``'s server, dropped afterwards."""
    import sqlalchemy as sa

    name = f"chk_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Runner:
    """Commands of ``tree`` against one database, in a clean environment."""

    def __init__(self, tree: Path, workdir: Path, url: str) -> None:
        self.tree = tree
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("CHAKUSHIN_")
        }
        self.env.update(
            PYTHONPATH=str(tree),
            CHAKUSHIN_DATA_DIR=str(workdir),
            CHAKUSHIN_DATABASE_URL=url,
        )
        self.workdir = workdir

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=check,
        )

    def chakushin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-c", ENTRY, *args, check=False)

    def sample(self, args: list[str]) -> tuple[float, float]:
        """One run's wall time, and the CPU time (user + system) the process used."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = self.run(*args, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):  # status exits 1 when no node runs
            raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.strip()}")
        return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    def phase_sample(self) -> dict[str, float]:
        return dict(json.loads(self.run("-c", f"HEAVY = {HEAVY!r}\n{PHASES}").stdout))

    def heavy(self) -> list[str]:
        done = self.run("-c", f"HEAVY = {HEAVY!r}\n{LINE_LIST_HEAVY}")
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        return [name for name in last.split(",") if name]

    def top_imports(self, count: int) -> list[tuple[str, float]]:
        """The heaviest modules ``line list`` imports (cumulative µs of ``-X importtime``)."""
        done = self.run("-X", "importtime", "-c", f"HEAVY = ()\n{LINE_LIST_HEAVY}")
        entries: dict[str, float] = {}
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _label, cumulative, module = line.split("|", 2)
            depth = (len(module) - len(module.lstrip())) // 2
            name = module.strip()
            # Top-level entries and the first level below them: the packages
            # and the modules of chakushin, store, sqlalchemy that pulled the rest.
            if depth <= 2:
                entries[name] = max(entries.get(name, 0.0), float(cumulative) / 1000)
        ranked = sorted(entries.items(), key=lambda item: item[1], reverse=True)
        return [(name, round(ms, 1)) for name, ms in ranked[:count]]


def provision(runner: Runner) -> None:
    for args in (("db", "upgrade"), ("line", "add", CONTRACT), ("number", "add", CONTRACT, EXTRA)):
        done = runner.chakushin(*args)
        if done.returncode != 0:
            raise RuntimeError(f"chakushin {' '.join(args)}: {done.stderr.strip()}")


def measure(
    trees: Sequence[Path], database: str, urls: Sequence[str | None], args: argparse.Namespace
) -> list[Result]:
    """Every tree on its own database; the runs of the trees alternate, so that a
    machine that slows down (other work, a busy host) slows every tree alike."""
    with contextlib.ExitStack() as stack:
        runners = []
        for tree, url in zip(trees, urls, strict=True):
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="chk-cli-"))
            runners.append(Runner(tree, Path(workdir), url or f"sqlite:///{workdir}/chakushin.db"))
        for runner in runners:
            provision(runner)
        results = [Result(str(r.tree), commit_of(r.tree), database, args.runs) for r in runners]
        every = [["-c", floor] for floor in FLOORS] + [["-c", ENTRY, *c] for c in COMMANDS]
        for command in every:
            samples: list[list[tuple[float, float]]] = [[] for _ in runners]
            for _ in range(args.runs):
                for runner, taken in zip(runners, samples, strict=True):
                    taken.append(runner.sample(command))
            for result, taken in zip(results, samples, strict=True):
                wall, cpu = [w for w, _ in taken], [c for _, c in taken]
                shown = " ".join(command[2:]) if command[:2] == ["-c", ENTRY] else command[1]
                if command[:2] != ["-c", ENTRY]:
                    shown = f"python -c {shown!r}" if " " in shown else f"python -c {shown}"
                result.timings.append(
                    Timing(shown, *ms(wall), round(min(wall) * 1000, 1), ms(cpu)[0])
                )
        phases: list[list[dict[str, float]]] = [[] for _ in runners]
        for _ in range(args.runs):
            for runner, taken_phases in zip(runners, phases, strict=True):
                taken_phases.append(runner.phase_sample())
        keys = ("import", "config_and_logging", "open_and_schema")
        for runner, result, taken_phases in zip(runners, results, phases, strict=True):
            result.phases_ms = {
                key: round(statistics.median(p[key] for p in taken_phases) * 1000, 1)
                for key in keys
            }
            result.heavy_imported = runner.heavy()
            result.top_imports_ms = runner.top_imports(args.top)
        return results


def ms(samples: Sequence[float]) -> tuple[float, float]:
    return round(statistics.median(samples) * 1000, 1), round(p90(samples) * 1000, 1)


def report(results: Sequence[Result]) -> None:
    for r in results:
        print(f"\n== {Path(r.tree).name} {r.commit} on {r.database} ({r.runs} runs each)")
        head = (
            f"{'command':<32} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'CPU median ms':>14}"
        )
        print(head)
        for t in r.timings:
            print(
                f"{t.command:<32} {t.median_ms:>10.1f} {t.p90_ms:>8.1f} {t.min_ms:>8.1f} "
                f"{t.cpu_median_ms:>14.1f}"
            )
        print("where the time goes (median ms, in one process):")
        for phase, value in r.phases_ms.items():
            print(f"  {phase:<26} {value:>8.1f}")
        print(f"  heavy modules line list imports: {', '.join(r.heavy_imported) or 'none'}")
        print("  heaviest imports of line list (cumulative ms, python -X importtime):")
        for name, value in r.top_imports_ms:
            print(f"    {name:<40} {value:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="source tree (repeatable)")
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--top", type=int, default=12, help="import entries shown (default 12)")
    parser.add_argument("--pg", help="PostgreSQL admin URL: also measure on a new database there")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree or [Path(__file__).resolve().parents[1]]]
    the_machine = machine()
    print(machine_line(the_machine))
    print("load average at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results = measure(trees, "sqlite", [None] * len(trees), args)
    if args.pg:
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(pg_database(args.pg)) for _ in trees]
            results += measure(trees, "postgresql", urls, args)
    report(results)
    print("\nload average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        data = {"machine": the_machine, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
