"""The ceiling: the node's own pace for the simplest token write, measured in the same run.

Every figure the write-path benchmark reports is compared with it: pre-signed ERC-20
transfers (eth-account), their JSON-RPC batch bodies written before the clock, posted with
``requests`` and mined with ``evm_mine``, with no project code in the way. Each workload
calls ``measure_ceiling`` between its timed rounds, on the anvil its lifecycles run on, so
that other load on the machine weighs on both alike. Its senders (``fund_payers``) are
accounts of their own, so the ceiling's nonces never meet the lifecycles'. Other benchmarks
(oracles, scenarios) measure their ceilings with it too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchSender, Call, FunctionEncoder
from ledger.eth.chain import Chain
from writes.nodes import rpc
from writes.plan import Plan, party

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


def fund_payers(chain: Chain, build: BuildResult, addresses: dict[str, str], plan: Plan) -> list[LocalAccount]:
    """The ceiling's senders: accounts of their own, so its nonces never meet the lifecycles'."""
    assert chain.accounts is not None
    admin, bank = chain.accounts["admin"], chain.accounts["bank"]
    payers = [party("payer", i) for i in range(plan.payers)]
    sender = BatchSender(chain, chunk=plan.chunk)
    sender.send([Call(a.address, b"", admin, value=10**20, label="gas money") for a in payers])
    token = FunctionEncoder(chain.contract(build["SettlementToken"], addresses["SettlementToken"]), "mint")
    sender.send([token.call(bank, a.address, 10**12) for a in payers])
    return payers


def measure_ceiling(
    url: str, token: str, senders: Sequence[LocalAccount], count: int, chunk: int, mine_every: int | None
) -> dict[str, Any]:
    """The node's own pace for the simplest token write, with no project code in the way.

    ERC-20 transfers are signed with eth-account and their JSON-RPC batch bodies written
    before the clock starts; timed are the POSTs (``requests``), ``evm_mine`` every
    ``mine_every`` transactions (None: once, after the last batch), a nonce poll until all
    are mined and one ``eth_getLogs`` that counts their Transfer events.
    """
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"

    def post(body: Any) -> Any:
        return session.post(url, data=body if isinstance(body, str) else json.dumps(body), timeout=120).json()

    mine = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "evm_mine", "params": []})
    counts = post(
        [
            {"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [s.address, "pending"]}
            for i, s in enumerate(senders)
        ]
    )
    counts.sort(key=lambda a: a["id"])
    nonces = {s.address: int(a["result"], 16) for s, a in zip(senders, counts, strict=True)}
    base_fee = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    selector = keccak(text="transfer(address,uint256)")[:4]
    raws = []
    for i in range(count):
        sender, receiver = senders[i % len(senders)], senders[(i + 1) % len(senders)]
        data = selector + bytes(12) + bytes.fromhex(receiver.address[2:]) + (1).to_bytes(32, "big")
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": 31337,
            "nonce": nonces[sender.address],
            "gas": 60_000,
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
            "to": token,
            "value": 0,
            "data": data,
        }
        nonces[sender.address] += 1
        raws.append("0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex())
    bodies = [
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
                for i, raw in enumerate(raws[start : start + chunk], start)
            ]
        )
        for start in range(0, count, chunk)
    ]
    first = int(rpc(url, "eth_blockNumber", []), 16)
    started = time.perf_counter()
    unmined = 0
    for body in bodies:
        errors = [a["error"] for a in post(body) if "error" in a]
        if errors:
            raise RuntimeError(f"ceiling transfer rejected: {errors[0]}")
        unmined += chunk
        if mine_every is not None and unmined >= mine_every:
            post(mine)
            unmined = 0
    if unmined:
        post(mine)
    pending = dict(nonces)
    while pending:
        answers = post(
            [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [a, "latest"]}
                for i, a in enumerate(pending)
            ]
        )
        answers.sort(key=lambda a: a["id"])
        for address, answer in zip(list(pending), answers, strict=True):
            if int(answer["result"], 16) >= pending[address]:
                del pending[address]
        if pending:
            post(mine)
    last = int(rpc(url, "eth_blockNumber", []), 16)
    query = {"fromBlock": hex(first + 1), "toBlock": hex(last), "address": token, "topics": [TRANSFER_TOPIC]}
    logs = rpc(url, "eth_getLogs", [query])
    seconds = time.perf_counter() - started
    if len(logs) != count:
        raise RuntimeError(f"ceiling: {len(logs)} Transfer logs for {count} transfers")
    return {"tx_per_s": count / seconds, "seconds": seconds, "n": count, "blocks": last - first}
