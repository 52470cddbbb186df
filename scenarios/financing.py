"""Receivables in a played world: issued for open-account deliveries, paid down the tiers, sold, repaid, claimed.

A core pays an open-account delivery by issuing a receivable to its supplier; a supplier pays its own
supplier with a piece split off a receivable it holds (the best fit, so pieces travel down the tiers),
or issues its own when none fits. A holder keeps paper enough for what it owes and asks every bank
for a price on the rest; it sells to the best offer, signed by that bank (``scenarios.market``, whose
desks ``scenarios.lending`` sets up). Debtors repay at maturity (a failed supplier stops paying; the
weak core first pays late, then misses some), a bank marks what stays unpaid defaulted after the
grace period, and every leaf holder claims its share. What each bank made and lost is counted from
the chain afterwards (``scenarios.returns``). The double
financer signs its two attempts itself, a second sale of a sold piece and the same invoice spelled
differently; both are mined and reverted, and each is kept as a ``Refusal``.

No invoice number goes on chain: each receivable carries the invoice's fingerprint under the world's
consortium key (derived from its seed) and a salted commitment to its number; the numbers, salts and
commitments stay in the desk's books (``Invoice``) and the world's ``invoices.json``. The re-spelled
invoice has the same fingerprint, whoever computes it, so the contract refuses it as already issued.

Calls that allocate a receivable or piece id (issue, split) go one request at a time, in plan order
(``ordered=True``), because a node runs one batch's entries concurrently and ids must not depend on that;
the requests are pipelined on one connection (``scenarios.pipeline``), so the order costs no round trips.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import po_ref_hash
from ledger.domain.fingerprints import InvoiceFields, invoice_commitment
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms
from ledger.eth.batch import BatchResult, Call
from ledger.eth.eip712 import sign_typed_data
from scenarios.desk import Invoice, LiveOrder, Piece, Root
from scenarios.errors import PlayFailed, ScenarioError
from scenarios.lending import LendingDesk
from scenarios.market import best_offer
from scenarios.plan import PlannedOrder
from scenarios.records import Refusal
from scenarios.world import CORE, DAY, SUPPLIER, WEEK

GRACE = 7 * DAY  # the Receivables contract's default grace period
RETAINED = keccak(text="retained")


class FinancingDesk(LendingDesk):
    """The receivables moves of a play, on the desk's books of roots and pieces."""

    def _invoice_of(self, debtor: int, creditor: int, number: str, amount: int, date: str) -> Invoice:
        """The invoice as its parties keep it, with its fingerprint under the world's consortium key. The salt
        is derived from the seed so that a world replays alike; real parties draw it at random (``new_salt``)."""
        salt = keccak(text=f"{self.world.config.key_material()}/invoice-salt/{number}")
        fields = InvoiceFields.of(
            debtor=self.acct(debtor).address,
            creditor=self.acct(creditor).address,
            invoice_number=number,
            amount=amount,
            invoice_date=date,
        )
        invoice = Invoice(
            number, amount, date, salt, fields.fingerprint(self.consortium_key), invoice_commitment(salt, number)
        )
        self.invoices.setdefault(invoice.fingerprint, invoice)
        return invoice

    def _issue_call(
        self, debtor: int, creditor: int, face: int, order_id: int, number: int, invoice: str, date: str | None = None
    ) -> Call:
        """Issue terms for invoice ``invoice`` of amount ``face`` dated ``date`` (default: today, UTC)."""
        tenor = self.party(debtor).tenor_days
        dated = date or datetime.fromtimestamp(self.now, UTC).date().isoformat()
        record = self._invoice_of(debtor, creditor, invoice, face, dated)
        terms = IssueTerms(
            self.acct(debtor).address,
            self.acct(creditor).address,
            self.token,
            face,
            self.now + tenor * DAY,
            # The document's hash: salted like a real document's bytes, so it cannot be searched for the number.
            keccak(record.salt + f"invoice document {invoice}".encode()),
            record.fingerprint,
            record.commitment,
            order_id,
            number,
            self.now + DAY,
        )
        signature = sign_typed_data(self.acct(debtor), self.receivables.issue_document(terms))
        return Call.from_call(self.receivables.calls.issue(terms, signature), self.acct(creditor), label=invoice)

    def _order_issue(self, order: LiveOrder) -> Call:
        p = order.plan
        return self._issue_call(p.buyer, p.supplier, p.amount, order.order_id, p.number, self._invoice(p))

    def _invoice(self, planned: PlannedOrder) -> str:
        config = self.world.config
        return f"INV-S{config.seed}-{config.firms}x{config.months}-{planned.number:06d}"

    def _record_root(self, result: BatchResult, index: int) -> None:
        issued = self.events(result, index, "ReceivableIssued")[0]
        root_id = int(issued["rootId"])
        debtor = self._index_of(issued["debtor"])
        creditor = self._index_of(issued["creditor"])
        face, maturity = int(issued["faceValue"]), int(issued["maturity"])
        fingerprint = issued["fingerprint"]
        tag = bytes.fromhex(fingerprint[2:]) if isinstance(fingerprint, str) else bytes(fingerprint)
        self.roots[root_id] = Root(root_id, debtor, creditor, face, maturity, self.invoices[tag], int(issued["nonce"]))
        self._add_piece(Piece(root_id, root_id, creditor, face, 1))

    def _add_piece(self, piece: Piece) -> None:
        self.pieces[piece.piece_id] = piece
        self.tree[piece.root_id].append(piece.piece_id)
        self.held[piece.holder].add(piece.piece_id)

    def _index_of(self, address: str) -> int:
        lookup: dict[str, int] = self.__dict__.setdefault(
            "_by_address", {p.address.lower(): p.index for p in self.world.parties}
        )
        return lookup[address.lower()]

    def usable(self, holder: int, *, margin: int) -> list[Piece]:
        """Pieces ``holder`` can still pass on or sell: unsplit, unfinanced, of a live receivable."""
        out, held = [], self.held[holder]
        for piece_id in sorted(held):
            piece = self.pieces[piece_id]
            root = self.roots[piece.root_id]
            if root.status != "outstanding":
                held.discard(piece_id)  # repaid or defaulted: nothing left to pass on
            elif root.maturity - self.now >= margin:
                out.append(piece)
        return out

    def pay(self) -> None:
        """Open-account deliveries: cores issue receivables; suppliers pass pieces down or issue their own."""
        due, self.to_pay = self.to_pay, []
        if not due:
            return
        by_core = [o for o in due if self.party(o.plan.buyer).kind == CORE]
        calls = [
            self._issue_call(
                o.plan.buyer, o.plan.supplier, o.plan.amount, o.order_id, o.plan.number, self._invoice(o.plan)
            )
            for o in by_core
        ]
        result = self.send("receivables", calls, ordered=True)
        for i in range(len(calls)):
            assert result is not None
            self._record_root(result, i)

        # A supplier pays its supplier with part of a piece it holds (the best fit), else in its own name.
        payments: dict[int, list[tuple[int, int, bytes]]] = {}
        own: list[LiveOrder] = []
        for order in (o for o in due if self.party(o.plan.buyer).kind != CORE):
            p = order.plan
            fits = [
                piece
                for piece in self.usable(p.buyer, margin=21 * DAY)
                if piece.amount - piece.reserved >= p.amount and len(payments.get(piece.piece_id, [])) < 30
            ]
            if fits:
                piece = min(fits, key=lambda x: (x.amount - x.reserved, x.piece_id))
                piece.reserved += p.amount
                payments.setdefault(piece.piece_id, []).append((p.supplier, p.amount, po_ref_hash(p.po_ref)))
            else:
                own.append(order)
        calls, kinds = [], []
        for piece_id, paid in payments.items():
            piece = self.pieces[piece_id]
            holder = self.acct(piece.holder)
            rest = piece.amount - sum(amount for _, amount, _ in paid)
            if rest == 0 and len(paid) == 1:
                payee = self.acct(paid[0][0]).address
                calls.append(Call.from_call(self.receivables.calls.transfer(holder.address, payee, piece_id), holder))
                kinds.append(("transfer", piece_id, paid))
                continue
            children = [Child(amount, self.acct(payee).address, ref) for payee, amount, ref in paid]
            if rest:
                children.append(Child(rest, holder.address, RETAINED))
            calls.append(
                Call.from_call(
                    self.receivables.calls.split(piece_id, children),
                    holder,
                    gas=150_000 + 200_000 * len(children),
                    label=f"split {piece_id}",
                )
            )
            kinds.append(("split", piece_id, paid))
        for order in own:
            calls.append(self._order_issue(order))
            kinds.append(("issue", 0, []))
        result = self.send("receivables", calls, ordered=True)
        for i, (kind, piece_id, paid) in enumerate(kinds):
            assert result is not None
            if kind == "issue":
                self._record_root(result, i)
                continue
            parent = self.pieces[piece_id]
            parent.reserved = 0
            self.held[parent.holder].discard(piece_id)
            if kind == "transfer":
                parent.holder = paid[0][0]
                self.held[parent.holder].add(piece_id)
                continue
            parent.split = True
            for created in self.events(result, i, "PieceCreated"):
                child = int(created["pieceId"])
                owner = self._index_of(created["holder"])
                self._add_piece(Piece(child, parent.root_id, owner, int(created["amount"]), parent.level + 1))

    def finance(self) -> None:
        """Holders ask every bank for a price and sell to the best one; the double financer tries twice.

        A holder first keeps paper enough to pay what it owes on its open-account orders still in
        flight (its largest pieces, which fit any payment), as a treasurer would: a core's receivable
        then travels down the tiers instead of each tier issuing its own. It asks for a price on the
        rest, each piece with a chance a week by its tier.
        """
        self.refresh_credit()
        owed: Counter[int] = Counter()
        for live in self.orders:
            if live.plan.open_account and live.stage != "done":
                owed[live.plan.buyer] += live.plan.amount
        rates = {1: 0.12, 2: 0.2, 3: 0.25}
        calls: list[Call] = []
        sold: list[tuple[int, int, int]] = []  # (piece, bank, seller)
        actor = self.world.double_financer
        scheme_from = max(2, self.plan.observation_ticks // 2)
        for supplier in self.world.suppliers:
            if self.failed(supplier.index):
                continue
            assert supplier.tier is not None
            for piece in self.sellable(supplier.index, owed[supplier.index]):
                forced = (
                    supplier.index == actor
                    and self.tick >= scheme_from
                    and "second_sale" not in self.attempted
                    and not any(seller == actor for _, _, seller in sold)
                )
                if not forced and self.rng.random() >= rates[supplier.tier]:
                    continue
                offer = best_offer(self.market, self.sale_request(piece, supplier))
                if offer is None and forced:
                    # The scheme needs a first sale: the flat bank's price, which it never refuses in tenor.
                    offer = (self.banks[1], self.flat_price(piece))
                if offer is None:
                    continue
                bank, price = offer
                calls.append(self._sale(piece, bank, price))
                sold.append((piece.piece_id, bank, supplier.index))
                self.book_sale(piece, bank, price)
        self.send("financing", calls)
        for piece_id, bank, seller in sold:
            self.pieces[piece_id].financed = True
            self.pieces[piece_id].holder = bank
            self.held[seller].discard(piece_id)
        if self.tick >= scheme_from:
            self.double_financing(actor, sold)

    def sellable(self, holder: int, owed: int) -> list[Piece]:
        """The pieces ``holder`` may sell after keeping its largest ones to cover ``owed``, by piece id."""
        rest, kept = [], 0
        for piece in sorted(self.usable(holder, margin=14 * DAY), key=lambda x: (-x.amount, x.piece_id)):
            if kept < owed:
                kept += piece.amount
            else:
                rest.append(piece)
        return sorted(rest, key=lambda x: x.piece_id)

    def _sale(self, piece: Piece, bank: int, price: int, seller: int | None = None) -> Call:
        nonce = self.bank_nonce[bank]
        self.bank_nonce[bank] += 1
        offer = FinanceOffer(piece.piece_id, self.acct(bank).address, price, self.now + 2 * DAY, nonce)
        signature = sign_typed_data(self.acct(bank), self.receivables.offer_document(offer))
        holder = self.acct(piece.holder if seller is None else seller)
        finance = self.receivables.calls.finance(offer, signature)
        return Call.from_call(finance, holder, label=f"finance {piece.piece_id}")

    def double_financing(self, actor: int, sold: list[tuple[int, int, int]]) -> None:
        """The actor's own signed attempts, mined and reverted: a second sale, a re-issued invoice."""
        account = self.acct(actor)
        if "second_sale" not in self.attempted:
            mine = [(piece_id, bank) for piece_id, bank, seller in sold if seller == actor]
            if mine:
                piece_id, first_bank = mine[0]
                other = next(b for b in self.banks if b != first_bank)
                piece = self.pieces[piece_id]
                call = self._sale(piece, other, self.flat_price(piece), seller=actor)
                self._attempt("second_sale", call, account, piece_id=piece_id, root_id=self.pieces[piece_id].root_id)
        if "duplicate_invoice" not in self.attempted:
            issued = sorted(r.root_id for r in self.roots.values() if r.creditor == actor and r.status == "outstanding")
            if issued:
                root = self.roots[issued[0]]
                # The same invoice, spelled differently: lower case, spaces, leading zeros dropped. Its
                # fingerprint is the first one's: the contract refuses it without seeing either number.
                tag, _, number = root.invoice.number.rpartition("-")
                cosmetic = f" {tag.lower()}-{int(number)} "
                call = self._issue_call(
                    root.debtor, actor, root.face, 0, 10**12 + root.nonce, cosmetic, root.invoice.date
                )
                self._attempt("duplicate_invoice", call, account, root_id=root.root_id)

    def _attempt(self, scheme: str, call: Call, actor: LocalAccount, *, piece_id: int = 0, root_id: int = 0) -> None:
        started = time.perf_counter()
        # A fixed gas limit: a reverting call has no estimate, and it must be mined, not refused.
        result = self.attempts.send([Call(call.to, call.data, actor, gas=600_000, label=f"{scheme} attempt")])
        self.phases["bad_actors"] += time.perf_counter() - started
        if not result.failures:
            raise PlayFailed(scheme, self.tick, ScenarioError(f"the {scheme} attempt by {actor.address} succeeded"))
        failure = result.failures[0]
        if failure.tx_hash is None:
            raise PlayFailed(scheme, self.tick, ScenarioError(f"the {scheme} attempt was not mined: {failure.reason}"))
        receipt = self.chain.w3.eth.get_transaction_receipt(failure.tx_hash)  # type: ignore[arg-type]
        error = failure.error
        self.refusals.append(
            Refusal(
                actor.address,
                scheme,
                failure.tx_hash,
                int(receipt["blockNumber"]),
                error.error if error else None,
                dict(error.error_args) if error else {},
                piece_id,
                root_id,
            )
        )
        self.attempted.add(scheme)

    def repayments(self) -> tuple[list[Call], list[Root]]:
        """Debtors repay at maturity (a weak core and failed suppliers miss some); unpaid roots default.

        The weak core deteriorates as a real anchor does, visibly before it fails: from a quarter of
        the world's months on, it stretches its payables, paying half its receivables three to six
        weeks late (its PAYDEX falls); from 60 % on, it never pays 35 % of them and pays 40 % late.
        """
        now, tick = self.now, self.tick
        months = self.world.config.months
        slow_from = self.plan.start + int(months * 0.25) * 30 * DAY
        late_from = self.plan.start + int(months * 0.6) * 30 * DAY
        calls, repaid = [], []
        for root in sorted(self.roots.values(), key=lambda r: r.root_id):
            if root.status != "outstanding":
                continue
            debtor = self.party(root.debtor)
            if root.repay_tick is None and root.maturity < now + WEEK and root.maturity >= now - WEEK:
                if self.failed(root.debtor, root.maturity):
                    root.repay_tick = -1  # a failed supplier stops paying
                elif debtor.weak_payer and root.maturity >= slow_from:
                    draw = self.rng.random()
                    if root.maturity >= late_from and draw < 0.35:
                        root.repay_tick = -1
                    elif draw >= (0.6 if root.maturity >= late_from else 0.5):
                        root.repay_tick = tick + self.rng.randint(3, 6)  # beyond the grace period, yet paid
                    else:
                        root.repay_tick = tick
                elif debtor.kind == SUPPLIER and debtor.traits is not None and debtor.traits.reliability < 0.6:
                    root.repay_tick = tick + 1  # pays a week late, inside the grace period
                else:
                    root.repay_tick = tick
            if root.repay_tick == tick:
                calls.append(Call.from_call(self.receivables.calls.repay(root.root_id, root.face), debtor.account))
                repaid.append(root)
            elif root.repay_tick == -1 and now > root.maturity + GRACE:
                marker = self.acct(self.banks[0])
                calls.append(Call.from_call(self.receivables.calls.mark_defaulted(root.root_id), marker))
                root.status = "defaulted"
                self.release(root)
        for root in repaid:
            root.status = "repaid"
            self.release(root)
        return calls, repaid

    def claims(self, repaid: Sequence[Root]) -> list[Call]:
        """Every leaf holder of a repaid root claims its amount (pull)."""
        claims = []
        for root in repaid:
            for piece in (self.pieces[i] for i in self.tree[root.root_id]):
                if not piece.split:
                    claims.append(Call.from_call(self.receivables.calls.claim(piece.piece_id), self.acct(piece.holder)))
        return claims
