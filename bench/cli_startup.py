"""Benchmark: how long a ``chakushin`` read command takes to start (issue 18).

Run: ``.venv/bin/python bench/cli_startup.py [--tree DIR ...] [--runs 20]
[--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--json FILE]``.

What is measured. For each source tree given (default: this one; give an
old export to compare, e.g. ``git archive <commit> | tar -x -C /tmp/old``),
every command below runs ``--runs`` times as a new process
(``python -c 'from chakushin.cli import main; main()' ...``, the entry
point's own code, with the tree first on ``PYTHONPATH``) against a
throw-away SQLite database holding one line of two numbers, and, with
``--pg``, against a throw-away PostgreSQL database made from that server
(dropped at the end):

- ``line list``, ``number show N``, ``status``, ``--help``, ``--version``;
- ``python -c pass``: the interpreter alone, the floor no command beats.

How to read the numbers. *median* and *p90* are wall times of the whole
process, from ``fork`` to exit, in milliseconds; *CPU* is the user plus
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

    def timed(self, args: list[str], runs: int) -> Timing:
        """Wall time of each run, and the CPU time (user + system) the process used."""
        wall, cpu = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = self.run(*args, check=False)
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if done.returncode not in (0, 1):  # status exits 1 when no node runs
                raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.strip()}")
        shown = " ".join(args[2:]) if args[:2] == ["-c", ENTRY] else f"python {' '.join(args)}"
        return Timing(shown, *ms(wall), ms(cpu)[0])

    def phases(self, runs: int) -> dict[str, float]:
        script = f"HEAVY = {HEAVY!r}\n{PHASES}"
        samples = [json.loads(self.run("-c", script).stdout) for _ in range(runs)]
        keys = ("import", "config_and_logging", "open_and_schema")
        return {key: statistics.median(s[key] for s in samples) * 1000 for key in keys}

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


def measure(tree: Path, url: str | None, database: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="chk-cli-") as workdir:
        runner = Runner(tree, Path(workdir), url or f"sqlite:///{workdir}/chakushin.db")
        provision(runner)
        result = Result(str(tree), commit_of(tree), database, args.runs)
        result.timings.append(runner.timed(["-c", "pass"], args.runs))
        for command in COMMANDS:
            result.timings.append(runner.timed(["-c", ENTRY, *command], args.runs))
        result.phases_ms = {k: round(v, 1) for k, v in runner.phases(args.runs).items()}
        result.heavy_imported = runner.heavy()
        result.top_imports_ms = runner.top_imports(args.top)
        return result


def ms(samples: Sequence[float]) -> tuple[float, float]:
    return round(statistics.median(samples) * 1000, 1), round(p90(samples) * 1000, 1)


def report(results: Sequence[Result]) -> None:
    for r in results:
        print(f"\n== {Path(r.tree).name} {r.commit} on {r.database} ({r.runs} runs each)")
        print(f"{'command':<28} {'median ms':>10} {'p90 ms':>8} {'CPU median ms':>14}")
        for t in r.timings:
            print(f"{t.command:<28} {t.median_ms:>10.1f} {t.p90_ms:>8.1f} {t.cpu_median_ms:>14.1f}")
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
    results = []
    for tree in trees:
        results.append(measure(tree, None, "sqlite", args))
        if args.pg:
            with pg_database(args.pg) as url:
                results.append(measure(tree, url, "postgresql", args))
    report(results)
    if args.json:
        data = {"machine": the_machine, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
