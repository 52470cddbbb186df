"""Reads from the indexer's SQL projection, filtered per party (commercial privacy).

Who sees what:

* an **auditor** (AUDITOR or ADMIN on chain, or configured) sees everything, read-only;
* an **order** is seen by its buyer and its supplier, by the bank that guaranteed a
  pre-payment on it, and, once it is disputed, by arbiters;
* a **receivable** (the root) is seen by its debtor and creditor, and by any party that holds
  a piece of its tree, financed one, sold one to a bank, or was asked to finance one (a financing request to it, or
  to every bank when it is a bank, that its holder has not withdrawn: ``api.v1.financing``);
* inside a tree, the debtor, the creditor and auditors see every piece; any other party sees
  the pieces it holds, financed, sold (its books keep the sale and the offers it took) or was
  offered, the children of pieces it holds (it made
  them), and the path from those up to the root: a tier-3 supplier sees what its claim
  rests on, not what its tier-2 peers hold.

Anything a party may not see answers exactly like something that does not exist (404), so
ids cannot be probed. Lists are keyset-paginated by id (``after``, ``limit``). A party's pages of orders and of
receivables are a ``UNION`` of one arm per way of seeing a row, each read from ``after`` on its own index and
limited (``api.v1.read_answers``' notes): their cost is a page, not the chain's rows from ``after`` on; the trees a
party touched are such arms too (the pieces it holds, bought, sold, by root id), so a bank in every tree reads a page
of them, not all of them. A party's credit history is a range of a partial index of the registry's events.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Integer, String, and_, bindparam, or_, select, text, union

from api.errors import NotFound
from api.v1 import rawsql
from api.v1 import read_answers as answers
from api.v1.auth import Party
from api.v1.financing import FinancingBook
from api.v1.schemas import (
    DisputeOut,
    MemberOut,
    MilestoneOut,
    OrderDetailOut,
    OrderOut,
    PieceOut,
    ReceivableDetailOut,
    ReceivableOut,
)
from ledger.index.sql.models import (
    CREDIT_EVENTS_WHERE,
    CreditLimit,
    Dispute,
    Event,
    Financing,
    Milestone,
    Order,
    Piece,
    Root,
)
from ledger.index.sql.models import Party as Member

MAX_PAGE = 200
LIMIT_EVENTS = ("LimitPublished", "LimitRevoked")
ZERO = "0x" + "00" * 20


def member_out(row: Any) -> MemberOut:
    from api.v1.auth import role_names

    return MemberOut(
        address=row.address,
        roles=role_names(row.roles),
        oracleKind=row.oracle_kind,
        status=row.status,
        kycHash=row.kyc_hash,
        admittedAt=row.admitted_at,
        updatedBlock=row.updated_block,
    )


def order_out(row: Any) -> dict[str, Any]:
    return {
        "orderId": row.order_id,
        "buyer": row.buyer,
        "supplier": row.supplier,
        "token": row.token,
        "amount": str(row.amount),
        "shipBy": row.ship_by,
        "deliverBy": row.deliver_by,
        "inspectionRequired": row.inspection_required,
        "termsHash": row.terms_hash,
        "poRefHash": row.po_ref_hash,
        "openAccount": row.open_account,
        "status": row.status,
        "createdAt": row.created_at,
        "fundedAt": row.funded_at,
        "shippedAt": row.shipped_at,
        "deliveredAt": row.delivered_at,
        "closedAt": row.closed_at,
        "escrowed": str(row.escrowed),
        "prepaid": str(row.prepaid),
        "paidToSupplier": str(row.paid_to_supplier),
        "refundedToBuyer": str(row.refunded_to_buyer),
        "updatedBlock": row.updated_block,
    }


def root_out(row: Any) -> dict[str, Any]:
    return {
        "rootId": row.root_id,
        "debtor": row.debtor,
        "creditor": row.creditor,
        "token": row.token,
        "faceValue": str(row.face_value),
        "maturity": row.maturity,
        "issuedAt": row.issued_at,
        "defaultedAt": row.defaulted_at,
        "invoiceHash": row.invoice_hash,
        "fingerprint": row.fingerprint,
        "invoiceCommitment": row.invoice_commitment,
        "orderId": row.order_id,
        "repaid": str(row.repaid),
        "claimed": str(row.claimed),
        "status": row.status,
        "updatedBlock": row.updated_block,
    }


def piece_out(row: Any) -> PieceOut:
    return PieceOut(
        pieceId=row.piece_id,
        rootId=row.root_id,
        parentId=row.parent_id,
        amount=str(row.amount),
        claimed=str(row.claimed),
        ref=row.ref,
        childCount=row.child_count,
        financed=row.financed,
        holder=row.holder,
        createdAt=row.created_at,
        updatedBlock=row.updated_block,
    )


def order_detail(order: Any, milestones: Sequence[Any], dispute: Any | None) -> OrderDetailOut:
    """An order's answer from its row, its milestones' rows (in order) and its dispute's row (or None)."""
    return OrderDetailOut(
        **order_out(order),
        milestones=[
            MilestoneOut(
                milestone=m.milestone,
                name=m.name,
                occurredAt=m.occurred_at,
                recordedAt=m.recorded_at,
                evidenceHash=m.evidence_hash,
                signers=list(m.signers),
                statusAfter=m.status_after,
                txHash=m.tx_hash,
            )
            for m in milestones
        ],
        dispute=None
        if dispute is None
        else DisputeOut(
            openedAt=dispute.opened_at,
            answerBy=dispute.answer_by,
            resolveBy=dispute.resolve_by,
            answered=dispute.answered,
            reasonHash=dispute.reason_hash,
            responseHash=dispute.response_hash,
            resolvedAt=dispute.resolved_at,
            resolution=dispute.resolution,
            toBuyer=None if dispute.to_buyer is None else str(dispute.to_buyer),
            toSupplier=None if dispute.to_supplier is None else str(dispute.to_supplier),
        ),
    )


class Reads:
    """Per-party reads over ``engine`` (the projection) and ``store_engine`` (financing requests)."""

    def __init__(self, engine: Engine, store_engine: Engine, chain_id: int) -> None:
        self.engine = engine
        self.store = store_engine
        self.chain_id = chain_id
        self.financing = FinancingBook(engine, store_engine, chain_id)
        self.answers = answers.Answers()

    # -- parties ---------------------------------------------------------------------------

    def members(self, after: str | None, limit: int) -> list[MemberOut]:
        """Membership is public to members: a party needs its counterparties' addresses and roles."""
        query = select(Member).where(Member.chain_id == self.chain_id)
        if after:
            query = query.where(Member.address > after)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(Member.address).limit(min(limit, MAX_PAGE))).all()
        return [member_out(row) for row in rows]

    def member_or_none(self, address: str) -> MemberOut | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Member).where(Member.chain_id == self.chain_id, Member.address == address)
            ).one_or_none()
        return None if row is None else member_out(row)

    def member(self, address: str) -> MemberOut:
        found = self.member_or_none(address)
        if found is None:
            raise NotFound("party", address)
        return found

    # -- orders ----------------------------------------------------------------------------

    def _order_visible(self, party: Party) -> Any:
        clauses = [Order.buyer == party.address, Order.supplier == party.address, Order.guarantor == party.address]
        if party.has("arbiter"):
            disputed = select(Dispute.order_id).where(Dispute.chain_id == self.chain_id)
            clauses.append(Order.order_id.in_(disputed))
        return or_(*clauses)

    def orders(self, party: Party, after: int, limit: int, status: str | None) -> tuple[list[OrderOut], int | None]:
        limit = min(limit, MAX_PAGE)
        # The prepared page's statement (``answers.orders_page``: an arm per role on its index), built once.
        query = answers.ORDERS[answers.kind_of(party.auditor, party.has("arbiter")), bool(status)].statement
        params = {"chain_id": self.chain_id, "after": after, "limit": limit + 1, "party": party.address}
        with self.engine.connect() as connection:
            rows = connection.execute(query, params | ({"status": status} if status else {})).all()
        items = [OrderOut(**order_out(row)) for row in rows[:limit]]
        return items, (items[-1].orderId if len(rows) > limit else None)

    def order_row(self, party: Party, order_id: int, connection: Connection | None = None) -> Any:
        query = select(Order).where(Order.chain_id == self.chain_id, Order.order_id == order_id)
        if not party.auditor:
            query = query.where(self._order_visible(party))
        with self._connection(connection) as reading:
            row = reading.execute(query).one_or_none()
        if row is None:
            raise NotFound("order", order_id)
        return row

    @contextlib.contextmanager
    def _connection(self, connection: Connection | None) -> Iterator[Connection]:
        """``connection`` when the caller has one (one request, one connection), else a new one."""
        if connection is not None:
            yield connection
            return
        with self.engine.connect() as fresh:
            yield fresh

    def order(self, party: Party, order_id: int) -> OrderDetailOut:
        with self.engine.connect() as connection:
            order = self.order_row(party, order_id, connection)
            milestones = connection.execute(
                select(Milestone)
                .where(Milestone.chain_id == self.chain_id, Milestone.order_id == order_id)
                .order_by(Milestone.milestone)
            ).all()
            dispute = connection.execute(
                select(Dispute).where(Dispute.chain_id == self.chain_id, Dispute.order_id == order_id)
            ).one_or_none()
        return order_detail(order, milestones, dispute)

    # -- the hot reads as JSON bytes (api.v1.read_answers): the same answers, made once per rows -----------

    def orders_json(self, party: Party, after: int, limit: int, status: str | None) -> bytes:
        """``orders``' page as its JSON bytes."""
        limit = min(limit, MAX_PAGE)
        prepared = answers.ORDERS[answers.kind_of(party.auditor, party.has("arbiter")), status is not None]
        with rawsql.snapshot(self.engine, statements=1) as reading:
            compiled, rows = reading.raw(
                prepared, chain_id=self.chain_id, after=after, limit=limit + 1, party=party.address, status=status
            )

        def item(row: Any) -> bytes:
            return answers.dump(OrderOut(**order_out(rawsql.process(compiled, row))))

        items = [self.answers.get(("order", row), functools.partial(item, row)) for row in rows[:limit]]
        last = rawsql.process(compiled, rows[limit - 1]).order_id if len(rows) > limit else None
        return answers.page(items, last)

    def order_json(self, party: Party, order_id: int) -> bytes:
        """``order``'s answer as its JSON bytes (404 unless the party sees the order)."""
        kind = answers.kind_of(party.auditor, party.has("arbiter"))
        with rawsql.snapshot(self.engine) as reading:
            compiled, found = reading.raw(
                answers.ORDER[kind], chain_id=self.chain_id, order_id=order_id, party=party.address
            )
            if not found:
                raise NotFound("order", order_id)
            steps, milestones = reading.raw(answers.MILESTONES, chain_id=self.chain_id, order_id=order_id)
            disputed, dispute = reading.raw(answers.DISPUTE, chain_id=self.chain_id, order_id=order_id)

        def make() -> bytes:
            return answers.dump(
                order_detail(
                    rawsql.process(compiled, found[0]),
                    [rawsql.process(steps, m) for m in milestones],
                    rawsql.process(disputed, dispute[0]) if dispute else None,
                )
            )

        return self.answers.get(("order-detail", found[0], tuple(milestones), tuple(dispute)), make)

    def receivable_json(self, party: Party, root_id: int) -> bytes:
        """``receivable``'s answer as its JSON bytes (404 unless the party sees the root)."""
        if not party.auditor:  # a party's visible tree depends on its financing requests (store lookups)
            return answers.dump(self.receivable(party, root_id))
        with rawsql.snapshot(self.engine) as reading:
            compiled, found = reading.raw(answers.ROOT, chain_id=self.chain_id, root_id=root_id)
            if not found:
                raise NotFound("receivable", root_id)
            tree, unordered = reading.raw(answers.TREE, chain_id=self.chain_id, root_id=root_id)
        pieces = answers.tree(unordered)

        def make() -> bytes:
            root = rawsql.process(compiled, found[0])
            return answers.dump(
                ReceivableDetailOut(**root_out(root), pieces=[piece_out(rawsql.process(tree, p)) for p in pieces])
            )

        return self.answers.get(("receivable-detail", found[0], tuple(pieces)), make)

    def member_json(self, address: str) -> bytes:
        """``member``'s answer as its JSON bytes (404 for an address that is not a member)."""
        with rawsql.snapshot(self.engine, statements=1) as reading:
            compiled, found = reading.raw(answers.MEMBER, chain_id=self.chain_id, address=address)
        if not found:
            raise NotFound("party", address)
        return self.answers.get(
            ("member", found[0]), lambda: answers.dump(member_out(rawsql.process(compiled, found[0])))
        )

    # -- receivables -------------------------------------------------------------------------

    def _touched_roots(self, party: Party) -> Any:
        """Root ids of trees where ``party`` holds, financed, sold or was offered a piece (a subquery)."""
        return _touched(self.chain_id, party.address, self.financing.offered_pieces(party) or None)

    def _root_visible(self, party: Party) -> Any:
        return or_(
            Root.debtor == party.address,
            Root.creditor == party.address,
            Root.root_id.in_(self._touched_roots(party)),
        )

    def receivables(
        self, party: Party, after: int, limit: int, status: str | None
    ) -> tuple[list[ReceivableOut], int | None]:
        limit = min(limit, MAX_PAGE)
        offered = [] if party.auditor else self.financing.offered_pieces(party)
        query = _receivables_page(party.auditor, bool(status), bool(offered))
        params: dict[str, Any] = {"chain_id": self.chain_id, "after": after, "limit": limit + 1}
        params |= {} if party.auditor else {"party": party.address}
        params |= ({"status": status} if status else {}) | ({"offered": offered} if offered else {})
        with self.engine.connect() as connection:
            rows = connection.execute(query, params).all()
        items = [ReceivableOut(**root_out(row)) for row in rows[:limit]]
        return items, (items[-1].rootId if len(rows) > limit else None)

    def root_row(self, party: Party, root_id: int) -> Any:
        query = select(Root).where(Root.chain_id == self.chain_id, Root.root_id == root_id)
        if not party.auditor:
            query = query.where(self._root_visible(party))
        with self.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            raise NotFound("receivable", root_id)
        return row

    def _tree(self, root_id: int) -> list[Any]:
        with rawsql.snapshot(self.engine, statements=1) as reading:
            compiled, rows = reading.raw(answers.TREE, chain_id=self.chain_id, root_id=root_id)
        return [rawsql.process(compiled, row) for row in answers.tree(rows)]

    def _visible_pieces(self, party: Party, root: Any, pieces: Sequence[Any]) -> list[Any]:
        if party.auditor or party.address in (root.debtor, root.creditor):
            return list(pieces)
        by_id = {p.piece_id: p for p in pieces}
        with self.engine.connect() as connection:
            financed = set(
                connection.execute(
                    select(Financing.piece_id).where(
                        Financing.chain_id == self.chain_id,
                        Financing.root_id == root.root_id,
                        or_(Financing.bank == party.address, Financing.seller == party.address),
                    )
                ).scalars()
            )
        offered = set(self.financing.offered_pieces(party))
        held = {p.piece_id for p in pieces if p.holder == party.address}
        seeds = held | financed | offered
        seeds |= {p.piece_id for p in pieces if p.parent_id in held}
        visible: set[int] = set()
        for piece_id in seeds & by_id.keys():
            current: int | None = piece_id
            while current and current in by_id and current not in visible:
                visible.add(current)
                parent = by_id[current].parent_id
                current = parent if parent else None
        return [p for p in pieces if p.piece_id in visible]

    def receivable(self, party: Party, root_id: int) -> ReceivableDetailOut:
        root = self.root_row(party, root_id)
        pieces = self._visible_pieces(party, root, self._tree(root_id))
        return ReceivableDetailOut(**root_out(root), pieces=[piece_out(p) for p in pieces])

    def piece_row(self, party: Party, piece_id: int) -> tuple[Any, Any]:
        """A piece this party may see, with its root (404 otherwise, for both)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Piece).where(Piece.chain_id == self.chain_id, Piece.piece_id == piece_id)
            ).one_or_none()
        if row is None:
            raise NotFound("piece", piece_id)
        piece = row
        try:
            root = self.root_row(party, piece.root_id)
        except NotFound:
            raise NotFound("piece", piece_id) from None
        if piece_id not in {p.piece_id for p in self._visible_pieces(party, root, self._tree(root.root_id))}:
            raise NotFound("piece", piece_id)
        return piece, root

    def pieces_held(self, party: Party, after: int, limit: int) -> tuple[list[PieceOut], int | None]:
        query = select(Piece).where(
            Piece.chain_id == self.chain_id, Piece.holder == party.address, Piece.piece_id > after
        )
        limit = min(limit, MAX_PAGE)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(Piece.piece_id).limit(limit + 1)).all()
        items = [piece_out(row) for row in rows[:limit]]
        return items, (items[-1].pieceId if len(rows) > limit else None)

    # -- credit limits ---------------------------------------------------------------------

    def credit_limits(self, party: Party, *, include_revoked: bool) -> list[Any]:
        """Limits as they stand: those granted to the party and those it published; an auditor's, all."""
        query = select(CreditLimit).where(CreditLimit.chain_id == self.chain_id)
        if not party.auditor:
            query = query.where(or_(CreditLimit.party == party.address, CreditLimit.bank == party.address))
        if not include_revoked:
            query = query.where(CreditLimit.revoked.is_(False))
        with self.engine.connect() as connection:
            return list(connection.execute(query.order_by(CreditLimit.party, CreditLimit.bank)).all())

    def limit_events(self, party: Party, target: str, after: int, limit: int) -> list[Any]:
        """``target``'s LimitPublished / LimitRevoked events after event id ``after``: all of them for the
        party itself and auditors, a bank's own for a bank."""
        bank = None if party.auditor or party.address == target else party.address
        with self.engine.connect() as connection:
            return list(connection.execute(limit_events_page(self.chain_id, target, bank, after, limit)).all())


def limit_events_page(chain_id: int, target: str, bank: str | None, after: int, limit: int) -> Any:
    """The first ``limit`` of ``target``'s limit events after ``after`` (``bank``'s only, unless None): a range of the
    credit registry's events' partial index (``models.CREDIT_EVENTS_INDEX``), in id order."""
    # The registry's events carry bank and party as indexed topics 1 and 2. The contract is the index's own literal
    # predicate, not a bound value: PostgreSQL's generic plan of a prepared statement could not read the index.
    query = select(Event).where(
        Event.chain_id == chain_id,
        text(CREDIT_EVENTS_WHERE),
        Event.event.in_(LIMIT_EVENTS),
        Event.topic2 == _topic(target),
        Event.id > after,
    )
    if bank is not None:
        query = query.where(Event.topic1 == _topic(bank))
    return query.order_by(Event.id).limit(limit)


def _touching(chain: Any, party: Any, offered: Any | None) -> list[tuple[type[Piece] | type[Financing], Any]]:
    """The ways ``party`` touches a tree, each a table with a ``root_id`` and the condition on its rows: the pieces
    it holds, the financings it bought and sold (apart: each reads its own index, where their OR would read every
    financing), and (unless ``offered`` is None: values, or an expanding ``bindparam``) the pieces it was offered."""
    touching: list[tuple[type[Piece] | type[Financing], Any]] = [
        (Piece, and_(Piece.chain_id == chain, Piece.holder == party)),
        (Financing, and_(Financing.chain_id == chain, Financing.bank == party)),
        (Financing, and_(Financing.chain_id == chain, Financing.seller == party)),
    ]
    if offered is not None:
        touching.append((Piece, and_(Piece.chain_id == chain, Piece.piece_id.in_(offered))))
    return touching


def _touched(chain: Any, party: Any, offered: Any | None) -> Any:
    """Root ids of trees ``party`` touched (``_touching``): a ``UNION`` whose every part reads an index."""
    return union(*(select(model.root_id).where(rows) for model, rows in _touching(chain, party, offered)))


@functools.cache
def _receivables_page(auditor: bool, status: bool, offered: bool) -> Any:
    """The first ``limit`` roots after ``after`` that ``party`` sees (an auditor: all), with ``status`` when asked,
    as ``answers.orders_page`` reads orders: an arm per way of seeing a root (debtor, creditor, holder, bank or seller
    of a piece of its tree, offered one), each from ``after`` on an index and limited, then their ``UNION``'s first
    ``limit`` ids, then those roots. Built once per shape, its values bound at execution (``chain_id``, ``after``,
    ``limit``, ``party``, ``status``, and the ``offered`` piece ids)."""
    chain, party = answers.CHAIN, answers.PARTY
    after, limit = bindparam("after", type_=Integer), bindparam("limit", type_=Integer)
    where = [Root.chain_id == chain, Root.root_id > after]
    if status:
        where.append(Root.status == bindparam("status", type_=String))
    if auditor:
        return select(Root).where(*where).order_by(Root.root_id).limit(limit)
    arms = [
        select(Root.root_id).where(*where, Root.debtor == party).order_by(Root.root_id).limit(limit),
        select(Root.root_id).where(*where, Root.creditor == party).order_by(Root.root_id).limit(limit),
    ]
    # A tree the party touched: its pieces' or financings' root ids from ``after`` on, in order on a (chain_id,
    # role, root_id) index, each joined to its root (for the status) and limited to ``limit`` distinct trees: a
    # bank's page reads a page of its trees, not all of them.
    for model, rows in _touching(chain, party, bindparam("offered", expanding=True) if offered else None):
        arm = (
            select(model.root_id)
            .distinct()
            .join(Root, (Root.chain_id == model.chain_id) & (Root.root_id == model.root_id))
            .where(rows, model.root_id > after, *where)
            .order_by(model.root_id)
            .limit(limit)
        )
        arms.append(arm)
    ids = union(*(select(arm.subquery().c.root_id) for arm in arms)).subquery("visible")
    page = select(ids.c.root_id).order_by(ids.c.root_id).limit(limit).subquery("page")
    return select(Root).join(page, Root.root_id == page.c.root_id).where(Root.chain_id == chain).order_by(Root.root_id)


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()
