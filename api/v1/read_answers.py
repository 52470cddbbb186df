"""The hot reads' answers as JSON bytes: ``GET /v1/orders``, ``/v1/orders/{id}``, ``/v1/receivables/{id}``, a member.

What ``api.v1.reads`` answers with models, made cheaper without changing a byte:

* their SQL is ``api.v1.rawsql``'s: the same Core statements (``Reads``' visibility rules, written
  once here with ``bindparam`` names) compiled once and run on a pooled DBAPI connection;
* an answer (or a page's item) is made by the response model itself, validated as before, and its
  JSON bytes are kept in ``Answers`` under the exact driver rows it was made from: the same rows
  give the same bytes, so a row that changes (its ``updated_block``, a new milestone, a new piece)
  is a new key and never meets a stale answer. A page is its items' bytes joined as pydantic joins
  them (``{"items":[...],"nextAfter":...}``, compact);
* the routes hand the bytes to FastAPI as the ``Response`` it would have built from the model
  (``application/json``), so the model is not validated and serialised again per request.

A party's page of orders (``orders_page``, also what ``Reads.orders`` runs) reads indexes, not the table. "Its
buyer, supplier or guarantor" as one ``OR`` leaves SQLite and PostgreSQL one way to keep ``order_id`` order: walk
the primary key from ``after`` and test every order, the whole chain's orders for a party in few of them. So each
role is its own arm, ``ORDER BY order_id LIMIT n`` on that role's ``(chain_id, role, order_id)`` index (an
arbiter's disputed orders are one more arm, walking ``disputes``' primary key); the page is the first ``n`` ids of
their ``UNION`` (an order in two roles is one id), and only then are those orders' columns read, by primary key.
The status filter sits inside every arm, so no arm's ``LIMIT`` drops an order the page needs: each of the page's
``n`` orders is among the first ``n`` of some arm. Same rows, same order, same cursor as the ``OR``
(``tests/api/v1/test_order_pages.py`` compares them); its cost is a page of each arm, whatever the chain's size.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Response
from sqlalchemy import Integer, Select, String, and_, bindparam, or_, select, union
from sqlalchemy.sql import ColumnElement

from api.v1 import store
from api.v1.rawsql import Prepared
from ledger.index.sql.models import Dispute, Milestone, Order, Piece, Root
from ledger.index.sql.models import Party as Member

#: Answers one process keeps, about 1-2 KB each with their key (a bound, not a working set: a full cache starts
#: again empty).
KEEP = 10_000

ORDER_COLUMNS = (
    Order.order_id,
    Order.buyer,
    Order.supplier,
    Order.token,
    Order.amount,
    Order.ship_by,
    Order.deliver_by,
    Order.inspection_required,
    Order.terms_hash,
    Order.po_ref_hash,
    Order.open_account,
    Order.status,
    Order.created_at,
    Order.funded_at,
    Order.shipped_at,
    Order.delivered_at,
    Order.closed_at,
    Order.escrowed,
    Order.prepaid,
    Order.paid_to_supplier,
    Order.refunded_to_buyer,
    Order.updated_block,
)
ROOT_COLUMNS = (
    Root.root_id,
    Root.debtor,
    Root.creditor,
    Root.token,
    Root.face_value,
    Root.maturity,
    Root.issued_at,
    Root.defaulted_at,
    Root.invoice_hash,
    Root.fingerprint,
    Root.invoice_commitment,
    Root.order_id,
    Root.repaid,
    Root.claimed,
    Root.status,
    Root.updated_block,
)
CHAIN = bindparam("chain_id", type_=Integer)
PARTY = bindparam("party", type_=String)


class Answers:
    """JSON bytes keyed by what they are made from (a kind and the driver's rows), bounded by ``keep``."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._found: dict[Hashable, bytes] = {}

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        try:
            found = self._found.get(key)
        except TypeError:  # a driver value that is not hashable (PostgreSQL's JSONB as a list): made each time
            return make()
        if found is None:
            if len(self._found) >= self.keep:
                self._found.clear()
            found = self._found[key] = make()
        return found


def order_visible(kind: str) -> ColumnElement[bool]:
    """Who sees an order (``api.v1.reads``): its buyer, supplier or guarantor, and arbiters once it is disputed."""
    clauses = [Order.buyer == PARTY, Order.supplier == PARTY, Order.guarantor == PARTY]
    if kind == "arbiter":
        clauses.append(Order.order_id.in_(select(Dispute.order_id).where(Dispute.chain_id == CHAIN)))
    return or_(*clauses)


def orders_page(
    kind: str, chain: Any, after: Any, limit: Any, party: Any, status: Any = None
) -> Select[*tuple[Any, ...]]:
    """The first ``limit`` orders after ``after`` that ``party`` of ``kind`` sees (with ``status`` unless None), in
    order id order: ``ORDER_COLUMNS``, one arm per role (see the module notes). The values are plain (``Reads``) or
    ``bindparam``s (the prepared statements)."""
    where = [Order.chain_id == chain, Order.order_id > after]
    if status is not None:
        where.append(Order.status == status)
    if kind == "auditor":
        return select(*ORDER_COLUMNS).where(*where).order_by(Order.order_id).limit(limit)
    arms = [
        select(Order.order_id).where(*where, role == party).order_by(Order.order_id).limit(limit)
        for role in (Order.buyer, Order.supplier, Order.guarantor)
    ]
    if kind == "arbiter":
        # Led by disputes (their key is (chain_id, order_id)): the disputed orders, not every order, are walked.
        disputed = and_(Order.chain_id == Dispute.chain_id, Order.order_id == Dispute.order_id)
        arms.append(
            select(Dispute.order_id)
            .join(Order, disputed)
            .where(Dispute.chain_id == chain, Dispute.order_id > after, *where)
            .order_by(Dispute.order_id)
            .limit(limit)
        )
    # SQLite takes no LIMIT in a compound's arm: each is a subquery of its own. The page's ids are chosen before
    # any row is read, so only the page's own rows are (not every arm's).
    ids = union(*(select(arm.subquery().c.order_id) for arm in arms)).subquery("visible")
    page = select(ids.c.order_id).order_by(ids.c.order_id).limit(limit).subquery("page")
    return (
        select(*ORDER_COLUMNS)
        .join(page, Order.order_id == page.c.order_id)
        .where(Order.chain_id == chain)
        .order_by(Order.order_id)
    )


def _orders(kind: str, status: bool) -> Prepared:
    after, limit = bindparam("after", type_=Integer), bindparam("limit", type_=Integer)
    return Prepared(
        orders_page(kind, CHAIN, after, limit, PARTY, bindparam("status", type_=String) if status else None)
    )


def _order(kind: str) -> Prepared:
    query = select(*ORDER_COLUMNS).where(Order.chain_id == CHAIN, Order.order_id == bindparam("order_id"))
    if kind != "auditor":
        query = query.where(order_visible(kind))
    return Prepared(query)


#: Keyed by who asks: an auditor (sees all), an arbiter (also disputed orders) or any other party.
KINDS = ("auditor", "arbiter", "party")
ORDERS = {(kind, status): _orders(kind, status) for kind in KINDS for status in (False, True)}
ORDER = {kind: _order(kind) for kind in KINDS}
MILESTONES = Prepared(
    select(
        Milestone.milestone,
        Milestone.name,
        Milestone.occurred_at,
        Milestone.recorded_at,
        Milestone.evidence_hash,
        Milestone.signers,
        Milestone.status_after,
        Milestone.tx_hash,
    )
    .where(Milestone.chain_id == CHAIN, Milestone.order_id == bindparam("order_id"))
    .order_by(Milestone.milestone)
)
DISPUTE = Prepared(
    select(
        Dispute.opened_at,
        Dispute.answer_by,
        Dispute.resolve_by,
        Dispute.answered,
        Dispute.reason_hash,
        Dispute.response_hash,
        Dispute.resolved_at,
        Dispute.resolution,
        Dispute.to_buyer,
        Dispute.to_supplier,
    ).where(Dispute.chain_id == CHAIN, Dispute.order_id == bindparam("order_id"))
)
#: A root by id with no visibility rule: only for parties who see every root (auditors).
ROOT = Prepared(select(*ROOT_COLUMNS).where(Root.chain_id == CHAIN, Root.root_id == bindparam("root_id")))
#: A tree's pieces, unordered: ordered by piece id, SQLite would walk the primary key over every piece of the
#: chain instead of using the (chain_id, root_id) index (``tree`` sorts them).
TREE = Prepared(
    select(
        Piece.piece_id,
        Piece.root_id,
        Piece.parent_id,
        Piece.amount,
        Piece.claimed,
        Piece.ref,
        Piece.child_count,
        Piece.financed,
        Piece.holder,
        Piece.created_at,
        Piece.updated_block,
    ).where(Piece.chain_id == CHAIN, Piece.root_id == bindparam("root_id"))
)
MEMBER = Prepared(
    select(
        Member.address,
        Member.roles,
        Member.oracle_kind,
        Member.status,
        Member.kyc_hash,
        Member.admitted_at,
        Member.updated_block,
    ).where(Member.chain_id == CHAIN, Member.address == bindparam("address"))
)
REVOKED = Prepared(
    select(store.revoked_tokens.c.token_id).where(store.revoked_tokens.c.token_id == bindparam("token_id"))
)


def tree(rows: list[Any]) -> list[Any]:
    """``TREE``'s rows in piece id order (its first column), parents first."""
    return sorted(rows, key=lambda row: row[0])


def page(items: list[bytes], next_after: int | None) -> bytes:
    """A keyset page's JSON as pydantic writes ``{items, nextAfter}`` (``nextAfter`` a decimal string or null)."""
    cursor = b"null" if next_after is None else b'"%d"' % next_after
    return b'{"items":[' + b",".join(items) + b'],"nextAfter":' + cursor + b"}"


def kind_of(auditor: bool, arbiter: bool) -> str:
    return "auditor" if auditor else "arbiter" if arbiter else "party"


def dump(model: Any) -> bytes:
    """A response model's JSON as FastAPI writes it (pydantic's compact JSON, by alias)."""
    data: bytes = model.__pydantic_serializer__.to_json(model, by_alias=True)
    return data


def response(body: bytes) -> Response:
    """The answer FastAPI builds from a route's model (status 200, ``application/json``), from its bytes."""
    return Response(content=body, media_type="application/json")
