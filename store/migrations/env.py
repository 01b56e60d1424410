"""Alembic environment: the engine comes from ``store.db.alembic_config``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Engine

from store.models import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
