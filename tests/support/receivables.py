"""Driving Receivables on a deployed ledger: issue terms, offers, a ready world, state snapshots.

A test module declares its fixtures with ``tests.support.worlds``:

    module_world, world = world_fixtures(open_rworld)

The world is built once per module and backend under its own snapshot (like ``open_world`` of
``tests.support.escrow``); each test runs under the per-test snapshot of ``deployed``.

Issue terms carry the invoice's fingerprint under ``CONSORTIUM_KEY`` (a fixed test key) and a
commitment under a salt derived from the number (``salt_of``), so a test can recompute both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.clients.receivables import ReceivablesClient
from ledger.domain.escrow import Milestone
from ledger.domain.fingerprints import ConsortiumKey, fingerprint, invoice_commitment
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms, Piece, Root
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    DAY,
    MAX_UINT256,
    TX_GAS,
    UNIT,
    acct,
    addr,
    attest_fn,
    attestation_of,
    balance,
    cached,
    escrow_of,
    fixed_key,
    make_terms,
    oracle_signatures,
    quick,
    send,
    tokens_of,
)

FACE = 100_000 * UNIT  # the default face value
ORDER_AMOUNT = 120_000 * UNIT  # the world's delivered open-account order
MATURITY_IN = 90 * DAY
GAS_ETH = 10**19
CONSORTIUM_KEY = ConsortiumKey.derived("tests/consortium-key")
INVOICE_DATE = "2026-01-15"


def salt_of(invoice: str) -> bytes:
    """A fixed salt per invoice number (parties draw theirs at random: ``new_salt``)."""
    return keccak(text=f"salt of {invoice}")


def fingerprint_of(
    deployed: Deployed,
    invoice: str,
    *,
    debtor: str = "core",
    creditor: str = "tier1",
    amount: int = FACE,
    invoice_date: str = INVOICE_DATE,
    key: ConsortiumKey = CONSORTIUM_KEY,
) -> bytes:
    """The fingerprint ``issue_terms`` gives invoice ``invoice`` of these parties (labels of ``deployed``)."""
    return fingerprint(
        key,
        debtor=addr(deployed, debtor),
        creditor=addr(deployed, creditor),
        invoice_number=invoice,
        amount=amount,
        invoice_date=invoice_date,
    )


def receivables_of(deployed: Deployed) -> ReceivablesClient:
    """The Receivables client of ``deployed`` over its QuickChain, built once per chain."""
    address = deployed.addresses["Receivables"]
    client: ReceivablesClient = cached(
        deployed, "receivables", lambda: ReceivablesClient(quick(deployed), deployed.build, address)
    )
    return client


def party(deployed: Deployed, who: str | LocalAccount) -> LocalAccount:
    return who if isinstance(who, LocalAccount) else acct(deployed, who)


def issue_terms(
    deployed: Deployed,
    *,
    debtor: str = "core",
    creditor: str = "tier1",
    face: int = FACE,
    maturity_in: int = MATURITY_IN,
    invoice: str = "INV-0001",
    order_id: int = 0,
    nonce: int = 1,
    deadline_in: int = DAY,
    token: str | None = None,
    invoice_amount: int | None = None,
    invoice_date: str = INVOICE_DATE,
    key: ConsortiumKey = CONSORTIUM_KEY,
    tag: bytes | None = None,
) -> IssueTerms:
    """Terms for ``invoice`` (amount ``invoice_amount``, default the face value); ``tag`` overrides the
    fingerprint computed under ``key``."""
    now = deployed.chain.timestamp()
    amount = face if invoice_amount is None else invoice_amount
    if tag is None:
        tag = fingerprint_of(
            deployed, invoice, debtor=debtor, creditor=creditor, amount=amount, invoice_date=invoice_date, key=key
        )
    return IssueTerms(
        debtor=addr(deployed, debtor),
        creditor=addr(deployed, creditor),
        token=token or deployed.addresses["SettlementToken"],
        face_value=face,
        maturity=now + maturity_in,
        invoice_hash=keccak(text=f"invoice document {invoice}"),
        fingerprint=tag,
        invoice_commitment=invoice_commitment(salt_of(invoice), invoice),
        order_id=order_id,
        nonce=nonce,
        deadline=now + deadline_in,
    )


def issue_fn(deployed: Deployed, terms: IssueTerms, signer: LocalAccount | None = None) -> ContractFunction:
    client = receivables_of(deployed)
    signature = client.sign_issue(signer or _account(deployed, terms.debtor), terms)
    return client.contract.functions.issue(terms.as_tuple(), signature)


def issue(deployed: Deployed, terms: IssueTerms, submitter: str = "core") -> tuple[int, TxReceipt]:
    receipt = send(deployed, issue_fn(deployed, terms), acct(deployed, submitter))
    return receivables_of(deployed).piece_count(), receipt


def children(deployed: Deployed, *parts: tuple[int, str | LocalAccount, str]) -> list[Child]:
    """Children from (amount, holder label or account, sub-order reference) triples."""
    out = []
    for amount, holder, ref in parts:
        address = holder.address if isinstance(holder, LocalAccount) else addr(deployed, holder)
        out.append(Child(amount, address, keccak(text=ref)))
    return out


def split_fn(deployed: Deployed, piece_id: int, kids: list[Child]) -> ContractFunction:
    return receivables_of(deployed).contract.functions.split(piece_id, [k.as_tuple() for k in kids])


def split(deployed: Deployed, piece_id: int, kids: list[Child], holder: str | LocalAccount) -> list[int]:
    fn, sender = split_fn(deployed, piece_id, kids), party(deployed, holder)
    deployed.chain.call(fn, sender=sender.address)  # a revert raises the decoded error here
    deployed.chain.transact(fn, sender, gas=200_000 + 200_000 * len(kids))
    last = receivables_of(deployed).piece_count()
    return list(range(last - len(kids) + 1, last + 1))


def offer_of(
    deployed: Deployed,
    piece_id: int,
    *,
    bank: str | LocalAccount = "bank",
    price: int,
    deadline_in: int = DAY,
    nonce: int = 1,
) -> FinanceOffer:
    address = bank.address if isinstance(bank, LocalAccount) else addr(deployed, bank)
    return FinanceOffer(piece_id, address, price, deployed.chain.timestamp() + deadline_in, nonce)


def finance_fn(deployed: Deployed, offer: FinanceOffer, signer: LocalAccount | None = None) -> ContractFunction:
    client = receivables_of(deployed)
    signature = client.sign_offer(signer or _account(deployed, offer.bank), offer)
    return client.contract.functions.finance(offer.as_tuple(), signature)


def finance(deployed: Deployed, offer: FinanceOffer, holder: str | LocalAccount) -> TxReceipt:
    return send(deployed, finance_fn(deployed, offer), party(deployed, holder))


def repay(deployed: Deployed, root_id: int, amount: int, payer: str = "core") -> TxReceipt:
    return send(deployed, receivables_of(deployed).contract.functions.repay(root_id, amount), acct(deployed, payer))


def claim(deployed: Deployed, piece_id: int, holder: str | LocalAccount) -> TxReceipt:
    return send(deployed, receivables_of(deployed).contract.functions.claim(piece_id), party(deployed, holder))


def events(deployed: Deployed, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
    """Every Receivables event of ``receipt`` as (name, args), ERC-721 Transfer included."""
    return [(e.name, e.args) for e in receivables_of(deployed).events(receipt)]


def named(deployed: Deployed, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    return [args for event, args in events(deployed, receipt) if event == name]


def piece(deployed: Deployed, piece_id: int) -> Piece:
    return receivables_of(deployed).piece(piece_id)


def root(deployed: Deployed, root_id: int) -> Root:
    return receivables_of(deployed).root(root_id)


def holder(deployed: Deployed, piece_id: int) -> str:
    return receivables_of(deployed).holder_of(piece_id)


def state(deployed: Deployed, pieces: Iterable[int] = (), roots: Iterable[int] = (), **extra: Any) -> dict[str, Any]:
    """Everything a bad call must leave unchanged: pieces, holders, roots, count, balances."""
    client = receivables_of(deployed)
    piece_ids = list(pieces)
    labels = ("core", "tier1", "tier2", "tier3", "bank")
    return {
        "count": client.piece_count(),
        "pieces": [client.piece(i) for i in piece_ids],
        "holders": [client.holder_of(i) for i in piece_ids],
        "roots": [client.root(i) for i in roots],
        "balances": [balance(deployed, a) for a in (client.address, *(addr(deployed, x) for x in labels))],
        **extra,
    }


def assert_conserved(deployed: Deployed) -> None:
    """The contract holds exactly what every root had repaid less what its leaves claimed."""
    client = receivables_of(deployed)
    count = client.piece_count()
    roots = [client.root(i) for i in range(1, count + 1) if client.piece(i).is_root]
    assert balance(deployed, client.address) == sum(r.repaid - r.claimed for r in roots)


def _account(deployed: Deployed, address: str) -> LocalAccount:
    wanted = to_checksum_address(address)
    for account in (*deployed.accounts.by_role.values(), *EXTRA.values()):
        if account.address == wanted:
            return account
    raise KeyError(address)


EXTRA = {"bank2": fixed_key("bank-2"), "tier2b": fixed_key("tier2-b"), "stranger": fixed_key("stranger")}


# -- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RWorld:
    """Root 1: core -> tier1, FACE, standalone (invoice "INV-0001"); orders are core -> tier1, open account."""

    root: int
    delivered_order: int  # DELIVERED, no inspection, ORDER_AMOUNT
    inspecting_order: int  # DELIVERED, inspection required, not inspected yet
    created_order: int  # CREATED
    escrow_order: int  # an escrow (not open-account) order, CREATED
    bank2: LocalAccount  # a second bank, funded and approving the contract
    tier2b: LocalAccount  # a supplier admitted for these tests
    stranger: LocalAccount  # not a member (has gas)


def open_rworld(session: Deployed) -> Iterator[RWorld]:
    snapshot = session.chain.snapshot()
    try:
        yield _build(session)
    finally:
        session.chain.revert(snapshot)


def _build(deployed: Deployed) -> RWorld:
    chain, tokens, escrow = deployed.chain, tokens_of(deployed), escrow_of(deployed)
    client = receivables_of(deployed)
    admin, bank, relayer = acct(deployed, "admin"), acct(deployed, "bank"), acct(deployed, "relayer")
    bank2, tier2b, stranger = EXTRA["bank2"], EXTRA["tier2b"], EXTRA["stranger"]

    def run(calls: Iterable[tuple[ContractFunction, LocalAccount]]) -> None:
        for fn, sender in calls:
            chain.transact(fn, sender, gas=TX_GAS)

    for extra in (bank2, tier2b, stranger):
        chain.send_value(admin, extra.address, GAS_ETH)
    m = deployed.membership.functions
    calls: list[tuple[ContractFunction, LocalAccount]] = [
        (m.admit(bank2.address, ROLE["bank"], 0, keccak(text="kyc:bank-2")), admin),
        (m.admit(tier2b.address, ROLE["supplier"], 0, keccak(text="kyc:tier2-b")), admin),
    ]
    for who, amount in (("core", 10 * FACE), ("tier1", FACE), ("bank", 10 * FACE), ("relayer", FACE)):
        calls.append((tokens.contract.functions.mint(addr(deployed, who), amount), bank))
    calls.append((tokens.contract.functions.mint(bank2.address, 10 * FACE), bank))
    for payer in (*(acct(deployed, x) for x in ("core", "tier1", "bank", "relayer")), bank2):
        calls.append((tokens.contract.functions.approve(client.address, MAX_UINT256), payer))
    run(calls)

    core = acct(deployed, "core")
    order_terms = [
        make_terms(deployed, po=f"RCV-PO-{n}", nonce=500 + n, amount=ORDER_AMOUNT, inspection=(n == 2), deadline_in=DAY)
        for n in (1, 2, 3, 4)
    ]
    ids = []
    for n, terms in enumerate(order_terms):
        buyer_sig = escrow.sign_open_account_order(core, terms)
        supplier_sig = escrow.sign_open_account_order(acct(deployed, "tier1"), terms)
        fn = escrow.contract.functions.createOpenAccountOrder(terms.as_tuple(), buyer_sig, supplier_sig)
        if n == 3:
            buyer_sig = escrow.sign_order(core, terms)
            supplier_sig = escrow.sign_order(acct(deployed, "tier1"), terms)
            fn = escrow.contract.functions.createOrder(terms.as_tuple(), buyer_sig, supplier_sig)
        run([(fn, core)])
        ids.append(int(chain.call(escrow.contract.functions.orderIdOfPoRef(terms.po_ref_hash))))
    for order_id in ids[:2]:
        for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
            attestation = attestation_of(deployed, order_id, milestone, salt="rworld")
            sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])
            run([(attest_fn(deployed, attestation, sigs), relayer)])

    root_terms = issue_terms(deployed, invoice="INV-0001", nonce=1)
    run([(issue_fn(deployed, root_terms), core)])
    chain.mine()  # see tests.support.escrow: the snapshot block should be an empty one
    return RWorld(
        root=client.piece_count(),
        delivered_order=ids[0],
        inspecting_order=ids[1],
        created_order=ids[2],
        escrow_order=ids[3],
        bank2=bank2,
        tier2b=tier2b,
        stranger=stranger,
    )


def inspect_passed(deployed: Deployed, order_id: int) -> None:
    attestation = attestation_of(deployed, order_id, Milestone.INSPECTION_PASSED, salt="rworld")
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "inspector")])
    deployed.chain.transact(attest_fn(deployed, attestation, sigs), acct(deployed, "relayer"), gas=TX_GAS)
