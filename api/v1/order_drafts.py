"""Order drafts: how a purchase order gets its second signature without either side mailing typed data.

An order on chain needs both the buyer's and the supplier's EIP-712 signature over the same terms
(``TradeEscrow.createOrder``). One side drafts: it posts the terms with its own signature, which the
API checks against the typed data it serves for those terms (``POST /v1/orders/drafts``). The other
side finds the draft waiting for it (``GET /v1/orders/drafts``), signs the same typed data in its
wallet, and creates the order with both signatures through ``POST /v1/orders`` as before: the draft
never holds a key and never sends anything, it only keeps the first signature where the counterparty
can read it. A draft is seen by its two sides only (404 for anyone else, as for orders).

A draft's state is derived, never stored, so it cannot go stale: ``created`` once the index holds an
order with its purchase-order reference hash (the contract refuses a second order with that
reference), ``withdrawn`` once its drafter withdrew it, ``expired`` once the signatures' deadline has
passed by the ledger's clock (``FinancingBook.now``: a devnet's chain runs ahead of the wall), else
``awaiting``, naming the side whose signature is missing. One draft per terms digest: drafting the
same terms again answers the draft already made.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Index, String, Table, Text, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, Forbidden, NotFound
from api.v1 import store
from api.v1.auth import Party
from ledger.index.sql.models import Order

order_drafts = Table(
    "api_order_drafts",
    store.metadata,
    Column("id", String(36), primary_key=True),
    Column("digest", String(66), nullable=False, unique=True),  # the EIP-712 digest of the terms
    Column("buyer", store.ADDRESS, nullable=False),
    Column("supplier", store.ADDRESS, nullable=False),
    Column("drafter", store.ADDRESS, nullable=False),
    Column("po_ref_hash", String(66), nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("terms", Text, nullable=False),  # OrderTermsIn as JSON, integers as decimal strings
    Column("signature", store.SIGNATURE, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("withdrawn_at", BigInteger),
    Index(None, "buyer"),
    Index(None, "supplier"),
)


@dataclass(frozen=True)
class Draft:
    id: str
    digest: str
    buyer: str
    supplier: str
    drafter: str
    terms: dict[str, Any]
    signature: str
    created_at: int
    withdrawn_at: int | None
    state: str
    awaiting: str | None
    order_id: int | None


class DraftBook:
    """Drafts in the API's store; their orders read from the index (one chain)."""

    def __init__(self, *, store_engine: Engine, index: Engine, chain_id: int) -> None:
        self.store = store_engine
        self.index = index
        self.chain_id = chain_id

    def draft(
        self, party: Party, terms: dict[str, Any], signature: str, digest: str, po_ref_hash: str, now: int
    ) -> Draft:
        """Keep ``party``'s signed terms for the other side (the signature already checked by the caller)."""
        row = {
            "id": str(uuid.uuid4()),
            "digest": digest,
            "buyer": terms["buyer"],
            "supplier": terms["supplier"],
            "drafter": party.address,
            "po_ref_hash": po_ref_hash,
            "deadline": int(terms["deadline"]),
            "terms": json.dumps(terms, sort_keys=True),
            "signature": signature,
            "created_at": now,
            "withdrawn_at": None,
        }
        try:
            with self.store.begin() as connection:
                connection.execute(insert(order_drafts).values(**row))
        except IntegrityError:
            pass  # the same terms drafted before: answer that draft
        found = self._row_by_digest(digest)
        if found is None:  # pragma: no cover - the insert or an earlier one made it
            raise Conflict("order_draft_lost", "the draft could not be stored; try again")
        return self._of(found, now)

    def _row_by_digest(self, digest: str) -> Any:
        with self.store.connect() as connection:
            return connection.execute(select(order_drafts).where(order_drafts.c.digest == digest)).one_or_none()

    def list(self, party: Party, now: int, *, limit: int = 200) -> list[Draft]:
        """The drafts ``party`` is a side of, newest first (an auditor's: all)."""
        query = select(order_drafts)
        if not party.auditor:
            query = query.where(or_(order_drafts.c.buyer == party.address, order_drafts.c.supplier == party.address))
        with self.store.connect() as connection:
            rows = connection.execute(query.order_by(order_drafts.c.created_at.desc()).limit(limit)).all()
        created = self._orders({row.po_ref_hash for row in rows})
        return [self._of(row, now, created) for row in rows]

    def get(self, party: Party, draft_id: str, now: int) -> Draft:
        with self.store.connect() as connection:
            row = connection.execute(select(order_drafts).where(order_drafts.c.id == draft_id)).one_or_none()
        if row is None or not (party.auditor or party.address in (row.buyer, row.supplier)):
            raise NotFound("order draft", draft_id)
        return self._of(row, now)

    def withdraw(self, party: Party, draft_id: str, now: int) -> Draft:
        draft = self.get(party, draft_id, now)
        if party.address != draft.drafter:
            raise Forbidden(party.address, "withdraw this draft", f"only its drafter {draft.drafter} may")
        if draft.state == "created":
            raise Conflict("order_draft_created", f"the order of draft {draft_id} is on chain: nothing to withdraw")
        with self.store.begin() as connection:
            connection.execute(
                update(order_drafts)
                .where(order_drafts.c.id == draft_id, order_drafts.c.withdrawn_at.is_(None))
                .values(withdrawn_at=now)
            )
        return self.get(party, draft_id, now)

    def _orders(self, po_ref_hashes: set[str]) -> dict[str, int]:
        if not po_ref_hashes:
            return {}
        with self.index.connect() as connection:
            rows = connection.execute(
                select(Order.po_ref_hash, Order.order_id).where(
                    Order.chain_id == self.chain_id, Order.po_ref_hash.in_(sorted(po_ref_hashes))
                )
            ).all()
        return {str(h): int(order_id) for h, order_id in rows}

    def _of(self, row: Any, now: int, created: dict[str, int] | None = None) -> Draft:
        orders = self._orders({row.po_ref_hash}) if created is None else created
        order_id = orders.get(row.po_ref_hash)
        awaiting: str | None = None
        if order_id is not None:
            state = "created"
        elif row.withdrawn_at is not None:
            state = "withdrawn"
        elif int(row.deadline) <= now:
            state = "expired"
        else:
            state = "awaiting"
            awaiting = row.supplier if row.drafter == row.buyer else row.buyer
        return Draft(
            id=row.id,
            digest=row.digest,
            buyer=row.buyer,
            supplier=row.supplier,
            drafter=row.drafter,
            terms=json.loads(row.terms),
            signature=row.signature,
            created_at=int(row.created_at),
            withdrawn_at=None if row.withdrawn_at is None else int(row.withdrawn_at),
            state=state,
            awaiting=awaiting,
            order_id=order_id,
        )
