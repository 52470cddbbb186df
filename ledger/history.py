"""The ledger's event history, read straight from the node: raw logs, decoded fast, digested.

The indexer (events → SQL) and the auditor's replay (events → the models) read the same
history the same way:

* ``fetch_logs`` pages through ``eth_getLogs`` for the deployed contracts over block ranges
  that adapt to the node's answers (a range that is refused or too big is halved, one that
  comes back small is doubled), raw JSON, no web3 formatting;
* ``LogDecoder`` maps topic0 → event once from the ABIs and decodes each log with eth_abi
  (indexed arguments from the topics, the rest from the data) into a ``LedgerLog``;
* ``HistoryDigest`` folds every log, in chain order, into one 32-byte rolling digest that two
  auditors (or a database and the chain) can compare in one line.

Addresses are EIP-55, hashes and bytes are ``0x`` hex strings in ``args`` (JSON-ready); ints
stay ints (uint256 does not fit a float: JSON writers must keep them exact).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider

from ledger.chain import Chain, abi_type
from ledger.errors import ChainUnavailable, LedgerError

DEFAULT_SPAN = 1_000
MAX_SPAN = 100_000
#: Logs per answer beyond which the next range is halved (answers of ~1k-10k logs were fastest).
TARGET_LOGS = 10_000


class UnknownEvent(LedgerError):
    """A log of a watched contract whose topic0 is in none of the ABIs (an ABI out of date)."""

    def __init__(self, address: str, topic0: str, block_number: int, log_index: int) -> None:
        self.address = address
        self.topic0 = topic0
        super().__init__(f"log {block_number}:{log_index} of {address} has unknown topic {topic0}")


@dataclass(frozen=True)
class RawLog:
    """One log as the node returned it (hex strings), plus its position."""

    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    topics: tuple[str, ...]
    data: str

    @classmethod
    def of(cls, log: Mapping[str, Any]) -> RawLog:
        return cls(
            int(log["blockNumber"], 16),
            log["blockHash"],
            log["transactionHash"],
            int(log["transactionIndex"], 16),
            int(log["logIndex"], 16),
            to_checksum_address(log["address"]),
            tuple(log["topics"]),
            log["data"],
        )


@dataclass(frozen=True)
class LedgerLog:
    """A decoded log: the contract's name, the event's name and its arguments by ABI name."""

    raw: RawLog
    contract: str
    event: str
    args: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class _EventAbi:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data: tuple[tuple[str, str], ...]  # (name, type) in data order
    order: tuple[str, ...]  # every argument name in ABI order


def _json_ready(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if kind.endswith("]") and isinstance(value, list | tuple):
        inner = kind[: kind.rindex("[")]
        return [_json_ready(inner, v) for v in value]
    return value


class LogDecoder:
    """topic0 → event for the contracts at ``addresses`` (name → address) with ``abis`` (name → ABI)."""

    def __init__(self, addresses: Mapping[str, str], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.contract_of = {to_checksum_address(a): name for name, a in addresses.items()}
        self._events: dict[tuple[str, str], _EventAbi] = {}
        for name, address in addresses.items():
            for item in abis[name]:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item["inputs"]
                signature = f"{item['name']}({','.join(abi_type(p) for p in inputs)})"
                topic = "0x" + keccak(text=signature).hex()
                self._events[(to_checksum_address(address), topic)] = _EventAbi(
                    name,
                    item["name"],
                    tuple((p["name"], abi_type(p)) for p in inputs if p.get("indexed")),
                    tuple((p["name"], abi_type(p)) for p in inputs if not p.get("indexed")),
                    tuple(p["name"] for p in inputs),
                )

    @property
    def addresses(self) -> list[str]:
        return sorted(self.contract_of)

    def decode(self, raw: RawLog) -> LedgerLog:
        event = self._events.get((raw.address, raw.topics[0] if raw.topics else ""))
        if event is None:
            raise UnknownEvent(raw.address, raw.topics[0] if raw.topics else "", raw.block_number, raw.log_index)
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, raw.topics[1:], strict=True):
            word = bytes(HexBytes(topic))
            # Indexed dynamic values (strings, arrays) are stored as their keccak: keep the hash.
            args[name] = (
                "0x" + word.hex()
                if kind in ("string", "bytes") or kind.endswith("]")
                else _json_ready(kind, abi_decode([kind], word)[0])
            )
        if event.data:
            values = abi_decode([k for _, k in event.data], bytes(HexBytes(raw.data)))
            for (name, kind), value in zip(event.data, values, strict=True):
                args[name] = _json_ready(kind, value)
        return LedgerLog(raw, event.contract, event.name, {name: args[name] for name in event.order})


def fetch_logs(
    chain: Chain,
    addresses: Sequence[str],
    from_block: int,
    to_block: int,
    *,
    span: int = DEFAULT_SPAN,
    timeout: float = 120.0,
) -> Iterator[tuple[int, int, list[RawLog]]]:
    """Every log of ``addresses`` in ``from_block..to_block`` as (first, last, logs) pages in chain order."""
    url = chain.endpoint if isinstance(chain.w3.provider, HTTPProvider) else None
    session = requests.Session() if url else None
    low = from_block
    while low <= to_block:
        high = min(to_block, low + span - 1)
        query = {"fromBlock": hex(low), "toBlock": hex(high), "address": list(addresses)}
        try:
            logs = _get_logs(chain, session, url, query, timeout)
        except _TooMany:
            if span == 1:
                raise ChainUnavailable(chain.endpoint, f"eth_getLogs refuses even the single block {low}") from None
            span = max(1, span // 2)
            continue
        yield low, high, [RawLog.of(log) for log in logs]
        low = high + 1
        if len(logs) > TARGET_LOGS and span > 1:
            span = max(1, span // 2)
        elif len(logs) < TARGET_LOGS // 4:
            span = min(MAX_SPAN, span * 2)


class _TooMany(Exception):
    pass


def _get_logs(
    chain: Chain, session: requests.Session | None, url: str | None, query: dict[str, Any], timeout: float
) -> list[dict[str, Any]]:
    if session is None or url is None:  # in-process chains
        return [
            {
                "blockNumber": hex(log["blockNumber"]),
                "blockHash": HexBytes(log["blockHash"]).to_0x_hex(),
                "transactionHash": HexBytes(log["transactionHash"]).to_0x_hex(),
                "transactionIndex": hex(log["transactionIndex"]),
                "logIndex": hex(log["logIndex"]),
                "address": log["address"],
                "topics": [HexBytes(t).to_0x_hex() for t in log["topics"]],
                "data": HexBytes(log["data"]).to_0x_hex(),
            }
            for log in chain.w3.eth.get_logs(
                {
                    "fromBlock": int(query["fromBlock"], 16),
                    "toBlock": int(query["toBlock"], 16),
                    "address": query["address"],
                }
            )
        ]
    try:
        answer = session.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]}, timeout=timeout
        ).json()
    except (requests.RequestException, ValueError) as exc:
        raise ChainUnavailable(url, f"eth_getLogs: {exc}") from exc
    if "error" in answer:
        message = str(answer["error"].get("message", answer["error"]))
        if any(word in message.lower() for word in ("too many", "limit", "range", "exceed", "timeout")):
            raise _TooMany(message)
        raise ChainUnavailable(url, f"eth_getLogs: {message}")
    result: list[dict[str, Any]] = answer["result"]
    return result


class HistoryDigest:
    """keccak(previous ‖ chain id ‖ block hash ‖ tx hash ‖ log index ‖ address ‖ #topics ‖ topics ‖ data),
    log after log in chain order: one hex string names a whole history."""

    def __init__(self, chain_id: int, start: bytes = bytes(32)) -> None:
        self.chain_id = chain_id
        self.value = start
        self.count = 0

    def add(self, raw: RawLog) -> None:
        parts = [
            self.value,
            self.chain_id.to_bytes(32, "big"),
            bytes(HexBytes(raw.block_hash)),
            bytes(HexBytes(raw.tx_hash)),
            raw.log_index.to_bytes(32, "big"),
            bytes(HexBytes(raw.address)),
            len(raw.topics).to_bytes(1, "big"),
            *(bytes(HexBytes(t)) for t in raw.topics),
            bytes(HexBytes(raw.data)),
        ]
        self.value = keccak(b"".join(parts))
        self.count += 1

    def extend(self, raws: Iterable[RawLog]) -> None:
        for raw in raws:
            self.add(raw)

    @property
    def hex(self) -> str:
        return "0x" + self.value.hex()
