"""What a played world left on chain: every decoded event with its block time, and a digest of them.

The digest is the reproducibility check: two plays of the same settings on two fresh chains
give the same digest. It covers each event's contract, name, arguments and block timestamp,
block by block; within a block the events are taken in sorted order, because a node runs
the transactions of different senders sent in one JSON-RPC batch in whatever order it
received them (their ids do not depend on that order: every call that allocates an order or
receivable id is sent one request at a time, pipelined, see ``scenarios.pipeline``). Block hashes are not covered:
anvil stamps its genesis block with the wall clock, so every later hash differs between two
chains even when their transactions are the same.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.eth.history import LogDecoder, fetch_logs
from ledger.eth.jsonrpc import JsonRpc as _Rpc

CONTRACTS = ("Membership", "SettlementToken", "CreditRegistry", "TradeEscrow", "Receivables")


@dataclass(frozen=True)
class Fact:
    block: int
    timestamp: int
    contract: str
    event: str
    args: dict[str, Any] = field(hash=False)
    tx_hash: str = ""

    def canonical(self) -> str:
        return json.dumps([self.timestamp, self.contract, self.event, self.args], sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ChainFacts:
    facts: list[Fact]
    transactions: int
    blocks: int
    digest: str

    def named(self, *events: str) -> list[Fact]:
        wanted = set(events)
        return [f for f in self.facts if f.event in wanted]

    def counts(self) -> Counter[str]:
        return Counter(f.event for f in self.facts)


def decoder(build: BuildResult, addresses: Mapping[str, str]) -> LogDecoder:
    return LogDecoder({n: addresses[n] for n in CONTRACTS}, {n: build[n].abi for n in CONTRACTS})


def digest_of(facts: Iterable[Fact]) -> str:
    by_block: dict[int, list[str]] = {}
    for fact in facts:
        by_block.setdefault(fact.block, []).append(fact.canonical())
    sha = hashlib.sha256()
    for block in sorted(by_block):
        for line in sorted(by_block[block]):
            sha.update(line.encode() + b"\n")
    return "0x" + sha.hexdigest()


def read_facts(chain: Chain, build: BuildResult, addresses: Mapping[str, str], first: int, last: int) -> ChainFacts:
    """Every event of the ledger's contracts in blocks ``first..last``, with block times and tx counts."""
    log_decoder = decoder(build, addresses)
    raws = [raw for _, _, page in fetch_logs(chain, log_decoder.addresses, first, last) for raw in page]
    decoded = log_decoder.decode_many(raws)
    headers = _headers(chain, range(first, last + 1))
    facts = [
        Fact(log.raw.block_number, headers[log.raw.block_number][0], log.contract, log.event, log.args, log.raw.tx_hash)
        for log in decoded
    ]
    transactions = sum(count for _, count in headers.values())
    return ChainFacts(facts, transactions, last - first + 1, digest_of(facts))


def _headers(chain: Chain, blocks: Sequence[int]) -> dict[int, tuple[int, int]]:
    """block → (timestamp, transaction count), read in JSON-RPC batches."""
    rpc = _Rpc(chain.w3, 120.0)  # the batch sender's JSON-RPC batches (one request at a time off HTTP)
    out: dict[int, tuple[int, int]] = {}
    step = 500
    for start in range(0, len(blocks), step):
        part = blocks[start : start + step]
        answers = rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in part], size=step)
        for block, answer in zip(part, answers, strict=True):
            if not isinstance(answer, dict):
                raise LookupError(f"block {block}: {answer}")
            out[block] = (int(answer["timestamp"], 16), len(answer.get("transactions") or []))
    return out
