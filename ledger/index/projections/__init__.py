"""Projections: what the ledger's events mean, as rows of the tables the scorer and the API query.

Handlers follow the contracts' own rules (see contracts/*.sol), so that a row equals what the
contract's view answers: an order row equals ``orderOf`` (less the signature deadline, which
no event carries), a piece row ``pieceOf`` and ``ownerOf``, a pool row ``pool``, and so on.
Each row depends only on the events that touch it, which is what makes ``rebuild`` (after a
reorg: replay only the events that touch the affected rows) exact.

Projections are complete when indexing starts at the contracts' deployment; an update for a
row that was never created (indexing from a later block) is skipped.

The package:

* ``projector``: the machinery: ``Event``, the handler registry (``on``, ``touches``,
  ``handled``), the tables (``STATEFUL``, ``FACTS``), one page of changes in memory (``Page``)
  and the ``Projector`` that applies pages and rebuilds rows;
* ``bulk``: the SQL of reading rows by key and writing them back in bulk, straight to the
  driver on SQLite;
* the handlers, a module per contract or part of one: ``parties`` (Membership, SettlementToken,
  CreditRegistry), ``settings`` (every contract's), ``orders`` (TradeEscrow's orders and
  disputes), ``guarantees`` (TradeEscrow's assured pre-payment, guarantees and pools),
  ``receivables`` (Receivables).

Handlers register themselves (``on``) when their module is imported. This ``__init__`` imports
every handler module, and Python runs it before any module of the package, so whoever uses the
registry (``Projector``, ``touches``, ``handled``) sees every handler: no event silently loses its
handler for want of an import.
"""

from __future__ import annotations

from ledger.index.projections import guarantees, orders, parties, receivables, settings
from ledger.index.projections.bulk import Key, Projection, Row, bulk_upsert
from ledger.index.projections.orders import MILESTONE, ORDER_STATUS, RESOLVED_BY_ARBITER, RESOLVED_BY_SETTLEMENT
from ledger.index.projections.parties import MEMBER_STATUS
from ledger.index.projections.projector import FACTS, HANDLERS, STATEFUL, Event, Projector, Touch, handled, touches

#: The modules whose handlers register themselves when imported: all of them, imported above.
HANDLER_MODULES = (parties, settings, orders, guarantees, receivables)

__all__ = [
    "FACTS",
    "HANDLERS",
    "HANDLER_MODULES",
    "MEMBER_STATUS",
    "MILESTONE",
    "ORDER_STATUS",
    "RESOLVED_BY_ARBITER",
    "RESOLVED_BY_SETTLEMENT",
    "STATEFUL",
    "Event",
    "Key",
    "Projection",
    "Projector",
    "Row",
    "Touch",
    "bulk_upsert",
    "handled",
    "touches",
]
