"""Databases for the tests: SQLite always, PostgreSQL when reachable.

Each test run creates its own databases (a SQLite file in a temp dir, a
PostgreSQL database with a random name that is dropped at the end) and
migrates them with the real Alembic migrations. Tests that take the
``db_url`` or ``engine`` fixture run once per backend; after each test the
tables are emptied.

PostgreSQL is found at ``$CHAKUSHIN_TEST_POSTGRES_URL`` (default: user
postgres at 127.0.0.1:5432). When it cannot be reached its tests are
skipped with the reason, unless ``CHAKUSHIN_REQUIRE_POSTGRES=1`` (set by
CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from store import db, passwords
from tests.builders import empty_tables
from tests.notifier.smtp_server import SmtpServer

PG_ADMIN_URL = os.environ.get(
    "CHAKUSHIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("CHAKUSHIN_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


TIMESHIFT = Path(__file__).parent / "timeshift"


def pytest_configure(config: pytest.Config) -> None:
    """``CHAKUSHIN_TEST_DAYS_AHEAD``: this process and every one it starts run that far ahead."""
    if os.environ.get("CHAKUSHIN_TEST_DAYS_AHEAD"):
        paths = [str(TIMESHIFT), *filter(None, [os.environ.get("PYTHONPATH")])]
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
        sys.path.insert(0, str(TIMESHIFT))
        import sitecustomize  # tests/timeshift: starts time-machine once per process

        sitecustomize.travel()


def pytest_report_header(config: pytest.Config) -> str:
    reason = _pg_unreachable_reason()
    where = make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
    state = "reachable" if reason is None else f"NOT reachable ({reason})"
    days = os.environ.get("CHAKUSHIN_TEST_DAYS_AHEAD")
    ahead = f"; clock {days} days ahead (time-machine)" if days else ""
    return f"chakushin: PostgreSQL at {where} {state}; required={REQUIRE_PG}{ahead}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per backend, so a CI log shows that PostgreSQL really ran."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid: str = getattr(report, "nodeid", "")
            params = nodeid.partition("[")[2]
            when = getattr(report, "when", "call")
            if outcome == "passed" and when != "call":
                continue
            for backend in ("sqlite", "postgresql"):
                if backend in params:
                    per = counts.setdefault(backend, {})
                    per[outcome] = per.get(outcome, 0) + 1
    for backend, per in sorted(counts.items()):
        text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(per.items()))
        terminalreporter.write_line(f"chakushin database tests on {backend}: {text}")


_pg_probe: dict[str, str | None] = {}


def _pg_unreachable_reason() -> str | None:
    if "reason" not in _pg_probe:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _pg_probe["reason"] = None
        except sa.exc.SQLAlchemyError as exc:
            _pg_probe["reason"] = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        finally:
            engine.dispose()
    return _pg_probe["reason"]


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    reason = _pg_unreachable_reason()
    if reason is not None:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {reason}"
        if REQUIRE_PG:
            pytest.fail(message + " (CHAKUSHIN_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    name = f"chakushin_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "chakushin.db"
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database URL of each backend; emptied after the test."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    yield url
    engine = db.make_engine(url)
    try:
        empty_tables(engine)
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = db.make_engine(db_url)
    yield made
    made.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


@pytest.fixture
def tmp_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no CHAKUSHIN_* variables, cwd in an empty directory."""
    keep = ("CHAKUSHIN_TEST_POSTGRES_URL", "CHAKUSHIN_REQUIRE_POSTGRES")
    for key in list(os.environ):
        if key.startswith("CHAKUSHIN_") and key not in keep:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHAKUSHIN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _structlog_defaults_after_each_test() -> Iterator[None]:
    """Every test starts with structlog's defaults, whatever the test before configured.

    A command run in-process (the CLI's ``App.config``) configures structlog
    for the whole process, e.g. filtering below "warning"; a later test in the
    same worker that captures events at "info" then saw none, depending only
    on which tests xdist had given that worker before.
    """
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2_in_process() -> Iterator[None]:
    """In this process, argon2id runs at 1 MiB and 1 pass instead of 19 MiB and 2.

    Hundreds of tests hash and verify passwords; at the production cost
    (about 45 ms each on this machine) that was most of the suite's CPU. The
    algorithm, the code paths and the stored format are the same; the
    production parameters are checked by ``test_production_argon2_parameters``
    and used by every chakushin process a test starts (serve, the CLI, AGI).
    """
    with passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)):
        yield
