"""The Chain wrapper behaves alike on every backend: signing, errors, time, snapshots."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import ROLE
from ledger.errors import ChainUnavailable, ContractReverted, LedgerError
from tests.conftest import Deployed, free_port


def test_custom_error_is_decoded_with_named_arguments(deployed: Deployed) -> None:
    stranger = deployed.accounts["relayer"]
    call = deployed.membership.functions.admit(stranger.address, ROLE["core"], 0, b"\x00" * 32)

    with pytest.raises(ContractReverted) as caught:
        deployed.chain.transact(call, stranger)

    assert caught.value.error == "MembershipUnauthorizedAccount"
    assert caught.value.error_args == {"account": stranger.address, "role": ROLE["admin"]}


def test_a_reverted_transaction_leaves_state_and_nonces_usable(deployed: Deployed) -> None:
    chain, admin = deployed.chain, deployed.accounts["admin"]
    before = chain.call(deployed.membership.functions.memberCount())
    with pytest.raises(ContractReverted):
        chain.transact(deployed.membership.functions.admit(admin.address, ROLE["core"], 0, b"\x00" * 32), admin)

    newcomer = deployed.accounts["relayer"].address
    chain.transact(deployed.membership.functions.admit(newcomer, ROLE["core"], 0, b"\x00" * 32), admin)

    assert chain.call(deployed.membership.functions.memberCount()) == before + 1


def test_batch_sends_every_call_and_returns_receipts_in_order(deployed: Deployed) -> None:
    bank, token = deployed.accounts["bank"], deployed.token
    holders = [deployed.accounts[r].address for r in ("core", "tier1", "tier2")]

    receipts = deployed.chain.transact_batch(
        [(token.functions.mint(h, 1_000 + i), bank) for i, h in enumerate(holders)]
    )

    assert [r["status"] for r in receipts] == [1, 1, 1]
    assert [deployed.chain.call(token.functions.balanceOf(h)) for h in holders] == [1_000, 1_001, 1_002]


def test_advance_time_moves_the_block_clock(deployed: Deployed) -> None:
    before = deployed.chain.timestamp()

    after = deployed.chain.advance_time(7 * 86_400)

    assert after >= before + 7 * 86_400
    assert deployed.chain.timestamp() == after


def test_snapshot_and_revert_restore_state(deployed: Deployed) -> None:
    chain, token, bank = deployed.chain, deployed.token, deployed.accounts["bank"]
    snapshot = chain.snapshot()
    chain.transact(token.functions.mint(bank.address, 5), bank)
    assert chain.call(token.functions.totalSupply()) == 5

    chain.revert(snapshot)

    assert chain.call(token.functions.totalSupply()) == 0
    chain.transact(token.functions.mint(bank.address, 7), bank)  # nonces re-read after the revert
    assert chain.call(token.functions.totalSupply()) == 7


def test_unreachable_url_raises_chain_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChainUnavailable) as caught:
        Chain.connect(url, timeout=2)

    assert caught.value.endpoint == url


def test_unknown_chain_setting_is_rejected() -> None:
    with pytest.raises(LedgerError, match="unknown chain setting"):
        Chain.connect("ropsten")


def test_decoder_reads_error_string_panic_and_unknown_data() -> None:
    decoder = ErrorDecoder()
    error_string = function_signature_to_4byte_selector("Error(string)") + encode(["string"], ["no"])
    panic = function_signature_to_4byte_selector("Panic(uint256)") + encode(["uint256"], [0x11])

    assert decoder.decode(error_string).reason == "no"
    assert decoder.decode(panic).error_args == {"code": "0x11"}
    unknown = decoder.decode("0xdeadbeef")
    assert unknown.error is None and unknown.data == "0xdeadbeef"
