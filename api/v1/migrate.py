"""The API's own tables (``api_*``) under Alembic: a history of their own (``api/v1/migrations``), recorded in
``api_alembic_version``, beside the indexer's (``alembic_version``) in the database they share by default.

``create(engine)`` runs at every start (``create_app``; ``scf serve --workers`` once in the parent, then each
worker finds the store at head): it brings the store to the newest revision under the store's schema lock
(``ledger.index.sql.stores``), so several processes starting on one database at once migrate it once, the others
waiting and then finding nothing to do.

**The baseline is today's store.** Revision 0001 creates every table as the last numbered step of the old
mechanism left them (``api_schema_version`` 5; ``api.v1.migrations.baseline`` freezes their declarations). The
old steps are not replayed as revisions because the versions they recorded were never schemas: each start ran
``create_all`` first, so a store at version 2 holds whatever tables the code of its day declared, which no
revision could name. What every old store has in common is that it lacks nothing but tables, nullable columns
and named indexes (all the old steps ever added). So a database with the store's tables and no
``api_alembic_version`` (it has ``api_schema_version`` rows, or predates them) is *adopted*: the missing
tables, columns and indexes of the baseline are added (the old steps 1 to 5, and any table ``create_all`` would
have made), 0001 is stamped, and the later revisions run as on any database. ``api_schema_version`` is left as
it was: the history of the old steps, read by nobody now.

**A change to the tables is a revision.** A new table, column or index declared in ``api.v1.store`` (or on its
metadata elsewhere, as ``api.v1.declines`` and ``api.v1.order_drafts`` do) needs a revision in
``api/v1/migrations/versions`` that makes it (``alembic.command.revision(STORE.config(engine), message,
autogenerate=True)`` on a database at head drafts it from the difference); ``tests/api/v1/test_store_migrations.py``
fails while the migrated tables and the declared ones differ. Revisions use Alembic's operations
(``op.add_column``, ``op.batch_alter_table`` for SQLite's table rebuilds), so type changes, drops and backfills
are possible now; downgrades are not supported.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import Engine, MetaData

from api.v1 import store
from api.v1.migrations import baseline
from ledger.index.sql.stores import Store


def declared() -> MetaData:
    """The store's metadata with every table the API declares on it (the app imports every module that does)."""
    importlib.import_module("api.v1.app")
    return store.metadata


STORE = Store(
    name="api",
    migrations=Path(__file__).resolve().parent / "migrations",
    version_table="api_alembic_version",
    baseline_revision="0001",
    baseline=baseline.tables,
    target=declared,
)


def head() -> str:
    """The newest revision of the store's history."""
    return STORE.head()


def current(engine: Engine) -> str | None:
    """The revision this database's store is at (None: no Alembic history yet)."""
    return STORE.current(engine)


def create(engine: Engine) -> None:
    """Bring the API's tables on ``engine`` to the newest revision: a new store gets every revision, one made
    before the Alembic history is adopted and stamped at the baseline first (see above)."""
    STORE.upgrade(engine)
