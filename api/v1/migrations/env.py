"""Alembic's environment for the API's own tables (``api_*``): online, on the caller's engine, recorded in
``api_alembic_version``; run through ``api.v1.migrate.create``, which holds the schema lock."""

from __future__ import annotations

from ledger.index.sql.stores import run_environment

run_environment()
