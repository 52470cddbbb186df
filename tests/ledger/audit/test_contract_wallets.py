"""The audit replay of a history with a contract-wallet party (ERC-1271), on anvil.

The story (``tests.support.multisig``'s 2-of-3 wallet): the wallet is admitted as CORE, approves
the escrow and funds an order from inside its own ``execTransaction``s (calls into the ledger the
replay finds in anvil's call traces, or, on a node without traces, reads off the
``execTransaction`` calldata), co-signs that order and acknowledges a receivable as debtor by
ERC-1271; a second wallet of the same owners, a BANK, signs a credit limit. An honest replay of it
finds nothing and leaves nothing unchecked; a replay told that the wallet refuses its signatures
names each transaction it then rejects. The decoding of wrappers and traces is checked on its own
at the end (no chain).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3.types import TxReceipt

from ledger.audit import Kind
from ledger.audit.machine import Unmodelled
from ledger.audit.replay import replay
from ledger.audit.wallets import InnerCall, WalletSignatures, decoded_calls, traced_calls
from ledger.eth import eip712
from ledger.eth.chain import Chain
from ledger.eth.rpc import Rpc, Tx
from ledger.toolchain.deploy import ROLE
from ledger.toolchain.devnet import Devnet
from tests.ledger.audit.helpers import audit, deployment_of, explain
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    MAX_UINT256,
    TX_GAS,
    acct,
    escrow_of,
    grant_of,
    make_terms,
    registry_of,
    tokens_of,
)
from tests.support.multisig import Multisig, deploy_multisig, owner_keys
from tests.support.receivables import issue_terms, receivables_of
from tests.support.standard_rpc import StandardRpcProxy
from tests.support.worlds import world_fixtures


@dataclass(frozen=True)
class Story:
    """The wallets and what they did: the hashes of the transactions each step was mined in."""

    wallet: Multisig
    bank: Multisig
    approve_tx: str
    create_tx: str
    fund_tx: str
    issue_tx: str
    publish_tx: str


def _admit(deployed: Deployed, address: str, role: str) -> None:
    fn = deployed.membership.functions.admit(address, ROLE[role], 0, keccak(text=f"kyc:audit-wallet:{role}"))
    deployed.chain.transact(fn, acct(deployed, "admin"), gas=TX_GAS)


def _hash(receipt: TxReceipt) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def open_story(session: Deployed) -> Iterator[Story]:
    chain = session.chain
    snapshot = chain.snapshot()
    try:
        owners = owner_keys("audit-wallet")
        wallet = deploy_multisig(chain, acct(session, "admin"), owners)
        bank = deploy_multisig(chain, acct(session, "admin"), owners)
        _admit(session, wallet.address, "core")
        _admit(session, bank.address, "bank")
        tokens, escrow, relayer, tier1 = (
            tokens_of(session),
            escrow_of(session),
            acct(session, "relayer"),
            acct(session, "tier1"),
        )
        chain.send(tokens.calls.mint(wallet.address, 2 * AMOUNT), acct(session, "bank"), gas=TX_GAS)
        approve = wallet.send(tokens.calls.approve(session.addresses["TradeEscrow"], MAX_UINT256), relayer)

        terms = replace(make_terms(session, po="PO-AUDIT-WALLET-1", nonce=11), buyer=wallet.address)
        buyer_sig = wallet.sign(eip712.digest(escrow.order_document(terms)))
        order_id, created = escrow.create_order(terms, buyer_sig, escrow.sign_order(tier1, terms), tier1)
        funded = wallet.send(escrow.calls.fund(order_id), relayer)

        receivables = receivables_of(session)
        issue = replace(issue_terms(session, invoice="INV-AUDIT-WALLET-1"), debtor=wallet.address)
        debtor_sig = wallet.sign(eip712.digest(receivables.issue_document(issue)), wallet.owners[0], wallet.owners[2])
        _root_id, issued = receivables.issue(issue, debtor_sig, tier1)

        registry = registry_of(session)
        grant = grant_of(session, bank=bank.address)
        published = registry.publish(grant, bank.sign(eip712.digest(registry.document(grant))), relayer)
        yield Story(wallet, bank, _hash(approve), _hash(created), _hash(funded), _hash(issued), _hash(published))
    finally:
        chain.revert(snapshot)


module_story = world_fixtures(open_story).module_world


# -- honest histories ---------------------------------------------------------------------------


def test_an_honest_history_with_a_wallet_party_replays_clean_from_the_nodes_traces(
    module_story: Story, deployed: Deployed
) -> None:
    result = audit(deployed)
    report = result.report
    assert report.mismatches == [] and report.gaps == [], explain(result)
    counts = report.counts
    # approve and fund ran inside the wallet's execTransaction: replayed with the wallet as caller.
    assert counts.internal_calls == 2
    assert counts.calls["SettlementToken.approve"] >= 1 and counts.calls["TradeEscrow.fund"] >= 1
    # The buyer's order signature, the debtor's acknowledgement, the bank's limit: asked of the wallets.
    assert counts.wallet_signatures == 3
    assert counts.code_lookups >= 3
    assert "contract wallets: 2 calls replayed" in "\n".join(report.lines())
    models = result.models
    assert models.token.balance_of(module_story.wallet.address) == AMOUNT  # minted 2, one in escrow
    assert models.credit.records[(module_story.bank.address, acct(deployed, "tier1").address)].limit > 0


def test_anvils_traces_name_the_wallet_as_the_caller_of_its_call_into_the_escrow(
    module_story: Story, deployed: Deployed
) -> None:
    rpc = Rpc(deployed.chain)
    [tx] = rpc.transactions([module_story.fund_tx])
    frames = rpc.call_frames(tx.hash)
    assert frames is not None, "anvil keeps call traces"
    ours = set(deployed.addresses.values())
    [call] = traced_calls(tx, frames, ours)
    # A direct call of the wallet's (its frames before it are ecrecover's, for the owners' signatures).
    assert (call.sender, call.to, len(call.path)) == (module_story.wallet.address, deployed.addresses["TradeEscrow"], 1)
    [decoded] = decoded_calls(tx, ours)  # the calldata says the same as the execution
    assert (decoded.sender, decoded.to, decoded.input) == (call.sender, call.to, call.input)


def test_without_traces_the_wallets_exec_transaction_is_decoded_and_replays_clean(
    module_story: Story, deployed: Deployed, anvil: Devnet
) -> None:
    with StandardRpcProxy(anvil.url) as node:  # the same chain, as a node that keeps no traces
        result = replay(Chain.http(node.url, backend="rpc"), deployment_of(deployed))
        refused = node.refused
    assert result.report.mismatches == [] and result.report.gaps == [], explain(result)
    assert result.report.counts.internal_calls == 2
    assert result.report.counts.wallet_signatures == 3
    assert "trace_block" in refused and set(refused) <= {"trace_block", "trace_transaction"}


def test_the_wallets_own_answer_decides_its_signature_at_the_block_before(
    module_story: Story, deployed: Deployed
) -> None:
    chain, wallet = deployed.chain, module_story.wallet
    checks = WalletSignatures(Rpc(chain), chain.block_number)
    digest, escrow = keccak(text="any digest"), deployed.addresses["TradeEscrow"]
    assert checks.has_code(wallet.address, chain.block_number)
    assert not checks.has_code(acct(deployed, "tier1").address, chain.block_number)
    assert checks.accepts(escrow, wallet.address, digest, wallet.sign(digest), chain.block_number)
    assert not checks.accepts(escrow, wallet.address, digest, wallet.sign(digest, wallet.owners[0]), chain.block_number)
    assert not checks.accepts(escrow, module_story.bank.address, digest, wallet.sign(digest), chain.block_number)
    assert (checks.checks, checks.refused) == (3, 2)
    assert checks(escrow, acct(deployed, "tier1").address, digest, b"") is None  # a key: ECDSA decides


# -- forged histories -----------------------------------------------------------------------------


class Refusing(WalletSignatures):
    """Asks the wallets, then says no whatever they answered: an auditor shown a wallet that refuses."""

    def accepts(self, verifier: str, wallet: str, digest: bytes, signature: bytes, block: int) -> bool:
        super().accepts(verifier, wallet, digest, signature, block)
        return False


def test_a_wallet_that_refuses_its_signatures_makes_each_signed_transaction_a_mismatch(
    module_story: Story, deployed: Deployed
) -> None:
    result = audit(deployed, signature_checks=Refusing)
    rejected = {m.location.tx: m for m in result.report.mismatches if m.kind is Kind.REJECTED}
    wallet, bank = module_story.wallet.address, module_story.bank.address
    assert (
        f"TradeEscrowInvalidSigner(expected={wallet}, recovered=0x{'00' * 20})"
        in rejected[module_story.create_tx].expected
    )
    assert f"ReceivablesInvalidSigner(expected={wallet}" in rejected[module_story.issue_tx].expected
    assert f"CreditRegistryInvalidSigner(bank={bank}" in rejected[module_story.publish_tx].expected
    assert module_story.approve_tx not in rejected  # no signature in it: the wallet's approve stands
    # The order the models never created cannot be funded either: the wallet's call is named as such.
    assert module_story.fund_tx in rejected
    assert f"called by {wallet} inside a transaction to {wallet}" in rejected[module_story.fund_tx].detail


# -- reading wrappers and traces (no chain) -------------------------------------------------------

LEDGER = "0x" + "11" * 20
WALLET = "0x" + "22" * 20
OTHER = "0x" + "33" * 20
OURS = {LEDGER}
CALLDATA = bytes.fromhex("a9059cbb") + bytes(64)
SAFE_EXEC = keccak(text="execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)")[
    :4
]
SAFE_TYPES = ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address", "bytes"]


def _tx(to: str, data: bytes) -> Tx:
    return Tx("0x" + "ab" * 32, 7, "0x" + "cd" * 32, 0, "0x" + "44" * 20, to, data)


def _safe_exec(to: str, operation: int) -> bytes:
    return SAFE_EXEC + abi_encode(SAFE_TYPES, [to, 0, CALLDATA, operation, 0, 0, 0, OTHER, OTHER, b"\x01" * 130])


def test_a_safes_exec_transaction_is_one_call_from_the_safe_and_its_delegatecall_a_gap() -> None:
    [call] = decoded_calls(_tx(WALLET, _safe_exec(LEDGER, 0)), OURS)
    assert call == InnerCall(WALLET, LEDGER, CALLDATA)
    with pytest.raises(Unmodelled, match=f"wallet {WALLET} ran its transaction as a delegatecall"):
        decoded_calls(_tx(WALLET, _safe_exec(LEDGER, 1)), OURS)
    with pytest.raises(Unmodelled, match=f"wallet {WALLET} called {OTHER}, not a contract of the deployment"):
        decoded_calls(_tx(WALLET, _safe_exec(OTHER, 0)), OURS)


def test_an_unknown_wrapper_without_traces_is_a_gap_naming_it_and_the_traces_it_needs() -> None:
    with pytest.raises(Unmodelled, match=f"sent to {WALLET}.*needs to find them"):
        decoded_calls(_tx(WALLET, bytes.fromhex("deadbeef")), OURS)


def _frame(path: list[int], to: str, *, sender: str = WALLET, call_type: str = "call", error: bool = False) -> dict:
    frame = {
        "type": "call",
        "traceAddress": path,
        "action": {"from": sender, "to": to, "input": "0x" + CALLDATA.hex(), "callType": call_type},
    }
    return {**frame, "error": "Reverted"} if error else frame


def test_traces_give_the_ledger_calls_that_stood_and_not_those_inside_them_or_under_a_revert() -> None:
    frames = [
        _frame([], WALLET, sender="0x" + "44" * 20),  # the transaction to the wallet
        _frame([0], LEDGER),  # kept
        _frame([0, 0], OTHER, sender=LEDGER),  # inside a ledger call: the ledger's models predict it
        _frame([0, 0, 0], LEDGER, sender=OTHER),
        _frame([1], OTHER, error=True),  # a batcher whose call reverted (caught by the wallet)
        _frame([1, 0], LEDGER, sender=OTHER),  # under the revert: left no log
        _frame([2], LEDGER, call_type="staticcall"),  # a read
        _frame([3], LEDGER, call_type="delegatecall"),  # ledger code in the wallet's storage
        _frame([4], OTHER),
        _frame([4, 0], LEDGER, sender=OTHER),  # kept: a call through another contract
    ]
    calls = traced_calls(_tx(WALLET, b""), frames, OURS)
    assert [(c.sender, c.path) for c in calls] == [(WALLET, (0,)), (OTHER, (4, 0))]
    with pytest.raises(Unmodelled, match="no call into the ledger"):
        traced_calls(_tx(WALLET, b""), frames[4:6], OURS)
