"""Storage proofs of a receivable: what eth_getProof proves equals the views, and tampering is refused."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.eth.proofs import (
    ClaimMismatch,
    ProofInvalid,
    ReceivableLayout,
    fetch_bundle,
    verify_bundle,
    web3_rpc,
)
from ledger.toolchain.deploy import deploy, enrol_dev_members
from ledger.toolchain.devnet import Devnet
from tests.support.ports import free_port

UNIT = 10**6
DAY = 86_400


@dataclass
class Ledger:
    chain: Chain
    receivables: ReceivablesClient
    layout: ReceivableLayout
    root_id: int
    kept: int
    financed: int
    before_repay: int

    def bundle(self, piece_id: int, block: int | None = None) -> dict[str, Any]:
        return fetch_bundle(web3_rpc(self.chain.w3), self.receivables.address, piece_id, self.layout, block)

    def header(self, number: int) -> dict[str, Any]:
        block = self.chain.w3.eth.get_block(number)
        return {"hash": block["hash"].to_0x_hex(), "stateRoot": block["stateRoot"].to_0x_hex()}


@pytest.fixture(scope="module")
def ledger(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    devnet = Devnet(run_dir=tmp_path_factory.mktemp("proofs-anvil"), port=free_port(), mining="auto")
    devnet.up()
    try:
        chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
        accounts = chain.accounts
        assert accounts is not None
        addresses = deploy(chain, build, accounts["admin"], None).addresses
        enrol_dev_members(chain, build, addresses["Membership"], accounts)
        receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        core, tier1, tier2, bank = (accounts[r] for r in ("core", "tier1", "tier2", "bank"))
        for who in (core, bank):
            tokens.mint(who.address, 10_000 * UNIT, bank)
            tokens.approve(receivables.address, 10_000 * UNIT, who)
        now = chain.timestamp()
        terms = IssueTerms(
            core.address, tier1.address, tokens.address, 1_000 * UNIT, now + 90 * DAY,
            keccak(text="invoice P-1"), keccak(text="fingerprint P-1"), keccak(text="commitment P-1"), 0, 1, now + DAY,
        )  # fmt: skip
        root_id, _ = receivables.issue(terms, receivables.sign_issue(core, terms), tier1)
        kids = [Child(700 * UNIT, tier1.address, keccak(text="a")), Child(300 * UNIT, tier2.address, keccak(text="b"))]
        (kept, sold), _ = receivables.split(root_id, kids, tier1)
        offer = FinanceOffer(sold, bank.address, 290 * UNIT, chain.timestamp() + DAY, 5)
        receivables.finance(offer, receivables.sign_offer(bank, offer), tier2)
        before_repay = chain.block_number
        receivables.repay(root_id, 100 * UNIT, core)
        layout = ReceivableLayout.from_storage_layout(build["Receivables"].storage_layout)
        yield Ledger(chain, receivables, layout, root_id, kept, sold, before_repay)
    finally:
        devnet.down()


def test_a_proved_receivable_equals_the_contracts_views(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    state = verify_bundle(bundle, ledger.header(bundle["block"]["number"]), ledger.layout)
    piece, root = ledger.receivables.piece(ledger.financed), ledger.receivables.root(ledger.root_id)
    assert state.root_id == ledger.root_id and state.parent_id == ledger.root_id
    assert state.amount == piece.amount == 300 * UNIT
    assert state.financed is True and piece.financed is True
    assert state.holder == ledger.receivables.holder_of(ledger.financed) == ledger.chain.accounts["bank"].address  # type: ignore[index]
    assert (state.debtor, state.creditor, state.face_value) == (root.debtor, root.creditor, root.face_value)
    assert (state.maturity, state.issued_at, state.defaulted_at) == (root.maturity, root.issued_at, 0)
    assert state.invoice_hash == "0x" + root.invoice_hash.hex() and state.fingerprint == "0x" + root.fingerprint.hex()
    assert state.invoice_commitment == "0x" + root.invoice_commitment.hex()
    assert state.repaid == root.repaid == 100 * UNIT


def test_a_proof_at_an_earlier_block_proves_the_earlier_state(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.kept, ledger.before_repay)
    state = verify_bundle(bundle, ledger.header(ledger.before_repay), ledger.layout)
    assert state.repaid == 0 and state.holder == ledger.chain.accounts["tier1"].address  # type: ignore[index]


def test_a_tampered_proof_node_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    header = ledger.header(bundle["block"]["number"])
    for where in ("account", "storage"):
        forged = copy.deepcopy(bundle)
        nodes = forged["proof"]["accountProof"] if where == "account" else forged["proof"]["storageProof"][0]["proof"]
        last = nodes[-1]
        nodes[-1] = last[:-2] + ("00" if last[-2:] != "00" else "01")
        with pytest.raises(ProofInvalid):
            verify_bundle(forged, header, ledger.layout)


def test_a_stated_value_the_proof_does_not_back_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    forged = copy.deepcopy(bundle)
    entry = forged["proof"]["storageProof"][2]  # the piece's amount
    entry["value"] = hex(int(entry["value"], 16) + 1)
    with pytest.raises(ProofInvalid, match="stated value"):
        verify_bundle(forged, ledger.header(bundle["block"]["number"]), ledger.layout)


def test_a_claim_that_differs_from_the_chain_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    forged = copy.deepcopy(bundle)
    forged["claim"]["financed"] = False
    with pytest.raises(ClaimMismatch) as caught:
        verify_bundle(forged, ledger.header(bundle["block"]["number"]), ledger.layout)
    assert caught.value.field == "financed"
    forged = copy.deepcopy(bundle)
    forged["claim"]["repaid"] = "0"
    with pytest.raises(ClaimMismatch, match="repaid"):
        verify_bundle(forged, ledger.header(bundle["block"]["number"]), ledger.layout)


def test_a_bundle_against_another_blocks_header_or_contract_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    with pytest.raises(ProofInvalid, match="block"):
        verify_bundle(bundle, ledger.header(ledger.before_repay), ledger.layout)
    with pytest.raises(ProofInvalid, match="contract"):
        verify_bundle(bundle, ledger.header(bundle["block"]["number"]), ledger.layout, contract="0x" + "11" * 20)


def test_a_missing_slot_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(ledger.financed)
    forged = copy.deepcopy(bundle)
    forged["proof"]["storageProof"] = forged["proof"]["storageProof"][:-1]  # drop a root slot
    with pytest.raises(ProofInvalid, match="not proved"):
        verify_bundle(forged, ledger.header(bundle["block"]["number"]), ledger.layout)


def test_a_piece_that_does_not_exist_is_refused(ledger: Ledger) -> None:
    bundle = ledger.bundle(999)
    assert "claim" not in bundle
    with pytest.raises(ProofInvalid, match="does not exist"):
        verify_bundle(bundle, ledger.header(bundle["block"]["number"]), ledger.layout, check_claim=False)
