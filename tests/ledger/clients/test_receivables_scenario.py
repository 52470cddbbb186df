"""The three-tier scenario through the typed clients, on both backends.

core buys from tier1 on open account; the carrier attests shipping and delivery; core issues a
receivable for the order; tier1 keeps part and splits the rest to its two tier-2 suppliers
(tier2 and a freshly admitted one); tier2 passes part on to tier3; tier1 and the new tier-2
supplier sell their pieces to two different banks; core repays; every holder claims.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import Attestation, Milestone, OrderStatus, OrderTerms, po_ref_hash
from ledger.domain.fingerprints import ConsortiumKey, InvoiceSecret, fingerprint
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms, ReceivableStatus, discount_bps
from ledger.errors import ContractReverted
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed

# Both backends: the whole three-tier story through the typed clients.
pytestmark = pytest.mark.parity

UNIT = 10**6
ORDER = 300_000 * UNIT
DAY = 86_400
MAX_UINT256 = 2**256 - 1


def newcomer(deployed: Deployed, label: str, roles: int) -> LocalAccount:
    """A party admitted for the scenario, with gas money."""
    account: LocalAccount = Account.from_key(keccak(text=f"scenario:{label}"))
    admin = deployed.accounts["admin"]
    deployed.chain.send_value(admin, account.address, 10**19)
    fn = deployed.membership.functions.admit(account.address, roles, 0, keccak(text=f"kyc:{label}"))
    deployed.chain.transact(fn, admin)
    return account


def test_three_tier_receivable_from_order_to_every_claim(deployed: Deployed) -> None:
    escrow, receivables, tokens, chain = deployed.escrow, deployed.receivables, deployed.tokens, deployed.chain
    accounts = deployed.accounts
    core, tier1, tier2, tier3 = (accounts[x] for x in ("core", "tier1", "tier2", "tier3"))
    bank, carrier, relayer = accounts["bank"], accounts["carrier"], accounts["relayer"]
    tier2b = newcomer(deployed, "tier2-b", ROLE["supplier"])
    bank2 = newcomer(deployed, "bank-2", ROLE["bank"])
    tokens.mint(core.address, ORDER, bank)
    for lender in (bank, bank2):
        tokens.mint(lender.address, ORDER, bank)
        tokens.approve(receivables.address, MAX_UINT256, lender)
    tokens.approve(receivables.address, ORDER, core)

    # 1. an open-account order, delivered with carrier attestations
    now = chain.timestamp()
    order_terms = OrderTerms(
        buyer=core.address,
        supplier=tier1.address,
        token=tokens.address,
        amount=ORDER,
        ship_by=now + 10 * DAY,
        deliver_by=now + 20 * DAY,
        inspection_required=False,
        terms_hash=keccak(text="open account, net 90"),
        po_ref_hash=po_ref_hash("PO-2026-0042"),
        nonce=42,
        deadline=now + DAY,
    )
    order_id, _ = escrow.create_open_account_order(
        order_terms,
        escrow.sign_open_account_order(core, order_terms),
        escrow.sign_open_account_order(tier1, order_terms),
        tier1,
    )
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        attestation = Attestation(order_id, milestone, chain.timestamp(), keccak(text=f"epcis:{milestone.name}"))
        escrow.attest(attestation, [escrow.sign_attestation(carrier, attestation)], relayer)
    assert escrow.order(order_id).status is OrderStatus.DELIVERED

    # 2. core acknowledges the debt (the invoice's fingerprint under the consortium key, and a commitment
    # to its number: the number stays with the parties); tier1 submits it
    now = chain.timestamp()
    key = ConsortiumKey.derived("three-tier consortium")

    def tag(number: str) -> bytes:
        return fingerprint(
            key,
            debtor=core.address,
            creditor=tier1.address,
            invoice_number=number,
            amount=ORDER,
            invoice_date="2026-01-15",
        )

    secret = InvoiceSecret.commit("INV-2026-0042")
    terms = IssueTerms(
        debtor=core.address,
        creditor=tier1.address,
        token=tokens.address,
        face_value=ORDER,
        maturity=now + 90 * DAY,
        invoice_hash=keccak(text="invoice INV-2026-0042.pdf"),
        fingerprint=tag("INV-2026-0042"),
        invoice_commitment=secret.commitment,
        order_id=order_id,
        nonce=1,
        deadline=now + DAY,
    )
    root_id, receipt = receivables.issue(terms, receivables.sign_issue(core, terms), tier1)
    assert receivables.holder_of(root_id) == tier1.address
    assert receivables.issued_against_order(order_id) == ORDER
    assert receivables.root_id_of_fingerprint(tag(" inv-2026-42")) == root_id
    assert receivables.root(root_id).fingerprint == tag("INV-2026-0042")
    assert secret.opens(receivables.root(root_id).invoice_commitment)  # tier1 proves the number to a bank
    assert [e.name for e in receivables.events(receipt)] == ["ReceivableIssued", "Transfer"]
    cosmetic = replace(terms, fingerprint=tag(" inv-2026-42 "), nonce=2, face_value=1)
    with pytest.raises(ContractReverted) as caught:
        receivables.issue(cosmetic, receivables.sign_issue(core, cosmetic), core)
    assert caught.value.error == "ReceivablesInvoiceAlreadyIssued"

    # 3. tier1 keeps 100k and pays its tier-2 suppliers; tier2 passes 50k on to tier3
    kept, to_tier2, to_tier2b = 100_000 * UNIT, 120_000 * UNIT, 80_000 * UNIT
    (t1_piece, t2_piece, t2b_piece), _ = receivables.split(
        root_id,
        [
            Child(kept, tier1.address, keccak(text="retained")),
            Child(to_tier2, tier2.address, keccak(text="PO-T2-0007")),
            Child(to_tier2b, tier2b.address, keccak(text="PO-T2B-0001")),
        ],
        tier1,
    )
    to_tier3 = 50_000 * UNIT
    (t2_kept, t3_piece), _ = receivables.split(
        t2_piece,
        [
            Child(to_tier2 - to_tier3, tier2.address, keccak(text="retained")),
            Child(to_tier3, tier3.address, keccak(text="PO-T3-0003")),
        ],
        tier2,
    )
    tree = receivables.tree(root_id)
    assert [p.piece_id for p in tree] == [root_id, t1_piece, t2_piece, t2b_piece, t2_kept, t3_piece]
    assert [p.parent_id for p in tree] == [0, root_id, root_id, root_id, t2_piece, t2_piece]
    assert sum(p.amount for p in tree if p.is_leaf) == ORDER
    logs = receivables.contract.events.PieceCreated().get_logs(from_block=0)
    from_events = {int(log["args"]["pieceId"]): (int(log["args"]["parentId"]), log["args"]["holder"]) for log in logs}
    assert from_events == {
        t1_piece: (root_id, tier1.address),
        t2_piece: (root_id, tier2.address),
        t2b_piece: (root_id, tier2b.address),
        t2_kept: (t2_piece, tier2.address),
        t3_piece: (t2_piece, tier3.address),
    }

    # 4. two pieces financed by two banks
    sales = ((t1_piece, tier1, bank, 98_000 * UNIT), (t2b_piece, tier2b, bank2, 78_400 * UNIT))
    for piece_id, seller, lender, price in sales:
        offer = FinanceOffer(piece_id, lender.address, price, chain.timestamp() + DAY, nonce=1)
        receipt = receivables.finance(offer, receivables.sign_offer(lender, offer), seller)
        event = next(e for e in receivables.events(receipt) if e.name == "PieceFinanced")
        amount = receivables.piece(piece_id).amount
        assert event.args["discountBps"] == discount_bps(amount, price, event.args["timeToMaturity"])
        assert 800 <= event.args["discountBps"] <= 820
        assert receivables.holder_of(piece_id) == lender.address
    twice = FinanceOffer(t1_piece, bank2.address, 99_000 * UNIT, chain.timestamp() + DAY, nonce=2)
    with pytest.raises(ContractReverted) as caught:
        receivables.finance(twice, receivables.sign_offer(bank2, twice), bank)
    assert caught.value.error == "ReceivablesAlreadyFinanced"
    assert tokens.balance_of(tier1.address) == 98_000 * UNIT
    assert tokens.balance_of(tier2b.address) == 78_400 * UNIT

    # 5. core repays in two instalments, the last on the maturity date
    receivables.repay(root_id, 200_000 * UNIT, core)
    chain.advance_time(receivables.root(root_id).maturity - chain.timestamp() - 5)
    receivables.repay(root_id, 100_000 * UNIT, core)
    assert chain.timestamp() <= receivables.root(root_id).maturity
    assert receivables.status(root_id) is ReceivableStatus.REPAID
    assert tokens.balance_of(core.address) == 0
    assert tokens.balance_of(receivables.address) == ORDER

    # 6. every leaf holder claims
    for piece_id, holder in ((t1_piece, bank), (t2b_piece, bank2), (t2_kept, tier2), (t3_piece, tier3)):
        claimed, _ = receivables.claim(piece_id, holder)
        assert claimed == receivables.piece(piece_id).amount
    assert tokens.balance_of(receivables.address) == 0
    assert receivables.root(root_id).claimed == ORDER
    assert tokens.balance_of(bank.address) == ORDER + 2_000 * UNIT
    assert tokens.balance_of(bank2.address) == ORDER + 1_600 * UNIT
    assert tokens.balance_of(tier1.address) == 98_000 * UNIT
    assert tokens.balance_of(tier2b.address) == 78_400 * UNIT
    assert tokens.balance_of(tier2.address) == 70_000 * UNIT
    assert tokens.balance_of(tier3.address) == 50_000 * UNIT
