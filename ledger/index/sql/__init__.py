"""The ledger's SQL side: models, migrations and engines for the indexer's database.

The chain is the source of truth; every table here is a projection of its events that the
indexer (``ledger.index.indexer``) can rebuild at any time. SQLite by default, PostgreSQL by URL.
"""

from ledger.index.sql.db import database_url, open_engine, upgrade
from ledger.index.sql.digest import database_digest, table_snapshot

__all__ = ["database_digest", "database_url", "open_engine", "table_snapshot", "upgrade"]
