"""The write path's fast pieces give the reference path's bytes, and batches that share a block.

``sign_digest`` calls libsecp256k1 without coincurve's wrappers: its signatures, and the
transactions and typed-data signatures built on it, must be eth-account's byte for byte.
``share_block`` leaves a batch's tail for the next batch's block: the two must still run in
nonce order, in one block, and a shared batch with no follower must still be mined.
"""

from __future__ import annotations

from collections.abc import Iterator

import coincurve
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import HexStr
from eth_utils import keccak, to_checksum_address

from ledger.domain.escrow import OrderTerms, PrepaymentOffer, po_ref_hash
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms
from ledger.eth import eip712
from ledger.eth.batch import BatchSender, Call, FunctionEncoder
from ledger.eth.eip712 import sign_typed_data, sign_typed_data_by
from ledger.eth.transactions import sign_digest, sign_transaction
from tests.support.chains import manual_mining as manual_mining_of
from tests.support.deployments import Deployed

KEYS = [Account.from_key(keccak(text=f"test_lean_writes:key:{i}")) for i in range(24)]
DIGESTS = [keccak(text=f"test_lean_writes:digest:{i}") for i in range(24)] + [bytes(32), b"\xff" * 32]


def test_sign_digest_is_coincurves_and_eth_keys_signature() -> None:
    parities = set()
    for account in KEYS:
        for digest in DIGESTS:
            signature = sign_digest(account, digest)
            assert signature == coincurve.PrivateKey(bytes(account.key)).sign_recoverable(digest, hasher=None)
            reference = keys.PrivateKey(bytes(account.key)).sign_msg_hash(digest)
            assert signature == reference.to_bytes()
            parities.add(signature[64])
    assert parities == {0, 1}


def test_sign_digest_refuses_what_is_not_a_digest() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sign_digest(KEYS[0], b"\x01" * 31)


def test_workload_transactions_and_signatures_are_eth_accounts() -> None:
    """The order workload's shapes (a co-signed createOrder, a permit, an attestation), fast and reference."""
    token, escrow = "0x" + "11" * 20, "0x" + "22" * 20
    create = (
        "createOrder((address,address,address,uint256,uint64,uint64,bool,bytes32,bytes32,uint256,uint64),bytes,bytes)"
    )
    domain = {
        "name": "TradeEscrow",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": Account.from_key(keccak(text="escrow")).address,
    }
    for i, (buyer, supplier) in enumerate(zip(KEYS[::2], KEYS[1::2], strict=True)):
        terms = OrderTerms(
            buyer.address, supplier.address, Account.from_key(keccak(text="token")).address, 10**9 + i,
            1_700_000_000 + i, 1_700_100_000, False, keccak(text="terms"), po_ref_hash(f"PO-{i}"), i, 1_700_000_500,
        )  # fmt: skip
        document = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Order": [
                    {"name": n, "type": t}
                    for n, t in zip(
                        terms.message(),
                        ["address", "address", "address", "uint256", "uint64", "uint64", "bool", "bytes32", "bytes32",
                         "uint256", "uint64"],
                        strict=True,
                    )
                ],
            },
            "primaryType": "Order",
            "domain": domain,
            "message": terms.message(),
        }  # fmt: skip
        signatures = sign_typed_data_by(document, buyer, supplier)
        assert signatures == [eip712.sign(buyer, document), eip712.sign(supplier, document)]
        assert sign_typed_data(buyer, document) == signatures[0]
        data = keccak(text=create)[:4] + bytes(600 + i)
        for to, payload in ((escrow, data), (token, data[:68])):
            tx = {
                "type": 2, "chainId": 31337, "nonce": i * 97, "gas": 350_000 + i, "maxFeePerGas": 2 * 10**9 + i,
                "maxPriorityFeePerGas": 10**9, "to": Account.from_key(keccak(text=to)).address, "value": 0,
                "data": payload,
            }  # fmt: skip
            expected = supplier.sign_transaction(tx)
            raw, tx_hash = sign_transaction(
                supplier, chain_id=31337, nonce=i * 97, gas=350_000 + i, max_fee=2 * 10**9 + i,
                max_priority_fee=10**9, to=bytes.fromhex(str(tx["to"])[2:]), value=0, data=payload,
            )  # fmt: skip
            assert raw == bytes(expected.raw_transaction)
            assert tx_hash == bytes(expected.hash)


def test_documents_name_checksummed_addresses_as_before() -> None:
    """The cached checksum (``ledger.domain.addresses.address``) writes what eth-utils writes."""
    lower = [a.address.lower() for a in KEYS[:3]]
    expected = [to_checksum_address(a) for a in lower]
    order = OrderTerms(lower[0], lower[1], lower[2], 1, 2, 3, True, bytes(32), bytes(32), 4, 5).message()
    assert [order["buyer"], order["supplier"], order["token"]] == expected
    issue = IssueTerms(lower[0], lower[1], lower[2], 1, 2, bytes(32), bytes(32), bytes(32), 0, 3, 4).message()
    assert [issue["debtor"], issue["creditor"], issue["token"]] == expected
    assert FinanceOffer(1, lower[0], 2, 3, 4).message()["bank"] == expected[0]
    assert Child(1, lower[1], bytes(32)).as_tuple()[1] == expected[1]
    assert PrepaymentOffer(1, lower[2], 2, 0, 3, 4).message()["guarantor"] == expected[2]
    with pytest.raises(ValueError):
        OrderTerms("0x1234", lower[1], lower[2], 1, 2, 3, True, bytes(32), bytes(32), 4, 5).message()


# -- batches that share a block ------------------------------------------------------------------


@pytest.fixture
def manual_mining(deployed: Deployed) -> Iterator[None]:
    """Anvil with automine off, as the write-path benchmark runs it; the sender mines."""
    if deployed.backend != "anvil":
        pytest.skip("evm_setAutomine is an anvil control")
    with manual_mining_of(deployed.chain):
        yield


def _funded(deployed: Deployed, count: int, tag: str) -> list[LocalAccount]:
    holders = [Account.from_key(keccak(text=f"test_lean_writes:{tag}:{i}")) for i in range(count)]
    admin = deployed.accounts["admin"]
    BatchSender(deployed.chain).send([Call(h.address, b"", admin, value=10**17) for h in holders])
    return holders


def test_a_shared_block_takes_a_batch_and_the_next_in_nonce_order(deployed: Deployed, manual_mining: None) -> None:
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    holders = _funded(deployed, 12, "shared")
    bank, receiver = accounts["bank"], accounts["tier2"].address
    mint, transfer = FunctionEncoder(token, "mint"), FunctionEncoder(token, "transfer")
    BatchSender(chain).send([mint.call(bank, h.address, 5) for h in holders])
    with BatchSender(chain, chunk=5) as sender:
        # The second batch spends what the first leaves; the same senders, so their nonces order them.
        first = sender.submit((transfer.call(h, receiver, 2) for h in holders), share_block=True)
        second = sender.submit(transfer.call(h, receiver, 3) for h in holders)
        results = [first.result(), second.result()]

    assert all(r.ok for r in results)
    blocks = {int(chain.w3.eth.get_transaction_receipt(HexStr(h))["blockNumber"]) for r in results for h in r.tx_hashes}
    assert len(blocks) == 1
    assert results[0].first_block == results[1].first_block and results[0].last_block == results[1].last_block
    assert all(len(logs) == 1 for r in results for logs in r.logs)
    assert deployed.tokens.balance_of(receiver) == 5 * len(holders)


def test_a_shared_batch_with_no_follower_is_still_mined(deployed: Deployed, manual_mining: None) -> None:
    chain, accounts = deployed.chain, deployed.accounts
    holders = _funded(deployed, 6, "alone")
    sender = BatchSender(chain, chunk=4)
    result = sender.submit(
        (Call(accounts["tier3"].address, b"", h, value=1) for h in holders), share_block=True
    ).result()
    assert result.ok and result.last_block > result.first_block


def test_a_batch_checked_from_what_was_read_after_its_mine_reports_a_failure(
    deployed: Deployed, manual_mining: None
) -> None:
    """The nonces and logs read right after the sender's mine decide the outcome as a fresh read would."""
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    holders = _funded(deployed, 6, "after mine")
    bank, receiver = accounts["bank"], accounts["tier2"].address
    mint, transfer = FunctionEncoder(token, "mint"), FunctionEncoder(token, "transfer")
    BatchSender(chain).send([mint.call(bank, h.address, 5) for h in holders])
    sender = BatchSender(chain, chunk=4, raise_on_failure=False)
    # Gas given, so that no estimate runs the failing call first.
    result = sender.send([transfer.call(h, receiver, 5 if i != 2 else 6, gas=120_000) for i, h in enumerate(holders)])

    assert [f.index for f in result.failures] == [2]
    assert result.failures[0].error_name == "ERC20InsufficientBalance"
    assert [len(logs) for logs in result.logs] == [1, 1, 0, 1, 1, 1]
    assert deployed.tokens.balance_of(receiver) == 25
