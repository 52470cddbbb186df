"""``scf audit replay --offers``: every signed offer's price recomputed from the chain, the model and the policy.

The checks themselves are ``scoring.price_audit`` (what each one means, and which block an offer
is checked as of); this module gathers what an auditor holds and hands it over:

* **The offers** come from the API's store database (``--store-db URL``), read only, with
  SQLAlchemy: its ``api_offers`` table holds every offer posted to the API with its signed terms
  and the bank's pricing record (policy hash, model version, quote). The store rather than a JSON
  export of ``GET /v1/receivables/pieces/{id}/offers``: that route answers one piece at a time and
  shows each party only its own offers, so an export would be as complete as whoever made it; an
  auditor is given read access to the store (a replica or a backup) and sees every offer. No URL:
  ``SCF_API_DB_URL``, else the database the replay compares (``--db``), else the indexer's
  default, the same place the API keeps its tables by default.
* **The policy files** (``--policy FILE``, repeatable): each offer's is found by its hash; none
  given: the shipped dev bank's. A file that matches no offer is simply unused.
* **The model files**: those ``--scores`` names, else the shipped default and ``SCF_SCORE_MODEL``.
* **The chain**: the logs the replay read (it keeps them when ``--offers`` is given), and the refused
  calls it decoded, so the scorer sees the double-financing flags the API saw.
* **The API's confirmations** (``--confirmations``; else ``SCF_SCORE_CONFIRMATIONS``, else 12): its
  decisions lag its head by that many blocks.

``offer_lines`` prints the result in the replay report's style: a count line, then one line per
finding with its location (offer, piece, bank, block, financing transaction) and field, then the
offers not checked and those whose quote records no as-of block (``[undated]``: made before desks
recorded one; checked as of their pricing time, and not a mismatch on that account).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ledger.audit import Deployment, ReplayResult
    from ledger.eth.chain import Chain
    from scoring.history import RefusedCall
    from scoring.policy import Policy
    from scoring.price_audit import OfferAudit, SignedOffer
    from scoring.scorecard import Model

STORE_URL_ENV = "SCF_API_DB_URL"  # api.v1.settings.STORE_URL_ENV (not imported: it loads the API)
CONFIRMATIONS_ENV = "SCF_SCORE_CONFIRMATIONS"  # api.v1.settings.CONFIRMATIONS_ENV
OFFERS_TABLE = "api_offers"


@dataclass(frozen=True)
class OfferSources:
    """Where ``--offers`` reads from: the store's URL, the policy files and the API's confirmations."""

    store_db: str | None = None  # None or "": SCF_API_DB_URL, else the replay's --db, else the indexer's default
    policies: tuple[Path, ...] = ()  # none: the shipped dev bank's policy
    confirmations: int | None = None  # None: SCF_SCORE_CONFIRMATIONS, else 12


def check_offers(
    chain: Chain,
    deployment: Deployment,
    result: ReplayResult,
    sources: OfferSources,
    *,
    models: Sequence[Model],
    refused: Sequence[RefusedCall] | None,
    db: str | None = None,
) -> OfferAudit:
    """Every offer in the store checked against the replayed chain (``scoring.price_audit.audit_offers``)."""
    from ledger.audit import AuditError
    from scoring.price_audit import LedgerFacts, audit_offers

    policies = load_policies(sources.policies)
    confirmations = _confirmations(sources.confirmations)
    engine = store_engine(sources.store_db, db)
    try:
        offers = read_offers(engine)
    finally:
        engine.dispose()
    try:
        facts = LedgerFacts.read(
            chain,
            deployment.addresses,
            deployment.abis,
            result.report.to_block,
            from_block=deployment.start_block,
            logs=result.logs,
        )
    except Exception as exc:  # a log no ABI explains: the replay has reported it; the offers cannot be checked
        raise AuditError(f"--offers: the chain's logs cannot be read: {exc}") from exc
    return audit_offers(chain, facts, offers, policies, models, refused=refused, confirmations=confirmations)


def load_policies(paths: Sequence[Path]) -> list[Policy]:
    """The policy files given (none: the shipped dev bank's), each validated; a bad one stops the audit."""
    from ledger.audit import AuditError
    from scoring.errors import PolicyError
    from scoring.policy import DEV_BANK, Policy

    try:
        return [Policy.load(path) for path in paths or [DEV_BANK]]
    except PolicyError as exc:
        raise AuditError(f"--policy: {exc}") from exc


def store_engine(store_db: str | None, db: str | None = None) -> Engine:
    """An engine on the API's store (``OfferSources.store_db``'s defaults)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.audit import AuditError
    from ledger.index.sql.db import database_url, make_engine

    url = store_db or os.environ.get(STORE_URL_ENV) or db or None
    try:
        return make_engine(database_url(url))
    except SQLAlchemyError as exc:
        raise AuditError(f"--store-db {url!r} is not a database URL SQLAlchemy can open: {exc}") from exc


def read_offers(engine: Engine) -> list[SignedOffer]:
    """Every offer in the store, oldest first, with its pricing record (a store from before the API recorded
    pricing has none: its offers are unchecked, not mismatched)."""
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from api.v1 import store
    from ledger.audit import AuditError
    from scoring.price_audit import SignedOffer

    where = engine.url.render_as_string(hide_password=True)
    try:
        if not inspect(engine).has_table(OFFERS_TABLE):
            raise AuditError(f"--offers: {where} has no {OFFERS_TABLE} table: not the API's store (--store-db)")
        present = {c["name"] for c in inspect(engine).get_columns(OFFERS_TABLE)}
        table = store.offers
        columns = [c for c in table.c if c.name in present]
        with engine.connect() as connection:
            rows = connection.execute(select(*columns).order_by(table.c.created_at, table.c.id)).mappings().all()
    except SQLAlchemyError as exc:
        raise AuditError(f"--offers: cannot read the offers of {where}: {exc}") from exc
    return [SignedOffer.of_row(row) for row in rows]


def offer_lines(audited: OfferAudit, limit: int | None = None) -> list[str]:
    """The offers' part of the printed report: counts, each finding with its location, what was not checked."""
    accepted = len(audited.accepted)
    undated = f", {len(audited.undated)} with no as-of block recorded" if audited.undated else ""
    lines = [
        f"signed offers: {audited.checked} recomputed from the chain ({accepted} accepted on chain), "
        f"{audited.differ} differ, {len(audited.unchecked)} not checked{undated}"
    ]
    lines += [f"  [offer] {finding}" for finding in audited.mismatches[:limit]]
    lines += [f"  [unpriced] {finding}" for finding in audited.unchecked[:limit]]
    lines += [f"  [undated] {finding}" for finding in audited.undated[:limit]]
    lines += [f"  note: {note}" for note in audited.notes]
    return lines


def _confirmations(given: int | None) -> int:
    from ledger.audit import AuditError
    from scoring.price_audit import DEFAULT_CONFIRMATIONS

    if given is not None:
        return given
    text = os.environ.get(CONFIRMATIONS_ENV)
    if not text:
        return DEFAULT_CONFIRMATIONS
    if not text.isdigit():
        raise AuditError(f"{CONFIRMATIONS_ENV} must be a whole number of blocks, got {text!r}")
    return int(text)
