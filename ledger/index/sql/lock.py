"""One writer per database: the indexer holds a lock for its whole life.

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own,
  named ``scf index (pid N on host)`` so that a second indexer can say who holds it.
* SQLite: an exclusive ``flock`` on ``<database file>.lock``, in which the holder writes its
  pid, host and start time. The kernel drops it when the process ends, even by kill -9.

A second indexer gets ``DatabaseLocked`` naming the holder. Other databases (and in-memory
SQLite, private to its process) are not locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, text

from ledger.errors import LedgerError
from ledger.index.sql.db import sqlite_path

#: The advisory lock key of the indexer (a constant: one indexer per database).
ADVISORY_KEY = 0x5CF1DE0 << 16 | 0x1DE


class DatabaseLocked(LedgerError):
    """Another indexer writes to this database; ``holder`` says which one."""

    def __init__(self, database: str, holder: str) -> None:
        self.database = database
        self.holder = holder
        super().__init__(f"another indexer is writing to {database}: {holder}; only one indexer may run per database")


def _me() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class DatabaseLock:
    """The writer's lock on ``engine``'s database; ``acquire`` raises ``DatabaseLocked`` when taken."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.database = engine.url.render_as_string(hide_password=True)
        self._file: IO[str] | None = None
        self._connection: Connection | None = None

    @property
    def held(self) -> bool:
        return self._file is not None or self._connection is not None

    def acquire(self) -> DatabaseLock:
        if self.held:
            return self
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            self._acquire_advisory()
        elif dialect == "sqlite":
            path = sqlite_path(self.database)
            if path is not None:
                self._acquire_file(path.with_name(path.name + ".lock"))
        return self

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        if self._file is not None:
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()

    # -- SQLite: a lock file --------------------------------------------------------------------

    def _acquire_file(self, path: Path) -> None:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            said = handle.read().strip()
            handle.close()
            try:
                holder = json.loads(said)
                who = f"pid {holder['pid']} on {holder['host']} since {holder['since']}"
            except (ValueError, KeyError, TypeError):
                who = "a process that did not say who it is"
            raise DatabaseLocked(self.database, f"{who} (lock file {path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_me()) + "\n")
        handle.flush()
        self._file = handle

    # -- PostgreSQL: a session advisory lock ------------------------------------------------------

    def _acquire_advisory(self) -> None:
        me = _me()
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            name = f"scf index (pid {me['pid']} on {me['host']} since {me['since']})"
            connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name[:63]})
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
            if not taken:
                raise DatabaseLocked(self.database, self._advisory_holder(connection))
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    @staticmethod
    def _advisory_holder(connection: Connection) -> str:
        row = connection.execute(
            text(
                "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :high AND l.objid = :low "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"high": ADVISORY_KEY >> 32, "low": ADVISORY_KEY & 0xFFFFFFFF},
        ).first()
        if row is None:
            return "a session that has just let go (try again)"
        pid, application, address, started = row
        return f"{application or 'a session'} (server pid {pid}, client {address or 'local'}, connected {started})"
