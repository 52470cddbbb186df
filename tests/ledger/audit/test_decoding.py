"""The replay's lean readers give what the usual libraries give: calldata, signers, documents."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from ledger.audit.machine import Replayer
from ledger.audit.state import LedgerModels
from ledger.clients.credit import CreditLimit
from ledger.domain import typed_data
from ledger.domain.escrow import ORDER_FIELDS, Attestation, Milestone, OrderTerms
from ledger.domain.receivables import FinanceOffer, IssueTerms
from ledger.eth import eip712
from ledger.eth.calldata import CalldataError, CallDecoder
from ledger.eth.eip712 import recover_typed_data, signer_of
from ledger.eth.history import fetch_logs
from ledger.eth.rpc import Rpc, Tx
from tests.ledger.audit.helpers import deployment_of
from tests.ledger.audit.history_writer import HistoryWriter
from tests.support.deployments import Deployed
from tests.support.escrow import World, escrow_of, high_s, open_world, registry_of, tokens_of
from tests.support.receivables import receivables_of
from tests.support.worlds import world_fixtures

# Both backends: eth-tester has no trace_block, so transactions come from full blocks there.
pytestmark = pytest.mark.parity


module_world, world = world_fixtures(open_world)


def _plain(value: Any) -> Any:
    """web3's decoded values in the replay's shapes: tuples for structs and arrays."""
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(_plain(v) for v in value.values())
    return value


def test_the_lean_calldata_decoder_agrees_with_web3_on_every_call_of_a_history(
    world: World, deployed: Deployed
) -> None:
    HistoryWriter(deployed, world, seed=7).run(20 if deployed.backend == "anvil" else 5)
    deployment = deployment_of(deployed)
    decoder = CallDecoder(deployment.addresses, deployment.abis)
    contracts = {at: deployed.chain.contract(deployed.build[name], at) for name, at in deployment.addresses.items()}
    head = deployed.chain.block_number
    hashes = list(
        dict.fromkeys(
            log.tx_hash for _, _, page in fetch_logs(deployed.chain, sorted(contracts), 0, head) for log in page
        )
    )
    seen = set()
    for tx in Rpc(deployed.chain).transactions(hashes):
        if tx.to is None:
            continue
        call = decoder.decode(tx.to, tx.input)
        assert call is not None, tx
        fn, args = contracts[tx.to].decode_function_input(tx.input)
        assert call.function == fn.fn_name
        assert call.args == _plain(args), call.function
        seen.add(call.function)
    assert {"createOrder", "attest", "issue", "split", "finance", "publish", "admit", "permit"} <= seen


def _calldata(fn: Any) -> bytes:
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def test_the_lean_calldata_decoder_refuses_what_the_abi_refuses(deployed: Deployed) -> None:
    deployment = deployment_of(deployed)
    decoder = CallDecoder(deployment.addresses, deployment.abis)
    escrow, registry = escrow_of(deployed), registry_of(deployed)
    fund = _calldata(escrow.contract.functions.fund(7))
    assert decoder.decode(escrow.address, fund).args == (7,)  # type: ignore[union-attr]
    with pytest.raises(CalldataError):
        decoder.decode(escrow.address, fund[:-1])  # a word short
    revoke = bytearray(_calldata(registry.contract.functions.revoke(deployed.accounts["tier1"].address)))
    revoke[4] = 1  # an address with a dirty upper byte
    with pytest.raises(CalldataError):
        decoder.decode(registry.contract.address, bytes(revoke))
    allowed = bytearray(_calldata(escrow.contract.functions.setTokenAllowed(escrow.address, True)))
    allowed[-1] = 2  # a bool that is neither 0 nor 1
    with pytest.raises(CalldataError):
        decoder.decode(escrow.address, bytes(allowed))
    assert decoder.decode(escrow.address, b"\xde\xad\xbe\xef" + fund[4:]) is None  # no such function


def test_signers_recover_as_recover_typed_data_does_good_and_bad_signatures_alike(deployed: Deployed) -> None:
    escrow, receivables, registry = escrow_of(deployed), receivables_of(deployed), registry_of(deployed)
    tokens = tokens_of(deployed)
    core, carrier, bank = (deployed.accounts[x] for x in ("core", "carrier", "bank"))
    terms = OrderTerms(core.address, deployed.accounts["tier1"].address, tokens.address, 5, 6, 7, True,
                       keccak(text="t"), keccak(text="po"), 1, 9)  # fmt: skip
    documents = [
        escrow.order_document(terms),
        escrow.attestation_document(Attestation(3, Milestone.DELIVERED, 11, keccak(text="e"))),
        escrow.settlement_document(3, 10, 12),
        receivables.issue_document(
            IssueTerms(
                core.address,
                carrier.address,
                tokens.address,
                5,
                6,
                keccak(text="i"),
                keccak(text="f"),
                keccak(text="c"),
                0,
                1,
                2,
            )
        ),
        receivables.offer_document(FinanceOffer(4, bank.address, 3, 8, 2)),
        registry.document(CreditLimit(bank.address, core.address, 5, 700, 2, keccak(text="m"), 99, 0)),
        tokens.permit_document(core.address, escrow.address, 5, 0, 10),
    ]
    replayer = Replayer(LedgerModels(deployment_of(deployed).addresses), deployed.chain.chain_id, tokens.domain.name)
    contract_of = {domain.name: contract for contract, domain in replayer.domains.items()}
    for document in documents:
        signature = eip712.sign(core, document)
        primary = document["primaryType"]
        contract, fields = contract_of[document["domain"]["name"]], document["types"][primary]
        for candidate in (signature, high_s(signature), signature[:64] + b"\x05", signature[:10], bytes(65)):
            expected = recover_typed_data(document, candidate)
            # The same recovery over eth-account's digest: the lean digest is eth-account's.
            assert signer_of(eip712.digest(document), candidate) == expected
            # The replay's own EIP-712 hashing, from the message as calldata gives it.
            assert replayer._recover(contract, primary, fields, document["message"], candidate) == expected
        assert recover_typed_data(document, signature) == core.address
    stranger = Account.create()
    assert recover_typed_data(documents[0], eip712.sign(stranger, documents[0])) == stranger.address


def test_the_replay_signs_under_the_clients_domains_and_documents(deployed: Deployed) -> None:
    deployment = deployment_of(deployed)
    tokens = tokens_of(deployed)
    replayer = Replayer(LedgerModels(deployment.addresses), deployed.chain.chain_id, tokens.domain.name)
    assert replayer.domains["TradeEscrow"] == escrow_of(deployed).domain
    assert replayer.domains["Receivables"] == receivables_of(deployed).domain
    assert replayer.domains["CreditRegistry"] == registry_of(deployed).domain
    assert replayer.domains["SettlementToken"] == tokens.domain
    # The documents the replay builds from calldata (field lists in ABI order) are the clients'.
    core = deployed.accounts["core"]
    terms = OrderTerms(core.address, core.address, tokens.address, 5, 6, 7, False, bytes(32), bytes(32), 1, 2)
    message = dict(zip([f["name"] for f in ORDER_FIELDS], terms.as_tuple(), strict=True))
    built = typed_data.full_message(replayer.domains["TradeEscrow"], "Order", ORDER_FIELDS, message)
    assert built == escrow_of(deployed).order_document(terms)


def test_transactions_read_from_traces_full_blocks_and_hashes_are_the_same(world: World, deployed: Deployed) -> None:
    """anvil's call traces (``trace_block``), full blocks and single lookups give the same transactions
    (traces also tell whether each call reverted, which the others leave unknown)."""

    def sent(txs: list[Tx]) -> list[Tx]:
        return [dataclasses.replace(tx, reverted=None, output=None) for tx in txs]

    rpc = Rpc(deployed.chain)
    headers = [h for h in rpc.headers(0, deployed.chain.block_number) if h.transactions]
    hashes = [tx_hash for header in headers for tx_hash in header.transactions]
    by_hash = rpc.transactions(hashes)
    assert all(tx.reverted is None for tx in by_hash)
    traced = rpc.block_transactions(headers)
    assert sent(traced) == by_hash
    if deployed.backend == "anvil":
        assert rpc.use_traces, "anvil answers trace_block"
        assert all(tx.reverted is not None for tx in traced)
        plain = Rpc(deployed.chain)
        plain.use_traces = False
        assert plain.block_transactions(headers) == by_hash
    assert {tx.to is None for tx in by_hash} == {True, False}  # deployments and calls alike
