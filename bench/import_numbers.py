"""Benchmark: ``chakushin import`` of 10,000 numbers (issue 18: under 30 s on this machine).

Run: ``.venv/bin/python bench/import_numbers.py [--lines 1000] [--per-line 10]
[--format csv|jsonl] [--via cli|store] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
[--no-sqlite] [--profile]``.

What is measured. A file of ``--lines`` lines with ``--per-line`` numbers each
(the contract number and the others), every number with two devices, two
destination addresses (one with its send flag off), the unanswered-only
condition, two designated numbers and the mail service started, is written
to a temporary directory. Then, on a new migrated SQLite database (and on a
new PostgreSQL database made on ``--pg``'s server, dropped at the end):

- ``--via cli`` (default): ``chakushin import FILE`` as a new process (the
  entry point's own code), wall time from start to exit; then the same file
  again (every number is then updated to what it already is: the idempotent
  re-import); with ``--dry-run`` first a dry run of it (as long as the import:
  the same work, rolled back);
- ``--via store``: ``store.importing.import_data`` in this process, the same
  three runs, without the interpreter's start and the config.

``--profile`` runs the first import in this process under cProfile and
prints the 25 functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine, machine_line  # noqa: E402

ENTRY_POINT = "from chakushin.cli import main; main()"
HEADER = (
    "contract_number,number,endpoint,mail_addresses,mail_designated_numbers,"
    "mail_unanswered_only,mail_started"
)


def numbers(lines: int, per_line: int) -> Iterator[tuple[str, str, int]]:
    """(contract number, number or "", index) of every row: 05 0000 0000 + i, 11 digits."""
    for line in range(lines):
        contract = f"050{line:04d}0000"
        yield contract, "", line * per_line
        for extra in range(1, per_line):
            yield contract, f"050{line:04d}{extra:04d}", line * per_line + extra


def write_file(path: Path, lines: int, per_line: int, fmt: str) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            out.write(HEADER + "\r\n")
        for contract, number, i in numbers(lines, per_line):
            devices = f"PJSIP/{i}a&PJSIP/{i}b"
            addresses = [(f"n{i}@example.jp", True), (f"office{i}@example.co.jp", False)]
            designated = [(f"03{i:08d}", True), (f"06{i:08d}", False)]
            if fmt == "csv":
                cells = [
                    contract,
                    number,
                    devices,
                    ";".join(a if s else a + ":off" for a, s in addresses),
                    ";".join(d if s else d + ":off" for d, s in designated),
                    "on",
                    "on",
                ]
                out.write(",".join(cells) + "\r\n")
            else:
                obj = {
                    "contract_number": contract,
                    "number": number,
                    "endpoint": devices,
                    "mail": {
                        "addresses": [{"address": a, "send": s} for a, s in addresses],
                        "designated_numbers": [
                            {"caller_number": d, "designated": s} for d, s in designated
                        ],
                        "unanswered_only": True,
                        "started": True,
                    },
                }
                out.write(json.dumps(obj) + "\n")
            rows += 1
    return rows


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


def migrate(url: str) -> None:
    from store import db

    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()


def via_cli(url: str, workdir: Path, path: Path, *extra: str) -> tuple[float, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAKUSHIN_")}
    env.update({"CHAKUSHIN_DATABASE_URL": url, "CHAKUSHIN_DATA_DIR": str(workdir)})
    env["PYTHONPATH"] = str(ROOT)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, "import", str(path), *extra],
        env=env,
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if done.returncode != 0:
        raise RuntimeError(f"chakushin import failed: {done.stderr.strip()[-2000:]}")
    return seconds, f"{done.stdout.strip()}; the command's CPU {cpu:.2f} s"


def via_store(url: str, path: Path, fmt: str, **options: bool) -> tuple[float, str]:
    from store import db, importing

    engine = db.make_engine(url)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        report = importing.import_data(
            db.session_factory(engine),
            path.read_bytes(),
            fmt,
            default_timezone="Asia/Tokyo",
            **options,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        engine.dispose()
    if report.refused_rows:
        raise RuntimeError(f"refused: {report.problems[:3]}")
    summary = (
        f"{report.lines_added} lines, {report.numbers_added} numbers added, "
        f"{report.numbers_updated} updated, written={report.written}; "
        f"this process's CPU {cpu:.2f} s"
    )
    return seconds, summary


def measure(url: str, label: str, path: Path, fmt: str, args: argparse.Namespace) -> None:
    migrate(url)
    with tempfile.TemporaryDirectory(prefix="chk-import-") as workdir:
        if args.profile:
            from store import db, importing

            engine = db.make_engine(url)
            profile = cProfile.Profile()
            profile.enable()
            importing.import_data(
                db.session_factory(engine), path.read_bytes(), fmt, default_timezone="Asia/Tokyo"
            )
            profile.disable()
            engine.dispose()
            pstats.Stats(profile).sort_stats(args.sort).print_stats(25)
            return
        runs: list[tuple[str, tuple[str, ...]]] = [("first import", ()), ("re-import", ())]
        if args.dry_run:
            runs.insert(0, ("dry run", ("--dry-run",)))
        for run, extra in runs:
            if args.via == "cli":
                seconds, out = via_cli(url, Path(workdir), path, "--format", fmt, *extra)
            else:
                seconds, out = via_store(url, path, fmt, dry_run=bool(extra))
            print(f"{label:<10} {run:<13} {seconds:7.2f} s   {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--per-line", type=int, default=10)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--via", choices=["cli", "store"], default="cli")
    parser.add_argument("--pg", help="PostgreSQL admin URL: also measure a database made there.")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="Also --dry-run, before the import.")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile order (tottime ...)")
    args = parser.parse_args()
    # As the CLI logs without -v: warnings only.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(machine_line(machine()))
    with tempfile.TemporaryDirectory(prefix="chk-import-bench-") as tmp:
        path = Path(tmp) / f"numbers.{args.format}"
        rows = write_file(path, args.lines, args.per_line, args.format)
        print(
            f"file: {rows} numbers on {args.lines} lines, {args.format}, "
            f"{path.stat().st_size / 2**20:.1f} MiB; via {args.via}"
        )
        if not args.no_sqlite:
            measure(f"sqlite:///{tmp}/bench.db", "sqlite", path, args.format, args)
        if args.pg:
            with pg_database(args.pg) as url:
                measure(url, "postgresql", path, args.format, args)


if __name__ == "__main__":
    main()
