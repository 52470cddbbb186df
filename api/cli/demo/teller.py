"""``scf demo`` (the story): the six steps told in the terminal, each saying what happened and why it can
be trusted: the world; the tier-3 supplier's verified history and its piece's path up the receivable
tree to the core; its credit decision with reasons, recomputed; the sale to a bank (bank-signed offer,
``finance`` signed by the supplier); the bank's storage-proof check against the node; the auditor's replay.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from api.cli.audit import audit_replay, print_audited
from api.cli.demo.base import EXIT_REFUSED, SEED, scf_command
from api.cli.demo.cast import keys_of
from api.cli.demo.stage import Stack, prepare, stage, step
from api.cli.demo.story import Story
from api.cli.score import load_model
from ledger.clients.receivables import ReceivablesClient
from ledger.domain.receivables import BPS, YEAR, FinanceOffer
from ledger.errors import LedgerError
from ledger.eth.proofs import ClaimMismatch, ProofError, ReceivableLayout, fetch_bundle, verify_bundle, web3_rpc
from ledger.index.sql.models import CreditLimit, Cursor, Milestone, Order, Piece, Root
from scenarios.world import BANK, CORE, DAY, UNIT
from scoring import features
from scoring.chain_source import block_at
from scoring.decision import Scorer
from scoring.source import SqlSource

#: A bank's discount on a core's receivable, per year: what the world's banks ask of a strong core.
DISCOUNT_BPS = 500


def _tokens(amount: int) -> str:
    return f"{amount // UNIT:,}" + (f".{amount % UNIT:06d}".rstrip("0") if amount % UNIT else "") + " dUSD"


def _when(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def tell_story(out: Path, db: str | None) -> int:
    """Set up (only what is missing), stage the story and tell it; ``EXIT_REFUSED`` when a check does not hold."""
    console = Console()
    stack = prepare(out, db, console)
    step(console, "staging: the tier-3 supplier and its piece")
    story, piece_id, cast = stage(stack, console)
    return Teller(stack, story, piece_id, cast, console).tell()


class Teller:
    """The six steps of ``scf demo``, each saying what happened and why it can be trusted."""

    def __init__(self, stack: Stack, story: Story, piece_id: int, cast: dict[str, Any], console: Console) -> None:
        self.stack = stack
        self.story = story
        self.piece_id = piece_id
        self.cast = cast
        self.console = console
        self.names = {p.address: p.name for p in stack.world.parties}
        assert stack.chain.accounts is not None
        self.names[stack.chain.accounts["bank"].address] = "dev bank"
        self.client = ReceivablesClient(stack.chain, stack.build, stack.addresses["Receivables"])

    def name(self, address: str) -> str:
        return f"{self.names.get(address, address)} ({address[:8]}…)"

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def why(self, text: str) -> None:
        self.console.print(f"  [green]why it can be trusted:[/green] {text}", highlight=False)

    def tell(self) -> int:
        engine = self.stack.engine()
        try:
            self.world()
            self.supplier(engine)
            self.credit(engine)
        finally:
            engine.dispose()
        self.sale()
        if not self.proof():
            return EXIT_REFUSED
        return 0 if self.audit() else EXIT_REFUSED

    # 1
    def world(self) -> None:
        step(self.console, "1. the world")
        table = Table(title=f"parties of the demo world (seed {SEED})")
        for column in ("tier", "parties", "for example"):
            table.add_column(column)
        w = self.stack.world
        rows: list[tuple[str, list[str]]] = [("core enterprises", [p.name for p in w.of_kind(CORE)])]
        rows += [(f"tier {t} suppliers", [p.name for p in w.tier(t)]) for t in (1, 2, 3)]
        rows += [(kind + "s", [p.name for p in w.of_kind(kind)]) for kind in ("bank", "carrier", "inspector")]
        for label, members in rows:
            table.add_row(label, str(len(members)), ", ".join(members[:3]) + (" …" if len(members) > 3 else ""))
        self.console.print(table)
        self.why(
            "every order, attestation, receivable and payment of this world is a transaction on the devnet, "
            f"signed by the party that would send it; {self.stack.out / 'world.json'} names the deployment and the "
            "blocks"
        )

    # 2
    def supplier(self, engine: Engine) -> None:
        step(self.console, "2. the tier-3 supplier: its verified history and the piece it holds")
        chain_id, t3 = self.stack.chain.chain_id, self.story.tier3
        with engine.connect() as connection:
            orders = connection.execute(
                select(Order.status, func.count()).where(Order.chain_id == chain_id, Order.supplier == t3)
                .group_by(Order.status)
            ).all()  # fmt: skip
            buyers = connection.execute(
                select(Order.buyer).where(Order.chain_id == chain_id, Order.supplier == t3).distinct()
            ).scalars().all()  # fmt: skip
            attested = connection.execute(
                select(func.count()).select_from(Milestone)
                .join(Order, (Order.chain_id == Milestone.chain_id) & (Order.order_id == Milestone.order_id))
                .where(Milestone.chain_id == chain_id, Order.supplier == t3)
            ).scalar_one()  # fmt: skip
            path = self._path(connection)
        self.say(f"[bold]{self.name(t3)}[/bold], a tier-3 supplier")
        self.say(f"  orders as supplier: {', '.join(f'{n} {s.lower()}' for s, n in orders)}")
        self.say(f"  sells to: {', '.join(self.name(b) for b in buyers)}; never to a core enterprise")
        self.say(f"  oracle-attested milestones on its orders: {attested}")
        self.say("  its piece, up the receivable tree to the core:")
        for depth, (piece, root) in enumerate(path):
            pad = "    " + "  " * depth
            what = f"piece {piece.piece_id}: {_tokens(int(piece.amount))} held by {self.name(piece.holder)}"
            if piece.parent_id == 0:
                what = (
                    f"receivable {root.root_id}: {_tokens(int(root.face_value))} owed by {self.name(root.debtor)} to "
                    f"{self.name(root.creditor)}, {self._invoice(int(root.root_id), root.fingerprint)}, "
                    f"maturity {_when(int(root.maturity))}"
                )
            elif piece.child_count:
                what += " (split)"
            self.say(pad + ("└ " if depth else "") + what)
        self.why(
            "the core signed the receivable (EIP-712) when the delivery it pays for was accepted; each split was "
            "sent by the holder of the piece; every milestone counts only with a quorum of distinct oracles. The "
            "chain holds the invoice's fingerprint, a keyed tag a member bank recomputes with the consortium's key "
            "(scf fingerprint compute), never its number: the parties keep that off chain (invoices.json)"
        )

    def _invoice(self, root_id: int, fingerprint: str) -> str:
        """The invoice as the chain names it (its fingerprint, short), and its number as the parties keep it."""
        tag = f"invoice fingerprint {fingerprint[:10]}…{fingerprint[-4:]}"
        try:
            kept = json.loads((self.stack.out / "invoices.json").read_text())["roots"][str(root_id)]
        except (OSError, ValueError, KeyError):
            return tag
        return f"{tag} (number {kept['invoiceNumber']}, off chain)"

    def _path(self, connection: Any) -> list[tuple[Any, Any]]:
        chain_id = self.stack.chain.chain_id
        root = connection.execute(
            select(Root).where(Root.chain_id == chain_id, Root.root_id == self.story.root_id)
        ).one()
        path, current = [], self.piece_id
        while current:
            piece = connection.execute(select(Piece).where(Piece.chain_id == chain_id, Piece.piece_id == current)).one()
            path.append((piece, root))
            current = piece.parent_id
        return list(reversed(path))

    # 3
    def credit(self, engine: Engine) -> None:
        step(self.console, "3. its credit decision, with reasons")
        assert self.stack.chain.accounts is not None
        dev_bank = self.stack.chain.accounts["bank"].address
        with engine.connect() as connection:
            published = connection.execute(
                select(CreditLimit).where(
                    CreditLimit.chain_id == self.stack.chain.chain_id,
                    CreditLimit.bank == dev_bank,
                    CreditLimit.party == self.story.tier3,
                )
            ).one_or_none()
        if published is None:
            self.say(f"the dev bank published no limit for {self.name(self.story.tier3)}")
            return
        # The model `scf score --publish` used: the same setting, and its hash must be the one published.
        model = load_model()
        if model.version.lower() != str(published.model_hash).lower():
            self.say(f"the published limit names model {published.model_hash}, not {model.version}: not recomputed")
            return
        as_of_time = int(published.valid_until) - model.validity
        as_of_block = block_at(self.stack.chain, as_of_time, head=int(published.updated_block))
        source = SqlSource(engine, self.stack.chain.chain_id)
        history = dataclasses.replace(source.history(as_of_block, 0), as_of_time=as_of_time)
        decision = Scorer(features.build(history), model).decide(self.story.tier3)
        self.say(
            f"published on chain by the dev bank: limit [bold]{_tokens(int(published.limit))}[/bold], score "
            f"{published.score}, grade code {published.grade}, valid until {_when(int(published.valid_until))}"
        )
        self.say(
            f"recomputed now from the index as of block {as_of_block}: limit {_tokens(decision.limit)}, score "
            f"{decision.score}, grade {decision.grade}, PD {(decision.pd_bps or 0) / 100:.2f}%"
        )
        for reason in decision.reasons:
            lost = f" (-{reason['points_lost']} points)" if reason.get("points_lost") else ""
            self.say(f"  - {reason['text']}{lost}")
        agrees = decision.limit == int(published.limit) and (decision.score or 0) == int(published.score)
        self.why(
            "the decision uses verified history only (oracle-attested deliveries, on-chain payments), the model's "
            f"hash {str(published.model_hash)[:12]}… is in the signed limit, and the recomputation "
            + ("[bold]agrees[/bold]" if agrees else "[red]DOES NOT AGREE[/red]")
        )

    # 4
    def sale(self) -> None:
        step(self.console, "4. it sells the piece to a bank")
        chain, client = self.stack.chain, self.client
        bank = self.stack.world.of_kind(BANK)[0].account
        seller = keys_of(self.stack.world)[self.story.tier3]
        piece = client.piece(self.piece_id)
        root = client.root(piece.root_id)
        now = chain.timestamp()
        price = piece.amount - piece.amount * DISCOUNT_BPS * (root.maturity - now) // (BPS * YEAR)
        nonce = 1_000_000 + self.piece_id
        while client.offer_nonce_used(bank.address, nonce):
            nonce += 1
        offer = FinanceOffer(self.piece_id, bank.address, price, now + 2 * DAY, nonce)
        signature = client.sign_offer(bank, offer)
        self.say(
            f"{self.name(bank.address)} signs an EIP-712 offer: piece {self.piece_id} ({_tokens(piece.amount)}, "
            f"matures {_when(root.maturity)}) for {_tokens(price)} ({DISCOUNT_BPS / 100:.1f}% a year), valid 2 days"
        )
        receipt = client.finance(offer, signature, seller)
        self.say(
            f"{self.name(seller.address)} sends `finance` with the offer: mined in block {receipt['blockNumber']}, "
            f"tx {receipt['transactionHash'].to_0x_hex()}"
        )
        self.say(
            f"now: holder {self.name(client.holder_of(self.piece_id))}, financed {client.piece(self.piece_id).financed}"
        )
        self.why(
            "the contract checked the bank's signature and role, that the piece is live, unfinanced and unclaimed, "
            "then moved the piece to the bank and the price to the supplier in one transaction: it cannot be sold twice"
        )

    # 5
    def proof(self) -> bool:
        step(self.console, "5. the bank verifies the piece against the node, with a storage proof")
        chain = self.stack.chain
        contract = self.stack.addresses["Receivables"]
        layout = ReceivableLayout.from_storage_layout(self.stack.build["Receivables"].storage_layout)
        rpc = web3_rpc(chain.w3, chain.endpoint)
        bundle = fetch_bundle(rpc, contract, self.piece_id, layout)
        header = rpc("eth_getBlockByNumber", [hex(int(bundle["block"]["number"])), False])
        try:
            state = verify_bundle(bundle, header, layout, contract=contract)
        except ProofError as exc:
            self.say(f"[red]REFUSED[/red]: {exc}")
            return False
        proved = state.to_json()
        self.say(
            f"eth_getProof at block {bundle['block']['number']}: account proof to the header's stateRoot "
            f"{str(bundle['block']['stateRoot'])[:18]}…, {len(bundle['proof']['storageProof'])} storage slots to "
            "the contract's storageRoot"
        )
        for key in ("piece_id", "root_id", "holder", "amount", "financed", "debtor", "maturity"):
            if key in proved:
                self.say(f"  {key:<10} {proved[key]}")
        tampered = json.loads(json.dumps(bundle))
        tampered["claim"]["holder"] = self.story.tier3
        try:
            verify_bundle(tampered, header, layout, contract=contract)
            self.say("[red]a tampered claim was accepted[/red]")
            return False
        except ClaimMismatch as exc:
            self.say(f"  a claim doctored to say the supplier still holds it is refused: {exc}")
        self.why(
            "the proof is checked against the block header of the verifier's own node, with the storage layout of "
            f"its own compile of the sources; a bank runs the same check with `{scf_command()} verify "
            f"receivable {self.piece_id} --rpc URL`"
        )
        return True

    # 6
    def audit(self) -> bool:
        step(self.console, "6. the auditor's replay agrees")
        self.stack.index()
        try:
            audited = audit_replay(
                self.stack.chain, self.stack.build, deployment=self.stack.record, db=self.stack.db_url
            )
        except LedgerError as exc:  # the replay could not run: the story's last check does not hold
            print(f"error: {exc}", file=sys.stderr)
            return False
        print_audited(audited, show=10)
        engine = self.stack.engine()
        try:
            with engine.connect() as connection:
                cursor = connection.execute(select(Cursor).where(Cursor.chain_id == self.stack.chain.chain_id)).one()
        finally:
            engine.dispose()
        self.why(
            "the replay re-reads every event from the chain (not the SQL), re-verifies every signature, re-derives "
            "all state with the contracts' rules in Python and compares it with the on-chain views and with every "
            f"row of the index (cursor at block {cursor.block_number}); two auditors compare the one-line digest"
        )
        return audited.ok
