"""Alembic's environment for the indexer's database: online migrations on the caller's engine."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ledger.index.sql.models import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("ledger.index.sql migrations run through ledger.index.sql.db.upgrade (an engine is needed)")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; use ledger.index.sql.db.upgrade")
run_migrations_online()
