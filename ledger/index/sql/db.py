"""Engines for the indexer's database: the URL, SQLite's settings, Alembic's upgrade to head.

The URL comes from the caller, else ``SCF_DB_URL``, else a SQLite file ``ledger.db`` in the
devnet's run folder. ``postgresql://`` (and ``postgres://``) URLs get the psycopg 3 driver.
SQLite runs in WAL mode (readers never block the indexer) with ``synchronous=NORMAL`` (a
killed process loses nothing committed; a power failure may lose the last commits, never half
of one), a 64 MB page cache, and
every transaction starts with an explicit BEGIN, so reads inside a transaction see one
snapshot and a transaction's writes commit together or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from ledger import paths

URL_ENV = "SCF_DB_URL"
DEFAULT_FILE = "ledger.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: WAL pages (4 KiB) after which a commit checkpoints (the indexer checkpoints in a thread instead).
WAL_CHECKPOINT_PAGES = 16_384


def database_url(url: str | None = None) -> str:
    """``url``, else ``SCF_DB_URL``, else ``sqlite:///<devnet run dir>/ledger.db``; drivers filled in."""
    chosen = url or os.environ.get(URL_ENV) or f"sqlite:///{paths.devnet_run_dir() / DEFAULT_FILE}"
    for prefix in ("postgresql://", "postgres://"):
        if chosen.startswith(prefix):
            return "postgresql+psycopg://" + chosen[len(prefix) :]
    return chosen


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str | None = None) -> Engine:
    """An engine on ``url`` (see ``database_url``), without touching the schema."""
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is None:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(connection: Any, _record: Any) -> None:
        connection.isolation_level = None  # no implicit transactions: SQLAlchemy's BEGIN below
        cursor = connection.cursor()
        if path is not None:
            cursor.execute("PRAGMA journal_mode=WAL")
            # Checkpoint the WAL into the database every ~64 MB rather than every 4 MB.
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MB: a page of events fits without spilling
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration, built in code: the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)


def open_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """An engine on ``url`` with the schema upgraded to the newest migration (unless ``migrate`` is False)."""
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return engine
