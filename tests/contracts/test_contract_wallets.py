"""Contract-wallet parties (ERC-1271): a Safe-like 2-of-3 wallet buys, funds, owes and grants like a key does.

The wallet (``tests.support.multisig``) is a member: CORE in the story (it co-signs a purchase order,
funds it from its own balance through its own transactions, and issues a receivable as debtor), and a
second wallet with the same three owners is a BANK (it signs a credit limit). The contracts ask a party
with code whether a signature is its own (``isValidSignature``, OpenZeppelin's ``SignatureChecker``) and
refuse with their usual ``...InvalidSigner(expected, 0)`` when it says no; a key's signatures keep
their ECDSA checks and errors. Every test here runs on both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import OrderStatus, OrderTerms
from ledger.errors import ContractReverted
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    MAX_UINT256,
    TX_GAS,
    acct,
    addr,
    escrow_of,
    fixed_key,
    grant_of,
    high_s,
    make_terms,
    registry_of,
    revert_of,
    tokens_of,
)
from tests.support.multisig import Multisig, deploy_multisig, owner_keys
from tests.support.receivables import issue_terms, receivables_of
from tests.support.worlds import world_fixtures

pytestmark = pytest.mark.parity


@dataclass(frozen=True)
class Wallets:
    """The CORE wallet (funded, escrow approved) and a BANK wallet with the same three owners."""

    core: Multisig
    bank: Multisig


def _admit(deployed: Deployed, address: str, role: str) -> None:
    fn = deployed.membership.functions.admit(address, ROLE[role], 0, keccak(text=f"kyc:wallet:{role}"))
    deployed.chain.transact(fn, acct(deployed, "admin"), gas=TX_GAS)


def open_wallets(session: Deployed) -> Iterator[Wallets]:
    chain = session.chain
    snapshot = chain.snapshot()
    try:
        owners = owner_keys("core-wallet")
        core = deploy_multisig(chain, acct(session, "admin"), owners)
        bank = deploy_multisig(chain, acct(session, "admin"), owners)  # same owners, another domain
        _admit(session, core.address, "core")
        _admit(session, bank.address, "bank")
        tokens = tokens_of(session)
        chain.send(tokens.calls.mint(core.address, 3 * AMOUNT), acct(session, "bank"), gas=TX_GAS)
        core.send(tokens.calls.approve(session.addresses["TradeEscrow"], MAX_UINT256), acct(session, "relayer"))
        chain.mine()  # eth-tester re-imports the snapshot's block on revert: let it be an empty one
        yield Wallets(core, bank)
    finally:
        chain.revert(snapshot)


module_world, world = world_fixtures(open_wallets)


def _order_terms(deployed: Deployed, buyer: str, *, po: str = "PO-WALLET-0001", nonce: int = 7) -> OrderTerms:
    return replace(make_terms(deployed, po=po, nonce=nonce), buyer=buyer)


def _order_digest(deployed: Deployed, terms: OrderTerms) -> bytes:
    return eip712.digest(escrow_of(deployed).order_document(terms))


def _create_refusal(deployed: Deployed, terms: OrderTerms, buyer_sig: bytes, supplier_sig: bytes) -> ContractReverted:
    escrow = escrow_of(deployed)
    return revert_of(lambda: escrow.create_order(terms, buyer_sig, supplier_sig, acct(deployed, "tier1")))


# -- the story ----------------------------------------------------------------------------------


def test_a_two_of_three_wallet_co_signs_funds_and_owes_as_a_key_would(deployed: Deployed, world: Wallets) -> None:
    wallet, escrow, tier1, relayer = (
        world.core,
        escrow_of(deployed),
        acct(deployed, "tier1"),
        acct(deployed, "relayer"),
    )
    terms = _order_terms(deployed, wallet.address)
    buyer_sig = wallet.sign(_order_digest(deployed, terms))  # owners 0 and 1 of 3
    assert len(buyer_sig) == 130
    supplier_sig = escrow.sign_order(tier1, terms)
    order_id, _ = escrow.create_order(terms, buyer_sig, supplier_sig, tier1)
    assert escrow.order(order_id).terms.buyer == wallet.address

    # The wallet funds from its own balance with a transaction of its own, signed by two other owners.
    fund = escrow.calls.fund(order_id)
    wallet.execute(fund.to, fund.data, relayer, signers=wallet.owners[1:])
    assert escrow.order(order_id).status == OrderStatus.FUNDED
    assert tokens_of(deployed).balance_of(wallet.address) == 2 * AMOUNT

    # As debtor, the wallet acknowledges a receivable to tier1 (owners 0 and 2); the creditor submits it.
    receivables = receivables_of(deployed)
    issue = replace(issue_terms(deployed, invoice="INV-WALLET-1"), debtor=wallet.address)
    debtor_sig = wallet.sign(eip712.digest(receivables.issue_document(issue)), wallet.owners[0], wallet.owners[2])
    root_id, _ = receivables.issue(issue, debtor_sig, tier1)
    assert receivables.root(root_id).debtor == wallet.address
    assert receivables.holder_of(root_id) == tier1.address


def test_a_wallet_bank_publishes_a_limit_it_signed_and_nothing_less(deployed: Deployed, world: Wallets) -> None:
    registry, bank = registry_of(deployed), world.bank
    grant = grant_of(deployed, bank=bank.address)
    digest = eip712.digest(registry.document(grant))
    relayer = acct(deployed, "relayer")
    one = revert_of(lambda: registry.publish(grant, bank.sign(digest, bank.owners[0]), relayer))
    assert (one.error, one.error_args) == ("CreditRegistryInvalidSigner", {"bank": bank.address, "signer": ZERO})
    registry.publish(grant, bank.sign(digest), relayer)
    assert registry.limit_of(bank.address, grant.party) == grant.limit


# -- refusals -----------------------------------------------------------------------------------

ZERO = "0x" + "00" * 20


def _refused_signature(world: Wallets, digest: bytes, case: str, stranger: LocalAccount) -> bytes:
    wallet = world.core
    a = wallet.owners[0]
    if case == "one owner of three":
        return wallet.sign(digest, a)
    if case == "a key that is no owner":
        return wallet.sign(digest, a, stranger)
    if case == "one owner twice":
        return wallet.sign_as(digest, [a, a])
    if case == "two owners, for another wallet":
        return world.bank.sign(digest)  # the same owners, in the other wallet's domain
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["one owner of three", "a key that is no owner", "one owner twice", "two owners, for another wallet"]
)
def test_an_order_the_wallet_did_not_accept_is_refused_with_invalid_signer(
    deployed: Deployed, world: Wallets, case: str
) -> None:
    terms = _order_terms(deployed, world.core.address)
    buyer_sig = _refused_signature(world, _order_digest(deployed, terms), case, fixed_key("not an owner"))
    supplier_sig = escrow_of(deployed).sign_order(acct(deployed, "tier1"), terms)
    refused = _create_refusal(deployed, terms, buyer_sig, supplier_sig)
    assert (refused.error, refused.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": world.core.address, "recovered": ZERO},
    )


def test_a_keys_bad_signatures_keep_their_ecdsa_errors_beside_a_wallet(deployed: Deployed, world: Wallets) -> None:
    escrow, tier1 = escrow_of(deployed), acct(deployed, "tier1")
    terms = _order_terms(deployed, world.core.address)
    buyer_sig = world.core.sign(_order_digest(deployed, terms))
    by_another = escrow.sign_order(acct(deployed, "tier2"), terms)
    wrong = _create_refusal(deployed, terms, buyer_sig, by_another)
    assert (wrong.error, wrong.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": tier1.address, "recovered": addr(deployed, "tier2")},
    )
    malleable = _create_refusal(deployed, terms, buyer_sig, high_s(escrow.sign_order(tier1, terms)))
    assert (malleable.error, malleable.error_args) == ("TradeEscrowMalleableSignature", {"index": 1})


def test_a_receivable_the_wallet_did_not_acknowledge_is_refused(deployed: Deployed, world: Wallets) -> None:
    wallet, receivables = world.core, receivables_of(deployed)
    issue = replace(issue_terms(deployed, invoice="INV-WALLET-2"), debtor=wallet.address)
    one = wallet.sign(eip712.digest(receivables.issue_document(issue)), wallet.owners[1])
    refused = revert_of(lambda: receivables.issue(issue, one, acct(deployed, "tier1")))
    assert (refused.error, refused.error_args) == (
        "ReceivablesInvalidSigner",
        {"expected": wallet.address, "recovered": ZERO},
    )


def test_the_wallet_itself_answers_the_erc1271_magic_value_only_for_two_distinct_owners(world: Wallets) -> None:
    wallet, digest = world.core, keccak(text="any digest")
    assert wallet.is_valid_signature(digest, wallet.sign(digest)) == bytes.fromhex("1626ba7e")
    assert wallet.contract.functions.messageHash(digest).call() == wallet.message_hash(digest)
    refused = revert_of(lambda: wallet.is_valid_signature(digest, wallet.sign_as(digest, [wallet.owners[0]] * 2)))
    assert refused.error == "MultisigWalletOwnersNotAscending"


def test_the_test_wallet_is_no_part_of_the_ledgers_build(build: BuildResult) -> None:
    """``scf deploy`` deploys what ``contracts/`` compiles to; the wallet is test code outside it."""
    assert "MultisigWallet" not in build.artifacts
    assert not any("wallet" in artifact.source.lower() for artifact in build.artifacts.values())
