"""BatchSender: many calls per round trip, outcomes from logs, failures named by index (both backends).

The embedded eth-tester chain has no JSON-RPC batch endpoint: the sender talks to it one
request at a time through web3, so the same tests run there, on smaller batches.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from eth_abi import encode
from eth_abi.exceptions import EncodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain import typed_data
from ledger.domain.escrow import Attestation, Milestone, OrderStatus, OrderTerms, po_ref_hash
from ledger.domain.typed_data import Domain
from ledger.eth import eip712
from ledger.eth.abi import encode_arguments, encode_function
from ledger.eth.batch import BatchFailed, BatchSender, Call, FunctionEncoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import sign_typed_data, sign_typed_data_by
from ledger.eth.transactions import sign_transaction
from ledger.toolchain.deploy import ROLE
from tests.support.chains import manual_mining as manual_mining_of
from tests.support.deployments import Deployed

# Both backends: the embedded chain takes the one-request-at-a-time path.
pytestmark = pytest.mark.parity

AMOUNT = 1_000 * 10**6
DAY = 86_400
ORDER_CREATED = (
    "0x"
    + keccak(
        text="OrderCreated(uint256,address,address,address,uint256,uint64,uint64,bool,bytes32,bytes32,uint256,address)"
    ).hex()
)


def size(deployed: Deployed, anvil: int, embedded: int) -> int:
    """Batch sizes per backend: py-evm runs ~50 tx/s, anvil thousands."""
    return anvil if deployed.backend == "anvil" else embedded


def fresh_accounts(count: int, tag: str) -> list[LocalAccount]:
    return [Account.from_key(keccak(text=f"test_batch:{tag}:{i}")) for i in range(count)]


def admit_and_fund(deployed: Deployed, parties: list[LocalAccount], roles: int) -> None:
    """Members with gas money: one batch of admissions, one of ETH transfers (which log nothing)."""
    admin, sender = deployed.accounts["admin"], BatchSender(deployed.chain)
    admit = FunctionEncoder(deployed.membership, "admit")
    sender.send([admit.call(admin, p.address, roles, 0, keccak(text=p.address)) for p in parties])
    sender.send([Call(p.address, b"", admin, value=10**18, label="gas money") for p in parties])


def terms(deployed: Deployed, buyer: str, supplier: str, reference: str, nonce: int) -> OrderTerms:
    now = deployed.chain.timestamp()
    return OrderTerms(
        buyer=buyer,
        supplier=supplier,
        token=deployed.addresses["SettlementToken"],
        amount=AMOUNT,
        ship_by=now + 10 * DAY,
        deliver_by=now + 20 * DAY,
        inspection_required=False,
        terms_hash=keccak(text="incoterms FCA; net 60"),
        po_ref_hash=po_ref_hash(reference),
        nonce=nonce,
        deadline=now + DAY,
    )


@pytest.fixture
def manual_mining(deployed: Deployed) -> Iterator[None]:
    """Anvil with automine off, as a bench runs it; the sender must mine by itself."""
    if deployed.backend != "anvil":
        pytest.skip("evm_setAutomine is an anvil control")
    with manual_mining_of(deployed.chain):
        yield


# -- lean paths give eth-account's bytes -----------------------------------------------------


@pytest.mark.parametrize(
    ("nonce", "gas", "value", "data"),
    [
        (0, 21_000, 0, b""),
        (1, 60_000, 1, b"\x7f"),
        (127, 250_000, 10**18, b"\x80" + b"\x01" * 54),
        (128, 2_000_000, 2**255, bytes(range(256)) * 3),
        (2**40, 30_000_000, 0, b"\x00" * 56),
    ],
)
def test_lean_transaction_signing_is_byte_identical_to_eth_account(
    nonce: int, gas: int, value: int, data: bytes
) -> None:
    for i in range(8):  # several keys: signatures with short r or s, and both parities
        account = Account.from_key(keccak(text=f"signer {i}"))
        to = "0x" + keccak(text=f"to {i}")[:20].hex()
        tx = {
            "chainId": 31337,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": 3 * 10**9 + i,
            "maxPriorityFeePerGas": 10**9,
            "to": Account.from_key(keccak(text=to)).address,
            "value": value,
            "data": data,
            "type": 2,
        }
        expected = account.sign_transaction(tx)

        raw, tx_hash = sign_transaction(
            account,
            chain_id=31337,
            nonce=nonce,
            gas=gas,
            max_fee=3 * 10**9 + i,
            max_priority_fee=10**9,
            to=bytes.fromhex(str(tx["to"])[2:]),
            value=value,
            data=data,
        )

        assert raw == bytes(expected.raw_transaction)
        assert tx_hash == bytes(expected.hash)


def test_lean_typed_data_signing_is_byte_identical_to_the_clients(deployed: Deployed) -> None:
    escrow, tokens, accounts = deployed.escrow, deployed.tokens, deployed.accounts
    buyer, carrier = accounts["core"], accounts["carrier"]
    order = terms(deployed, buyer.address, accounts["tier1"].address, "PO-LEAN-1", 7)
    attestation = Attestation(3, Milestone.DELIVERED, 1_700_000_000, keccak(text="evidence"))
    documents = [
        escrow.order_document(order),
        escrow.attestation_document(attestation),
        escrow.settlement_document(3, 5, 1_700_000_000),
        tokens.permit_document(buyer.address, escrow.address, AMOUNT, 0, 2**256 - 1),
        # Values in another form than the lean path takes go to eth-account: same answer.
        {**escrow.order_document(order), "message": {**order.message(), "termsHash": "0x" + "11" * 32}},
        typed_data.full_message(
            Domain("Odd", "1", 1, escrow.address),
            "Odd",
            [{"name": "n", "type": "int64"}, {"name": "s", "type": "string"}, {"name": "b", "type": "bytes"}],
            {"n": -5, "s": "über", "b": b"\x00\x01"},
        ),
    ]
    for document in documents:
        for signer in (buyer, carrier):
            assert sign_typed_data(signer, document) == eip712.sign(signer, document)
        assert sign_typed_data_by(document, buyer, carrier) == [eip712.sign(a, document) for a in (buyer, carrier)]


ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    ("types", "values"),
    [
        (
            ("uint256", "uint8", "int64", "int256", "address", "address", "bool", "bytes32", "bytes4"),
            (0, 255, -5, -(2**255), ADDRESS, ADDRESS.lower(), True, b"\x01" * 32, b"\x01\x02"),
        ),
        (("bytes", "bytes", "string", "bytes"), (b"", b"x" * 33, "über", b"y" * 64)),
        (("uint256[]", "uint256[]", "bytes[]"), ([1, 2, 3], [], [b"a", b"b" * 40])),
        (
            ("(uint256,bytes)[]", "(uint256,(address,bool),bytes32)", "uint8[3]", "bytes[2]"),
            ([(1, b"x"), (2, b"")], (7, (ADDRESS, False), bytes(32)), [1, 2, 3], [b"a", b"b"]),
        ),
        (
            ("(bytes,uint256)[2]", "string[]", "(uint256[],string)", "(uint256,uint256)[2][]"),
            ([(b"q", 1), (b"", 2)], ["a", "bc"], ([5, 6], "zz"), [[(1, 2), (3, 4)], [(5, 6), (7, 8)]]),
        ),
    ],
)
def test_lean_abi_encoding_matches_eth_abi(types: tuple[str, ...], values: tuple[object, ...]) -> None:
    assert encode_arguments(types, values) == encode(list(types), list(values))


@pytest.mark.parametrize(("kind", "value"), [("uint8", 256), ("int8", -129), ("bytes2", b"abc"), ("bool", 1)])
def test_lean_abi_encoding_refuses_what_eth_abi_refuses(kind: str, value: object) -> None:
    with pytest.raises(EncodingError):
        encode_arguments((kind,), (value,))


def test_calldata_encoders_match_web3(deployed: Deployed) -> None:
    escrow = deployed.escrow.contract
    order = terms(deployed, deployed.accounts["core"].address, deployed.accounts["tier1"].address, "PO-ENC", 1)
    attestation = Attestation(9, Milestone.SHIPPED, 1_700_000_000, keccak(text="e"))
    cases = [
        (escrow, "createOrder", (order.as_tuple(), b"\x01" * 65, b"\x02" * 65)),
        (escrow, "fund", (12,)),
        (escrow, "attest", (attestation.as_tuple(), [b"\x03" * 65, b"\x04" * 65])),
        (deployed.token, "transfer", (deployed.accounts["tier2"].address, 5)),
    ]
    for contract, name, args in cases:
        fn = contract.functions[name](*args)
        expected = bytes.fromhex(fn._encode_transaction_data()[2:])
        assert FunctionEncoder(contract, name).data(*args) == expected
        assert encode_function(fn) == expected
    # A bytes32 given as hex text is web3's to normalise; encode_function hands it over.
    fn = escrow.functions.orderIdOfPoRef("0x" + "ab" * 32)
    assert encode_function(fn) == bytes.fromhex(fn._encode_transaction_data()[2:])


# -- batches on a chain ----------------------------------------------------------------------


def test_many_mints_transfers_and_orders_in_batches(deployed: Deployed) -> None:
    n = size(deployed, anvil=120, embedded=12)
    chain, escrow, accounts = deployed.chain, deployed.escrow, deployed.accounts
    buyers = fresh_accounts(n, "buyer")
    suppliers = fresh_accounts(n, "supplier")
    admit_and_fund(deployed, buyers, ROLE["core"])
    admit_and_fund(deployed, suppliers, ROLE["supplier"])
    sender = BatchSender(chain)
    token = deployed.token

    minted = sender.send([(token.functions.mint(b.address, 3 * AMOUNT), accounts["bank"]) for b in buyers])
    transfer = FunctionEncoder(token, "transfer")
    sender.send([transfer.call(b, s.address, AMOUNT) for b, s in zip(buyers, suppliers, strict=True)])
    orders = [
        terms(deployed, b.address, s.address, f"PO-BATCH-{i}", i)
        for i, (b, s) in enumerate(zip(buyers, suppliers, strict=True))
    ]
    create = FunctionEncoder(escrow.contract, "createOrder")
    created = sender.send(
        [
            create.call(s, t.as_tuple(), sign_typed_data(b, escrow.order_document(t)), escrow.sign_order(s, t))
            for b, s, t in zip(buyers, suppliers, orders, strict=True)
        ]
    )

    assert minted.ok and created.ok and len(created) == n
    assert all(log["topics"][0] == ORDER_CREATED for logs in created.logs for log in logs)
    order_ids = [int(logs[0]["topics"][1], 16) for logs in created.logs]
    assert sorted(order_ids) == list(range(1, n + 1))
    tokens = deployed.tokens
    assert {tokens.balance_of(b.address) for b in buyers} == {2 * AMOUNT}
    assert {tokens.balance_of(s.address) for s in suppliers} == {AMOUNT}
    for order_id, t in list(zip(order_ids, orders, strict=True))[:: max(1, n // 10)]:
        order = escrow.order(order_id)
        assert order.status is OrderStatus.CREATED and order.terms == t


def test_a_failing_item_is_reported_by_index_with_its_decoded_error(deployed: Deployed) -> None:
    n = size(deployed, anvil=60, embedded=8)
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    holders = fresh_accounts(n, "holder")
    mint = FunctionEncoder(token, "mint")
    calls = [mint.call(accounts["bank"], h.address, 1_000 + i) for i, h in enumerate(holders)]
    calls[n // 3] = mint.call(accounts["tier1"], holders[0].address, 5, label="mint by a supplier")
    calls[-1] = mint.call(accounts["bank"], holders[1].address, 0)

    with pytest.raises(BatchFailed) as caught:
        BatchSender(chain).send(calls)

    failed = caught.value
    assert failed.indexes == [n // 3, n - 1]
    assert [f.error_name for f in failed.failures] == [
        "SettlementTokenUnauthorizedMinter",
        "SettlementTokenInvalidMint",
    ]
    assert failed.failures[0].error is not None
    assert failed.failures[0].error.error_args == {"caller": accounts["tier1"].address}
    assert f"#{n // 3} mint by a supplier" in str(failed)
    assert "SettlementTokenUnauthorizedMinter" in str(failed)
    # Every other item ran: the result travels with the error.
    ran = [i for i in range(n) if i not in failed.indexes]
    assert all(failed.result.logs[i] for i in ran)
    assert [deployed.tokens.balance_of(holders[i].address) for i in ran[-3:]] == [1_000 + i for i in ran[-3:]]


def test_nonces_stay_consistent_after_a_batch_with_failures(deployed: Deployed) -> None:
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    bank, relayer = accounts["bank"], accounts["relayer"]
    mint = FunctionEncoder(token, "mint")
    sender = BatchSender(chain, chunk=7)  # several chunks, so the pipelined path runs too
    bad = [mint.call(relayer, bank.address, 1)] * 3
    good = [mint.call(bank, relayer.address, 1)] * 20

    with pytest.raises(BatchFailed) as caught:
        sender.send(good[:10] + bad + good[10:])
    assert caught.value.indexes == [10, 11, 12]

    # Reverted transactions still used their nonces: the chain's cache agrees with the node.
    for account in (bank, relayer):
        assert chain._nonces[account.address] == chain.w3.eth.get_transaction_count(account.address, "pending")
    chain.transact(token.functions.mint(relayer.address, 1), bank)
    assert sender.send(good).ok
    assert deployed.tokens.balance_of(relayer.address) == 41
    assert chain._nonces[bank.address] == chain.w3.eth.get_transaction_count(bank.address, "pending")


def test_a_transaction_the_node_rejects_is_reported_and_its_nonce_filled(deployed: Deployed) -> None:
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    bank = accounts["bank"]
    mint = FunctionEncoder(token, "mint")
    calls = [mint.call(bank, accounts["tier2"].address, 1) for _ in range(6)]
    block_gas_limit = int(chain.w3.eth.get_block("latest")["gasLimit"])
    calls[2] = mint.call(bank, accounts["tier2"].address, 1, gas=block_gas_limit + 1, label="too big")

    with pytest.raises(BatchFailed) as caught:
        BatchSender(chain).send(calls)

    assert caught.value.indexes == [2]
    assert "rejected by the node" in caught.value.failures[0].reason
    # The self-transfer that took the rejected nonce let the later mints run.
    assert deployed.tokens.balance_of(accounts["tier2"].address) == 5
    assert chain._nonces[bank.address] == chain.w3.eth.get_transaction_count(bank.address, "pending")


def test_order_lifecycle_phases_on_an_anvil_that_does_not_mine(deployed: Deployed, manual_mining: None) -> None:
    chain, escrow, accounts = deployed.chain, deployed.escrow, deployed.accounts
    n = 40
    buyers = fresh_accounts(n, "lifecycle buyer")
    supplier, carrier = accounts["tier1"], accounts["carrier"]
    sender = BatchSender(chain, chunk=16)
    assert sender.mining()
    admit = FunctionEncoder(deployed.membership, "admit")
    admin = accounts["admin"]
    sender.send([admit.call(admin, b.address, ROLE["core"], 0, keccak(text=b.address)) for b in buyers])
    sender.send([Call(b.address, b"", admin, value=10**18) for b in buyers])
    sender.send([FunctionEncoder(deployed.token, "mint").call(accounts["bank"], b.address, AMOUNT) for b in buyers])

    orders = [terms(deployed, b.address, supplier.address, f"PO-PHASE-{i}", 0) for i, b in enumerate(buyers)]
    create = FunctionEncoder(escrow.contract, "createOrder")
    created = sender.send(
        [
            create.call(b, t.as_tuple(), sign_typed_data(b, escrow.order_document(t)), escrow.sign_order(supplier, t))
            for b, t in zip(buyers, orders, strict=True)
        ]
    )
    ids = [int(logs[0]["topics"][1], 16) for logs in created.logs]
    deadline = chain.timestamp() + DAY
    permit = FunctionEncoder(escrow.contract, "fundWithPermit")
    funding = []
    for order_id, b in zip(ids, buyers, strict=True):
        document = deployed.tokens.permit_document(b.address, escrow.address, AMOUNT, 0, deadline)
        signature = sign_typed_data(b, document)
        funding.append(permit.call(b, order_id, deadline, signature[64], signature[:32], signature[32:64]))
    sender.send(funding)
    attest = FunctionEncoder(escrow.contract, "attest")
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        now = chain.timestamp()
        attestations = [Attestation(i, milestone, now, keccak(text=f"{i}:{milestone.name}")) for i in ids]
        sender.send(
            [
                attest.call(carrier, a.as_tuple(), [sign_typed_data(carrier, escrow.attestation_document(a))])
                for a in attestations
            ]
        )
    confirmed = sender.send(
        [FunctionEncoder(escrow.contract, "confirmReceipt").call(b, i) for b, i in zip(buyers, ids, strict=True)]
    )

    assert confirmed.ok
    # Every phase went into a handful of blocks, not one block per transaction.
    assert confirmed.last_block - confirmed.first_block <= n // 16 + 2
    assert {escrow.order(i).status for i in ids} == {OrderStatus.RELEASED}
    assert deployed.tokens.balance_of(escrow.address) == 0


def test_submitted_batches_run_in_order_across_senders(deployed: Deployed) -> None:
    """A batch that depends on another sender's batch can be submitted before that one is mined."""
    n = size(deployed, anvil=60, embedded=6)
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    holders = fresh_accounts(n, "pipelined holder")
    admin, bank, receiver = accounts["admin"], accounts["bank"], accounts["tier3"].address
    mint, transfer = FunctionEncoder(token, "mint"), FunctionEncoder(token, "transfer")
    sender = BatchSender(chain, chunk=16)

    gas_money = sender.submit(Call(h.address, b"", admin, value=10**17) for h in holders)
    minted = sender.submit(mint.call(bank, h.address, 7) for h in holders)
    # The holders spend what the bank's batch gives them; their gas comes from the first batch.
    spent = sender.submit(transfer.call(h, receiver, 7) for h in holders)
    broken = sender.submit([transfer.call(holders[0], receiver, 1)])  # nothing left to spend

    assert gas_money.result().ok and minted.result().ok and spent.result().ok
    with pytest.raises(BatchFailed) as caught:
        broken.result()
    assert caught.value.failures[0].error_name == "ERC20InsufficientBalance"
    assert deployed.tokens.balance_of(receiver) == 7 * n
    assert chain._nonces[holders[0].address] == chain.w3.eth.get_transaction_count(holders[0].address, "pending")


def test_pipelined_batches_on_an_anvil_that_does_not_mine(deployed: Deployed, manual_mining: None) -> None:
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    holders = fresh_accounts(30, "manual holder")
    admin, bank, receiver = accounts["admin"], accounts["bank"], accounts["tier2"].address
    mint, transfer = FunctionEncoder(token, "mint"), FunctionEncoder(token, "transfer")
    with BatchSender(chain, chunk=8, mine_every=16) as sender:
        steps = [
            sender.submit(Call(h.address, b"", admin, value=10**17) for h in holders),
            sender.submit(mint.call(bank, h.address, 3) for h in holders),
            sender.submit(transfer.call(h, receiver, 3) for h in holders),
        ]
        results = [step.result() for step in steps]

    assert all(r.ok for r in results)
    # Blocks every 16 transactions and at each batch's end: 2 + 2 + 2, never one per transaction.
    assert results[-1].last_block - results[0].first_block == 6
    assert deployed.tokens.balance_of(receiver) == 3 * 30


class _NoBatches(http.server.BaseHTTPRequestHandler):
    """A JSON-RPC front that forwards single requests and refuses batches, as some providers do."""

    upstream = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if body.lstrip().startswith(b"["):
            answer = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "no batches"}})
            payload = answer.encode()
        else:
            request = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as upstream:
                payload = upstream.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def test_a_node_without_batch_requests_gets_one_request_at_a_time(deployed: Deployed) -> None:
    if deployed.backend != "anvil":
        pytest.skip("the embedded chain has no HTTP endpoint")
    handler = type("Front", (_NoBatches,), {"upstream": deployed.chain.endpoint})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chain = Chain.http(f"http://127.0.0.1:{server.server_address[1]}", errors=deployed.chain.errors)
        holders = fresh_accounts(12, "no batches")
        mint = FunctionEncoder(deployed.token, "mint")
        calls = [mint.call(deployed.accounts["bank"], h.address, 5) for h in holders]
        calls[4] = mint.call(deployed.accounts["core"], holders[4].address, 5)

        with pytest.raises(BatchFailed) as caught:
            BatchSender(chain, chunk=5).send(calls)
    finally:
        server.shutdown()
        server.server_close()

    assert caught.value.indexes == [4]
    assert caught.value.failures[0].error_name == "SettlementTokenUnauthorizedMinter"
    assert deployed.tokens.balance_of(holders[11].address) == 5


def test_a_failure_that_depends_on_its_own_block_is_decoded_from_a_trace(
    deployed: Deployed, manual_mining: None
) -> None:
    chain, accounts, token = deployed.chain, deployed.accounts, deployed.token
    bank, holder, receiver = accounts["bank"], accounts["tier3"], accounts["tier2"].address
    BatchSender(chain).send([FunctionEncoder(token, "mint").call(bank, holder.address, 10)])
    transfer = FunctionEncoder(token, "transfer")
    # In one block: the second transfer finds the balance the first one left (none).
    overdraft = [transfer.call(holder, receiver, 10), transfer.call(holder, receiver, 10)]

    with pytest.raises(BatchFailed) as traced:
        BatchSender(chain).send(overdraft)
    with pytest.raises(BatchFailed) as replayed:
        BatchSender(chain, trace_limit=0).send([transfer.call(holder, receiver, 1)] * 2)

    assert traced.value.indexes == [1]
    assert traced.value.failures[0].error_name == "ERC20InsufficientBalance"
    # Without a trace the replay on the parent block is all there is, and it says so.
    assert replayed.value.indexes == [0, 1]
    assert all(f.error_name == "ERC20InsufficientBalance" for f in replayed.value.failures)
    assert all("replayed on the parent block" in f.reason for f in replayed.value.failures)


def test_transactions_an_automining_anvil_left_queued_behind_a_nonce_it_has_are_sent_again(deployed: Deployed) -> None:
    """anvil can park the next nonce in its queue and never promote it (seen under load); the sender
    notices the stall and sends the sender's transactions again, so the batch completes."""
    if deployed.backend != "anvil":
        pytest.skip("the queue that stalls is anvil's")
    chain, admin = deployed.chain, deployed.accounts["admin"]
    payer = fresh_accounts(1, "requeue")[0]
    BatchSender(chain).send([Call(payer.address, b"", admin, value=10**18, label="gas money")])
    start = chain.w3.eth.get_transaction_count(payer.address)
    # The stalled state, made on purpose: the batch's first nonce is one past the account's, so anvil
    # queues all of them; then the account's nonce moves to it with no pool event, as in the race.
    chain.seed_nonce(payer.address, start + 1)
    sender = BatchSender(chain, timeout=30)
    pending = sender.submit([Call(f"0x{i:040x}", b"", payer, value=1, label=f"pay {i}") for i in range(1, 6)])
    for _ in range(500):
        if chain.w3.provider.make_request("txpool_status", [])["result"]["queued"] == "0x5":  # type: ignore[arg-type]
            break
        time.sleep(0.01)
    chain.w3.provider.make_request("anvil_setNonce", [payer.address, hex(start + 1)])  # type: ignore[arg-type]
    assert chain.w3.provider.make_request("txpool_status", [])["result"]["queued"] == "0x5"  # type: ignore[arg-type]

    result = pending.result()

    assert len(result.tx_hashes) == 5
    assert chain.w3.eth.get_transaction_count(payer.address) == start + 6
    assert chain.w3.provider.make_request("txpool_status", [])["result"]["queued"] == "0x0"  # type: ignore[arg-type]
