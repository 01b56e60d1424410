"""Engines, sessions and schema migrations.

The entry point makes one engine and one session factory from the config
and passes them down; nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import StoreUnavailable

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported inside the functions that need it: it doubles the
# start-up time of every CLI command, and most only need the fast check
# in ``current_revision``.

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# The newest migration in store/migrations/versions; a test keeps it true.
HEAD_REVISION = "0017"
# Execution option: the transaction only reads (see _sqlite_engine).
READ_ONLY = "chakushin_read_only"


class DatabaseError(StoreUnavailable, RuntimeError):
    """The database cannot be reached or is not at the schema this code needs.

    A ``StoreUnavailable``, not a ``DomainError``: no rule refused anything,
    the store could not be used (``code`` says why: ``database_url``,
    ``database_unavailable``, ``database_damaged``, ``database_outdated``,
    ``database_unknown_revision``).
    """

    code = "database"


def parse_url(url: str) -> URL:
    """Check a database URL without connecting; raise ``DatabaseError`` naming the problem."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"database URL {url!r} is not a URL (expected e.g. sqlite:///path/chakushin.db "
            "or postgresql+psycopg://user@host/dbname)",
            code="database_url",
            field="database.url",
        ) from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise DatabaseError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: backend "
            f"{parsed.get_backend_name()!r} is not supported (use sqlite or postgresql)",
            code="database_url",
            field="database.url",
        )
    if parsed.get_backend_name() == "postgresql":
        # Plain postgresql:// means psycopg2 to SQLAlchemy, which is not a
        # dependency; the store's engine always speaks psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    parsed = parse_url(url) if isinstance(url, str) else url
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, **kwargs)
        return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
    except NoSuchModuleError as exc:
        raise DatabaseError(f"database driver not available: {exc}", code="database_url") from None


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    if url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait this long for another process's write lock: a burst of classic
        # AGI processes on a busy CPU can hold the queue for seconds.
        cursor.execute("PRAGMA busy_timeout=30000")
        if url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL fsyncs at checkpoints, not at every commit:
            # a crash of the process loses nothing, a power cut may lose the
            # last commits (the notifier then resends, MAIL-10). About 0.7 ms
            # saved per commit here; PostgreSQL is the choice for more.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A writer's transaction takes the write lock at BEGIN (IMMEDIATE): a
        # count-then-insert (the 5/30/30 limits) cannot interleave with
        # another process's, which SQLite has no SELECT ... FOR UPDATE to
        # prevent. Read-only transactions must not queue for that lock: in
        # WAL mode they read a snapshot while one writer writes.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commit if the block returns, roll back if it raises.

    ``read_only`` promises that the block writes nothing, so that on SQLite
    it does not wait for (or hold up) writers.
    """
    with factory() as session, session.begin():
        if read_only:
            session.connection(execution_options={READ_ONLY: True})
        yield session


# --- migrations -----------------------------------------------------------


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("store") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_sqlite_file(engine: Engine) -> None:
    """Refuse a SQLite file that is not a database, before SQLite touches it.

    An empty file (a copy cut short, a full disk) would otherwise be
    migrated silently into an empty database, and a file of something else
    fail on every statement for as long as the process runs. The file is
    left as it is, for the operator to look at or restore.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    path = Path(engine.url.database)
    if not path.exists():
        return  # created on first use
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseError(
            f"database file {path} cannot be read: {exc.strerror or exc}",
            code="database_unavailable",
        ) from None
    if not header:
        raise DatabaseError(
            f"database file {path} is empty (0 bytes), not a chakushin database: restore it "
            "from a backup, or move it away to start with a new one",
            code="database_damaged",
        )
    if header != SQLITE_HEADER:
        raise DatabaseError(
            f"database file {path} is not a SQLite database: restore it from a backup, "
            "or move it away to start with a new one",
            code="database_damaged",
        )


def check_integrity(engine: Engine) -> None:
    """At a node's start: a SQLite file whose pages are damaged is refused (PRAGMA quick_check)."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(**{READ_ONLY: True})
            verdict = conn.exec_driver_sql("PRAGMA quick_check(1)").scalar()
    except sa.exc.DBAPIError as exc:
        verdict = first_line(exc)
    if verdict != "ok":
        raise DatabaseError(
            f"database file {engine.url.database} is damaged ({verdict}): restore it from a backup",
            code="database_damaged",
        )


def current_revision(engine: Engine) -> str | None:
    _check_sqlite_file(engine)
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(**{READ_ONLY: True})
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return None if version is None else str(version)
    except sa.exc.DBAPIError as exc:  # OperationalError, or "file is not a database"
        raise DatabaseError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{first_line(exc)}",
            code="database_unavailable",
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    current_revision(engine)  # a clear error if the database cannot be opened
    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Make sure the schema is current before use.

    A SQLite file (the single-box default) is created and migrated on first
    use. A PostgreSQL database is shared by several nodes, so only an empty
    one is created here; an older schema must be upgraded on purpose with
    ``chakushin db upgrade``.
    """
    current = current_revision(engine)
    if current == HEAD_REVISION:
        return
    head = head_revision(engine)
    if current is not None and not _known_revision(engine, current):
        raise DatabaseError(
            f"database schema is at revision {current}, which this version does not know "
            f"(it needs {head}); was the database made by a newer chakushin?",
            code="database_unknown_revision",
        )
    if current is None or engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise DatabaseError(
        f"database schema is at revision {current}, this version needs {head}: "
        "run `chakushin db upgrade`",
        code="database_outdated",
    )


def _known_revision(engine: Engine, revision: str) -> bool:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(engine))
    return any(script.revision == revision for script in scripts.walk_revisions())


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be used now (down, locked, full)
    rather than that one statement's data is wrong: the first is worth waiting
    for with the work kept; the second will fail the same way every time."""
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, StoreUnavailable)) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    )
