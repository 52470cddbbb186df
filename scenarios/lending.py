"""The banks' side of a play: their desks, the monthly credit refresh, and what each has outstanding.

``LendingDesk`` sets up the market of ``scenarios.market``. The first bank prices with the dev
bank's desk policy from the shipped model's decisions. The second quotes a flat rate. A third,
in worlds of 100 firms or more, does traditional tier-1 supply-chain finance.

Before pricing in the first tick of each month, it refreshes the scoring bank's decisions as of
the last mined block (``scenarios.credit``). It turns a piece into the ``SaleRequest`` every bank
answers, and keeps each bank's open exposure by obligor and by seller: a sale adds its price,
and the receivable's repayment or default takes it off again. This is what the API's
``FinancingBook`` sums from the index for a desk over HTTP.
"""

from __future__ import annotations

from functools import cached_property

from ledger.domain.receivables import BPS, YEAR
from scenarios.credit import CreditView
from scenarios.desk import Desk, Piece, Root
from scenarios.market import (
    FLAT,
    FLAT_RATE_BPS,
    POLICY,
    TIER_ONE,
    TIER_ONE_RATE_BPS,
    Bank,
    BankBook,
    FlatBank,
    PolicyBank,
    SaleRequest,
    TierOneBank,
)
from scenarios.world import CORE, MONTH, Party
from scoring.policy import Policy


class LendingDesk(Desk):
    """The banks' desks and books; ``refresh_credit`` before each week's sales, ``release`` as roots close."""

    @cached_property
    def credit(self) -> CreditView:
        return CreditView(self.chain, self.build, self.addresses)

    @cached_property
    def policy(self) -> Policy:
        return Policy.load()

    @cached_property
    def market(self) -> list[tuple[int, Bank]]:
        """The banks in the world's order: the first prices by policy, the second flat, a third tier-1 only."""
        kinds = (POLICY, FLAT, TIER_ONE)
        out: list[tuple[int, Bank]] = []
        for position, index in enumerate(self.banks):
            party = self.party(index)
            kind = kinds[min(position, len(kinds) - 1)]
            pricing = {
                POLICY: f"desk policy {self.policy.label} ({self.policy.hash})",
                FLAT: f"flat {FLAT_RATE_BPS / 100:g}% a year",
                TIER_ONE: f"tier-1 only, flat {TIER_ONE_RATE_BPS / 100:g}% a year",
            }[kind]
            book = BankBook(party.name, party.address, pricing)
            bank: Bank = (
                PolicyBank(book, self.policy, self.credit)
                if kind == POLICY
                else (FlatBank(book) if kind == FLAT else TierOneBank(book))
            )
            out.append((index, bank))
        return out

    @cached_property
    def financed_by(self) -> dict[int, tuple[int, int, str, str]]:
        """Piece id -> (bank, price, obligor address, seller address): open until its root closes."""
        return {}

    def book_of(self, bank: int) -> BankBook:
        return next(b.book for i, b in self.market if i == bank)

    def refresh_credit(self) -> None:
        """Decide again as of the last mined block, before the week's sales (as a desk reads the indexed head)."""
        at = self.checkpoint()
        self.credit.refresh(at.block, at.timestamp, self.refusals)

    def sale_request(self, piece: Piece, seller: Party) -> SaleRequest:
        root = self.roots[piece.root_id]
        debtor = self.party(root.debtor)
        assert seller.tier is not None
        return SaleRequest(
            piece.piece_id,
            root.root_id,
            (self.now - self.plan.start) // MONTH,
            seller.address,
            seller.tier,
            debtor.address,
            debtor.kind == CORE,
            root.debtor in seller.buyers,
            piece.amount,
            self.now,
            root.maturity,
        )

    def flat_price(self, piece: Piece) -> int:
        """The flat bank's price, for the double financer's attempts (they must be signed at some price)."""
        ttm = max(0, self.roots[piece.root_id].maturity - self.now)
        return piece.amount - piece.amount * FLAT_RATE_BPS * ttm // (BPS * YEAR)

    def book_sale(self, piece: Piece, bank: int, price: int) -> None:
        root = self.roots[piece.root_id]
        obligor, seller = self.party(root.debtor).address, self.party(piece.holder).address
        book = self.book_of(bank)
        book.won[self.party(piece.holder).tier or 0] += 1
        book.by_obligor[obligor] += price
        book.by_seller[seller] += price
        self.financed_by[piece.piece_id] = (bank, price, obligor, seller)

    def release(self, root: Root) -> None:
        """A repaid or defaulted root is no longer outstanding financing for the banks that bought its pieces."""
        for piece_id in self.tree[root.root_id]:
            held = self.financed_by.pop(piece_id, None)
            if held is None:
                continue
            bank, price, obligor, seller = held
            book = self.book_of(bank)
            book.by_obligor[obligor] -= price
            book.by_seller[seller] -= price
