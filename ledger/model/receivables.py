"""A pure-Python model of Receivables: issue, split, finance, repay, claim, default.

Like the escrow model (see ``ledger.model.escrow``), it serves the property-based tests,
which drive the contract and the model in lock-step, and the auditor's replay, which
re-derives state from events. Deterministic, no I/O: each operation takes the caller and
the block timestamp, then applies its change and returns an ``Effect`` (the contract's own
events in order, ERC-721 ``Transfer`` included, and the settlement-token transfers) or raises
``ModelRejected`` with the custom error the contract reverts with. Checks run in the
contract's order, ERC-721's own checks (OpenZeppelin 5) included, because the first failing
check decides the error.

Not modelled: ERC-20 failures (balances, allowances), ERC-721 approvals (only holders move
pieces), malleable signatures and uint overflows. Callers pass the address a signature
recovers to (``None`` when it recovers to nothing) instead of the signature.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from ledger.domain.escrow import Order, OrderStatus
from ledger.domain.receivables import (
    DEFAULT_GRACE_PERIOD,
    MAX_CHILDREN,
    MIN_CHILDREN,
    Child,
    FinanceOffer,
    IssueTerms,
    Piece,
    ReceivableStatus,
    Root,
)
from ledger.model.common import (
    DAY,
    ROLE_ADMIN,
    ROLE_BANK,
    ROLE_CORE,
    ROLE_SUPPLIER,
    ZERO_ADDRESS,
    ZERO_HASH,
    Effect,
    ModelInconsistent,
    ModelRejected,
    Roster,
    Transfer,
    add,
    address,
    uint,
)

RECEIVABLES: Final = "Receivables"
MAX_GRACE_PERIOD: Final = 365 * DAY

ZERO_ROOT_FIELDS: Final = (
    ZERO_ADDRESS,
    ZERO_ADDRESS,
    ZERO_ADDRESS,
    0,
    0,
    0,
    0,
    ZERO_HASH,
    ZERO_HASH,
    ZERO_HASH,
    0,
    0,
    0,
)


def _reject(error: str, **error_args: object) -> ModelRejected:
    return ModelRejected(error, RECEIVABLES, **error_args)


class OrderBook(Protocol):
    """What Receivables asks TradeEscrow about the order a receivable pays for.

    ``EscrowModel`` is one; so is anything that reads the real contract.
    """

    def is_open_account(self, order_id: int) -> bool: ...

    def order(self, order_id: int) -> Order: ...


class NoOrders:
    """An order book without orders: every order-linked issuance is refused."""

    def is_open_account(self, order_id: int) -> bool:
        return False

    def order(self, order_id: int) -> Order:
        raise ModelInconsistent(f"order {order_id} asked of an empty order book")


@dataclass(frozen=True)
class ReceivablesState:
    """Everything the contract's views expose, in the client's types."""

    piece_count: int
    grace_period: int
    roots: Mapping[int, Root]
    pieces: Mapping[int, Piece]
    holders: Mapping[int, str]
    held: int


@dataclass
class _Root:
    debtor: str
    creditor: str
    token: str
    face_value: int
    maturity: int
    issued_at: int
    invoice_hash: bytes
    fingerprint: bytes
    invoice_commitment: bytes
    order_id: int
    defaulted_at: int = 0
    repaid: int = 0
    claimed: int = 0


@dataclass
class _Piece:
    root_id: int
    parent_id: int
    amount: int
    ref: bytes
    created_at: int
    holder: str
    claimed: int = 0
    first_child_id: int = 0
    child_count: int = 0
    financed: bool = False


class ReceivablesModel:
    """Receivables at ``receivables``, settling in ``currency``, reading ``roster`` and ``orders``."""

    def __init__(
        self,
        *,
        receivables: str,
        currency: str,
        roster: Roster,
        orders: OrderBook | None = None,
        grace_period: int = DEFAULT_GRACE_PERIOD,
    ) -> None:
        self.receivables = address(receivables)
        self.currency = address(currency)
        self.roster = roster
        self.orders: OrderBook = orders if orders is not None else NoOrders()
        self.grace_period = grace_period
        self._roots: dict[int, _Root] = {}
        self._pieces: dict[int, _Piece] = {}
        self._root_id_of_fingerprint: dict[bytes, int] = {}
        self._issued_against_order: dict[int, int] = {}
        self._nonces_used: set[tuple[str, int]] = set()
        self._offer_nonces_used: set[tuple[str, int]] = set()
        # Every PieceFinanced, per piece: the "financed at most once" invariant counts them.
        self._financings: dict[int, int] = {}
        self._held = 0  # the contract's balance of the settlement token

    def clone(self) -> ReceivablesModel:
        """An independent copy (roster and order book included)."""
        return copy.deepcopy(self)

    # -- receivables -----------------------------------------------------------------

    def issue(self, terms: IssueTerms, *, signer: str | None, caller: str, now: int) -> Effect:
        debtor, creditor, caller = address(terms.debtor), address(terms.creditor), address(caller)
        token = address(terms.token)
        face = uint(terms.face_value, 256, "faceValue")
        maturity = uint(terms.maturity, 64, "maturity")
        deadline = uint(terms.deadline, 64, "deadline")
        order_id = uint(terms.order_id, 256, "orderId")
        nonce = uint(terms.nonce, 256, "nonce")
        if caller not in (debtor, creditor):
            raise _reject("ReceivablesNotParty", debtor=debtor, creditor=creditor, caller=caller)
        fingerprint = bytes(terms.fingerprint)
        if fingerprint == ZERO_HASH:
            raise _reject("ReceivablesFingerprintMissing", debtor=debtor, creditor=creditor)
        existing = self._root_id_of_fingerprint.get(fingerprint, 0)
        if existing:
            raise _reject("ReceivablesInvoiceAlreadyIssued", fingerprint=fingerprint, rootId=existing)
        if deadline < now:
            raise _reject("ReceivablesSignatureExpired", deadline=deadline, nowTimestamp=now)
        if (debtor, nonce) in self._nonces_used:
            raise _reject("ReceivablesNonceUsed", debtor=debtor, nonce=nonce)
        issued_against_order = self._check_issue(debtor, creditor, token, face, maturity, order_id, now)
        _require_signer(signer, debtor)

        root_id = self.piece_count + 1
        self._nonces_used.add((debtor, nonce))
        self._root_id_of_fingerprint[fingerprint] = root_id
        if order_id:
            self._issued_against_order[order_id] = issued_against_order
        self._roots[root_id] = _Root(
            debtor,
            creditor,
            token,
            face,
            maturity,
            now,
            bytes(terms.invoice_hash),
            fingerprint,
            bytes(terms.invoice_commitment),
            order_id,
        )
        self._pieces[root_id] = _Piece(root_id, 0, face, ZERO_HASH, now, creditor)
        return Effect(events=("ReceivableIssued", "Transfer"), piece_ids=(root_id,))

    def split(self, piece_id: int, children: Sequence[Child], *, caller: str, now: int) -> Effect:
        caller = address(caller)
        parent = self._holder_piece(piece_id, caller)
        if parent.claimed:
            raise _reject("ReceivablesPieceHasClaims", pieceId=piece_id, claimed=parent.claimed)
        count = len(children)
        if not MIN_CHILDREN <= count <= MAX_CHILDREN:
            raise _reject("ReceivablesInvalidSplitCount", count=count, minCount=MIN_CHILDREN, maxCount=MAX_CHILDREN)
        total = 0
        for index, child in enumerate(children):
            if uint(child.amount, 256, "amount") == 0:
                raise _reject("ReceivablesZeroSplitAmount", pieceId=piece_id, index=index)
            total += child.amount
        if total != parent.amount:
            raise _reject("ReceivablesSplitSumMismatch", pieceId=piece_id, sum=total, amount=parent.amount)
        holders = [address(child.holder) for child in children]
        for holder in holders:  # each child's _mint, in order
            self._check_receiver(holder)

        first = self.piece_count + 1
        parent.first_child_id, parent.child_count = first, count
        for offset, (child, holder) in enumerate(zip(children, holders, strict=True)):
            self._pieces[first + offset] = _Piece(
                parent.root_id, piece_id, child.amount, bytes(child.ref), now, holder, financed=parent.financed
            )
        return Effect(
            events=("PieceSplit", *("PieceCreated", "Transfer") * count), piece_ids=tuple(range(first, first + count))
        )

    def finance(self, offer: FinanceOffer, *, signer: str | None, caller: str, now: int) -> Effect:
        caller, bank = address(caller), address(offer.bank)
        piece_id, price = offer.piece_id, uint(offer.price, 256, "price")
        deadline, nonce = uint(offer.deadline, 64, "deadline"), uint(offer.nonce, 256, "nonce")
        if deadline < now:
            raise _reject("ReceivablesOfferExpired", deadline=deadline, nowTimestamp=now)
        if (bank, nonce) in self._offer_nonces_used:
            raise _reject("ReceivablesOfferReplayed", bank=bank, nonce=nonce)
        piece = self._holder_piece(piece_id, caller)
        if not self.roster.has_role(bank, ROLE_BANK):
            raise _reject("ReceivablesNotBank", bank=bank)
        if bank == caller:
            raise _reject("ReceivablesSelfFinance", bank=bank)
        if piece.financed:
            raise _reject("ReceivablesAlreadyFinanced", pieceId=piece_id)
        if piece.claimed:
            raise _reject("ReceivablesPieceHasClaims", pieceId=piece_id, claimed=piece.claimed)
        if price == 0 or price > piece.amount:
            raise _reject("ReceivablesInvalidPrice", pieceId=piece_id, price=price, amount=piece.amount)
        root = self._roots[piece.root_id]
        if root.defaulted_at:
            raise _reject("ReceivablesRootDefaulted", rootId=piece.root_id, defaultedAt=root.defaulted_at)
        if root.repaid == root.face_value:
            raise _reject("ReceivablesRootRepaid", rootId=piece.root_id)
        if now >= root.maturity:
            raise _reject("ReceivablesMatured", rootId=piece.root_id, maturity=root.maturity, nowTimestamp=now)
        _require_signer(signer, bank)

        self._offer_nonces_used.add((bank, nonce))
        piece.financed = True
        piece.holder = bank
        self._financings[piece_id] = self._financings.get(piece_id, 0) + 1
        paid = Transfer(root.token, bank, caller, price)
        return Effect(events=("PieceFinanced", "Transfer"), transfers=(paid,))

    def repay(self, root_id: int, amount: int, *, caller: str, now: int) -> Effect:
        root = self._root(root_id)
        owed = root.face_value - root.repaid
        if uint(amount, 256, "amount") == 0:
            raise _reject("ReceivablesInvalidAmount", amount=0)
        if amount > owed:
            raise _reject("ReceivablesRepaymentExceedsOutstanding", rootId=root_id, amount=amount, outstanding=owed)
        root.repaid += amount
        self._held += amount
        return Effect(
            events=("ReceivableRepaid",), transfers=(Transfer(root.token, address(caller), self.receivables, amount),)
        )

    def claim(self, piece_id: int, *, caller: str, now: int) -> Effect:
        caller = address(caller)
        piece = self._holder_piece(piece_id, caller)
        root = self._roots[piece.root_id]
        amount = self._claimable(piece, root)
        if amount == 0:
            raise _reject("ReceivablesNothingToClaim", pieceId=piece_id)
        piece.claimed += amount
        root.claimed += amount
        if amount > self._held:
            raise ModelInconsistent(f"claim of {amount} on piece {piece_id} exceeds what the contract holds")
        self._held -= amount
        return Effect(events=("PieceClaimed",), transfers=(Transfer(root.token, self.receivables, caller, amount),))

    def mark_defaulted(self, root_id: int, *, caller: str, now: int) -> Effect:
        root = self._root(root_id)
        if root.defaulted_at:
            raise _reject("ReceivablesRootDefaulted", rootId=root_id, defaultedAt=root.defaulted_at)
        if root.repaid == root.face_value:
            raise _reject("ReceivablesRootRepaid", rootId=root_id)
        after = root.maturity + self.grace_period
        if now <= after:
            raise _reject("ReceivablesGraceNotOver", rootId=root_id, defaultableAfter=after, nowTimestamp=now)
        root.defaulted_at = now
        return Effect(events=("ReceivableDefaulted",))

    def transfer(self, piece_id: int, to: str, *, caller: str, now: int) -> Effect:
        """ERC-721 ``transferFrom(caller, to, pieceId)`` by the holder (approvals not modelled)."""
        caller, to = address(caller), address(to)
        if to == ZERO_ADDRESS:
            raise ModelRejected("ERC721InvalidReceiver", RECEIVABLES, receiver=ZERO_ADDRESS)
        piece = self._pieces.get(piece_id)
        if piece is not None and piece.child_count:
            raise _reject("ReceivablesPieceSplit", pieceId=piece_id, childCount=piece.child_count)
        if not self.roster.is_active(to):
            raise _reject("ReceivablesRecipientNotMember", recipient=to)
        if piece is None:
            raise ModelRejected("ERC721NonexistentToken", RECEIVABLES, tokenId=piece_id)
        if piece.holder != caller:
            raise ModelRejected("ERC721InsufficientApproval", RECEIVABLES, operator=caller, tokenId=piece_id)
        piece.holder = to
        return Effect(events=("Transfer",))

    # -- administration --------------------------------------------------------------

    def set_grace_period(self, seconds: int, *, caller: str) -> Effect:
        if not self.roster.has_role(caller, ROLE_ADMIN):
            raise _reject("ReceivablesUnauthorized", caller=address(caller))
        if uint(seconds, 64, "gracePeriod") > MAX_GRACE_PERIOD:
            raise _reject("ReceivablesInvalidGracePeriod", gracePeriod=seconds, maxGracePeriod=MAX_GRACE_PERIOD)
        self.grace_period = seconds
        return Effect(events=("GracePeriodSet",))

    # -- views -----------------------------------------------------------------------

    @property
    def piece_count(self) -> int:
        return len(self._pieces)

    def root_ids(self) -> list[int]:
        return list(self._roots)

    def piece_ids(self) -> list[int]:
        return list(self._pieces)

    def root(self, root_id: int) -> Root:
        """``rootOf(rootId)`` (all zero for anything but a root, like the contract)."""
        r = self._roots.get(root_id)
        if r is None:
            return Root(root_id, *ZERO_ROOT_FIELDS)
        return Root(
            root_id,
            r.debtor,
            r.creditor,
            r.token,
            r.face_value,
            r.maturity,
            r.issued_at,
            r.defaulted_at,
            r.invoice_hash,
            r.fingerprint,
            r.invoice_commitment,
            r.order_id,
            r.repaid,
            r.claimed,
        )

    def piece(self, piece_id: int) -> Piece:
        p = self._pieces.get(piece_id)
        if p is None:
            return Piece(piece_id, 0, 0, 0, 0, ZERO_HASH, 0, 0, False, 0)
        return Piece(
            piece_id,
            p.root_id,
            p.parent_id,
            p.amount,
            p.claimed,
            p.ref,
            p.first_child_id,
            p.child_count,
            p.financed,
            p.created_at,
        )

    def holder_of(self, piece_id: int) -> str | None:
        """``ownerOf(pieceId)``; ``None`` where the contract reverts (no such piece)."""
        p = self._pieces.get(piece_id)
        return p.holder if p else None

    def status(self, root_id: int) -> ReceivableStatus:
        r = self._roots.get(root_id)
        if r is None:
            return ReceivableStatus.NONE
        if r.repaid == r.face_value:
            return ReceivableStatus.REPAID
        return ReceivableStatus.DEFAULTED if r.defaulted_at else ReceivableStatus.OUTSTANDING

    def claimable(self, piece_id: int) -> int:
        p = self._pieces.get(piece_id)
        if p is None or p.child_count:
            return 0
        return self._claimable(p, self._roots[p.root_id])

    def outstanding(self, root_id: int) -> int:
        r = self._roots.get(root_id)
        return r.face_value - r.repaid if r else 0

    def root_id_of_fingerprint(self, fingerprint: bytes) -> int:
        return self._root_id_of_fingerprint.get(bytes(fingerprint), 0)

    def issued_against_order(self, order_id: int) -> int:
        return self._issued_against_order.get(order_id, 0)

    def nonce_used(self, debtor: str, nonce: int) -> bool:
        return (address(debtor), nonce) in self._nonces_used

    def offer_nonce_used(self, bank: str, nonce: int) -> bool:
        return (address(bank), nonce) in self._offer_nonces_used

    def leaves(self, root_id: int) -> list[int]:
        """The live leaves of ``root_id``'s tree: the pieces that hold its claims."""
        return [i for i, p in self._pieces.items() if p.root_id == root_id and not p.child_count]

    @property
    def held(self) -> int:
        """What the contract's settlement-token balance must be."""
        return self._held

    def state(self) -> ReceivablesState:
        return ReceivablesState(
            piece_count=self.piece_count,
            grace_period=self.grace_period,
            roots={i: self.root(i) for i in self._roots},
            pieces={i: self.piece(i) for i in self._pieces},
            holders={i: p.holder for i, p in self._pieces.items()},
            held=self._held,
        )

    def invariant_violations(self) -> list[str]:
        """The rules every reachable state obeys; an empty list when they hold.

        Per root: the live leaves' amounts sum to the face value; the leaves' claims sum to
        the root's claimed, none beyond its pro-rata share; repaid never exceeds face. In all:
        the contract holds exactly what was repaid and not yet claimed; no piece or ancestor
        chain was financed more than once; every fingerprint names its own root.
        """
        problems: list[str] = []
        leaf_sum: dict[int, int] = {}
        claim_sum: dict[int, int] = {}
        for piece_id, p in self._pieces.items():
            root = self._roots[p.root_id]
            if p.child_count:
                children = range(p.first_child_id, p.first_child_id + p.child_count)
                if sum(self._pieces[c].amount for c in children) != p.amount:
                    problems.append(f"piece {piece_id}: children do not sum to its amount {p.amount}")
                if p.claimed:
                    problems.append(f"piece {piece_id} was split but claimed {p.claimed}")
                continue
            add(leaf_sum, p.root_id, p.amount)
            add(claim_sum, p.root_id, p.claimed)
            if p.claimed > p.amount * root.repaid // root.face_value:
                problems.append(f"leaf {piece_id} claimed {p.claimed}, more than its share of {root.repaid}")
            financed_on_path = 0
            node: int = piece_id
            while node:
                financed_on_path += self._financings.get(node, 0)
                node = self._pieces[node].parent_id
            if financed_on_path > 1:
                problems.append(f"leaf {piece_id} was financed {financed_on_path} times along its path")
            if p.financed != (financed_on_path == 1):
                problems.append(f"leaf {piece_id}: financed flag {p.financed}, financings {financed_on_path}")
        owed = 0
        for root_id, r in self._roots.items():
            if leaf_sum.get(root_id, 0) != r.face_value:
                problems.append(f"root {root_id}: live leaves sum to {leaf_sum.get(root_id, 0)}, face {r.face_value}")
            if claim_sum.get(root_id, 0) != r.claimed:
                problems.append(f"root {root_id}: leaves claimed {claim_sum.get(root_id, 0)}, root says {r.claimed}")
            if not r.claimed <= r.repaid <= r.face_value:
                problems.append(f"root {root_id}: claimed {r.claimed} / repaid {r.repaid} / face {r.face_value}")
            if (mapped := self._root_id_of_fingerprint.get(r.fingerprint)) != root_id:
                problems.append(f"root {root_id}: its fingerprint maps to {mapped}")
            owed += r.repaid - r.claimed
        if owed != self._held:
            problems.append(f"the contract holds {self._held}, owes {owed}")
        if len(self._root_id_of_fingerprint) != len(self._roots):
            problems.append(f"{len(self._root_id_of_fingerprint)} fingerprints for {len(self._roots)} roots")
        return problems

    # -- internals -------------------------------------------------------------------

    def _check_issue(
        self, debtor: str, creditor: str, token: str, face: int, maturity: int, order_id: int, now: int
    ) -> int:
        """The contract's ``_checkIssue``; returns what will be issued against the order."""
        if debtor == creditor:
            raise _reject("ReceivablesSelfIssue", party=debtor)
        if not self.roster.has_role(debtor, ROLE_CORE) and not self.roster.has_role(debtor, ROLE_SUPPLIER):
            raise _reject("ReceivablesDebtorNotEligible", debtor=debtor)
        if not self.roster.has_role(creditor, ROLE_SUPPLIER):
            raise _reject("ReceivablesCreditorNotEligible", creditor=creditor)
        if token != self.currency:
            raise _reject("ReceivablesTokenNotAllowed", token=token)
        if face == 0:
            raise _reject("ReceivablesInvalidAmount", amount=0)
        if maturity <= now:
            raise _reject("ReceivablesInvalidMaturity", maturity=maturity, nowTimestamp=now)
        if order_id == 0:
            return 0
        if not self.orders.is_open_account(order_id):
            raise _reject("ReceivablesOrderNotOpenAccount", orderId=order_id)
        order = self.orders.order(order_id)
        inspection = order.terms.inspection_required
        ready = OrderStatus.INSPECTED if inspection else OrderStatus.DELIVERED
        if order.status != ready:
            raise _reject(
                "ReceivablesOrderNotDelivered",
                orderId=order_id,
                status=int(order.status),
                inspectionRequired=inspection,
            )
        terms = order.terms
        if (address(terms.buyer), address(terms.supplier), address(terms.token)) != (debtor, creditor, token):
            raise _reject(
                "ReceivablesOrderMismatch",
                orderId=order_id,
                buyer=address(terms.buyer),
                supplier=address(terms.supplier),
                token=address(terms.token),
            )
        issued = self._issued_against_order.get(order_id, 0)
        if issued + face > terms.amount:
            raise _reject(
                "ReceivablesOrderAmountExceeded", orderId=order_id, faceValue=face, available=terms.amount - issued
            )
        return issued + face

    def _check_receiver(self, to: str) -> None:
        """``_mint(to, id)`` of a fresh id: OpenZeppelin's zero check, then ours."""
        if to == ZERO_ADDRESS:
            raise ModelRejected("ERC721InvalidReceiver", RECEIVABLES, receiver=ZERO_ADDRESS)
        if not self.roster.is_active(to):
            raise _reject("ReceivablesRecipientNotMember", recipient=to)

    def _holder_piece(self, piece_id: int, caller: str) -> _Piece:
        piece = self._pieces.get(piece_id)
        if piece is None:
            raise _reject("ReceivablesUnknownPiece", pieceId=piece_id)
        if piece.holder != caller:
            raise _reject("ReceivablesNotHolder", pieceId=piece_id, caller=caller)
        if piece.child_count:
            raise _reject("ReceivablesPieceSplit", pieceId=piece_id, childCount=piece.child_count)
        return piece

    def _root(self, root_id: int) -> _Root:
        if root_id < 1 or root_id > self.piece_count:
            raise _reject("ReceivablesUnknownPiece", pieceId=root_id)
        actual = self._pieces[root_id].root_id
        if actual != root_id:
            raise _reject("ReceivablesNotRoot", pieceId=root_id, rootId=actual)
        return self._roots[root_id]

    @staticmethod
    def _claimable(piece: _Piece, root: _Root) -> int:
        return piece.amount * root.repaid // root.face_value - piece.claimed


def _require_signer(recovered: str | None, expected: str) -> None:
    signer = address(recovered) if recovered is not None else ZERO_ADDRESS
    if recovered is None or signer != expected:
        raise _reject("ReceivablesInvalidSigner", expected=expected, recovered=signer)
