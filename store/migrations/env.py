"""Alembic environment: the engine comes from ``store.db.alembic_config``.

On SQLite, a migration that changes a column (batch mode) copies the table
to a new one and drops the old. With foreign keys enforced, dropping a
parent table such as ``number`` deletes every row that refers to it
(ON DELETE CASCADE): each number's settings, addresses and lists would be
lost by an upgrade (issue 17's 0014 widens ``number.endpoint``). So they
are not enforced while migrations run; afterwards the database is checked
(``PRAGMA foreign_key_check``) before the transaction commits, and the
connection gets them back before it returns to the pool.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

from store.models import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Outside any transaction (the PRAGMA is a no-op inside one): the
        # connection has not begun yet, and pysqlite is in autocommit mode.
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
