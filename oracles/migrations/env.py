"""Alembic's environment for the oracle services' store (``oracle_*``, ``aggregator_*``): online, on the caller's
engine, recorded in ``oracle_alembic_version``; run through ``oracles.store.open_database``."""

from __future__ import annotations

from ledger.index.sql.stores import run_environment

run_environment()
