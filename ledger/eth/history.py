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

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider

from ledger.errors import ChainUnavailable, LedgerError
from ledger.eth.abi import abi_type
from ledger.eth.chain import Chain

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
    #: The block's time when the node says it with the log (anvil's ``blockTimestamp``), else None.
    #: Not part of a log's identity: two reads of the same log compare equal either way.
    block_timestamp: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, log: Mapping[str, Any]) -> RawLog:
        stamp = log.get("blockTimestamp")
        return cls(
            int(log["blockNumber"], 16),
            log["blockHash"],
            log["transactionHash"],
            int(log["transactionIndex"], 16),
            int(log["logIndex"], 16),
            checksum(log["address"]),
            tuple(log["topics"]),
            log["data"],
            int(stamp, 16) if isinstance(stamp, str) else stamp,
        )


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """``to_checksum_address``, remembered: a keccak per call (~20 us) adds up over a history."""
    return to_checksum_address(address)


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

    def decode_many(self, raws: Iterable[RawLog]) -> list[LedgerLog]:
        """``decode`` of every log, the same answers, several times faster.

        Arguments that are single ABI words (addresses, integers, booleans, fixed bytes, enums),
        arrays of them, strings and bytes are read straight from the hex of the topics and data
        by a function generated once per event; any other event (tuples) goes through ``decode``.
        Logs are trusted to be ABI-encoded by the contracts (no padding checks, unlike eth_abi).
        """
        plans: dict[tuple[str, str], _Plan | None] = self.__dict__.setdefault("_plans", {})
        out: list[LedgerLog] = []
        append = out.append
        new = LedgerLog
        for raw in raws:
            topics = raw.topics
            key = (raw.address, topics[0] if topics else "")
            try:
                plan = plans[key]
            except KeyError:
                event = self._events.get(key)
                plan = plans[key] = _plan(event) if event is not None else None
            if plan is None:
                append(self.decode(raw))
                continue
            try:
                args = plan.read(topics, raw.data)
            except (IndexError, ValueError):
                append(self.decode(raw))  # not what the ABI says: let eth_abi say why
                continue
            append(new(raw, plan.contract, plan.event, args))
        return out

    def reader(
        self, address: str, topic0: str
    ) -> tuple[str, str, Callable[[Sequence[str], str], dict[str, Any]]] | None:
        """(contract, event, read) for the logs of ``address`` with first topic ``topic0``, where
        ``read(topics, data)`` gives ``decode``'s args from the hex strings (raising IndexError or
        ValueError on what is not the ABI's encoding); None when the event is unknown or needs
        eth_abi (``decode`` then)."""
        plans: dict[tuple[str, str], _Plan | None] = self.__dict__.setdefault("_plans", {})
        key = (checksum(address), topic0)
        if key not in plans:
            event = self._events.get(key)
            plans[key] = _plan(event) if event is not None else None
        plan = plans[key]
        return None if plan is None else (plan.contract, plan.event, plan.read)

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


# -- fast decoding: one plan per event, words read from the hex ---------------------------------


#: Reads an event's arguments from its topics and data (hex strings): what ``LogDecoder.decode`` gives.
ArgsReader = Callable[[Sequence[str], str], dict[str, Any]]


@dataclass(frozen=True)
class _Plan:
    contract: str
    event: str
    read: ArgsReader
    source: str  # the generated function, for the curious


def _word_expression(kind: str, word: str, start: str) -> str | None:
    """Python reading one ABI word of ``kind``: ``word`` is the hex string, ``start`` where the
    word starts in it; None when ``kind`` is not a one-word type."""
    at = f"{word}[{start}:{start} + 64]"
    if kind == "address":
        return f'checksum("0x" + {word}[{start} + 24:{start} + 64])'
    if kind == "bool":
        return f"int({at}, 16) != 0"
    if kind.startswith("uint") and kind[4:].isdigit():
        return f"int({at}, 16)"
    if kind.startswith("int") and kind[3:].isdigit():
        return f"signed(int({at}, 16), {int(kind[3:])})"
    if kind.startswith("bytes") and kind[5:].isdigit() and 0 < int(kind[5:]) <= 32:
        return f'"0x" + {word}[{start}:{start} + {2 * int(kind[5:])}].lower()'
    return None


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _plan(event: _EventAbi) -> _Plan | None:
    """A function reading every argument of ``event`` from the hex, or None when one needs eth_abi."""
    indexed = {name: (position, kind) for position, (name, kind) in enumerate(event.indexed, start=1)}
    # Every supported data type takes one head word (an array: its offset).
    words = {name: (offset, kind) for offset, (name, kind) in enumerate(event.data)}
    items: list[str] = []
    helpers: dict[str, Any] = {"checksum": checksum, "signed": _signed}
    for name in event.order:
        if name in indexed:
            position, kind = indexed[name]
            if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
                expression: str | None = f'"0x" + topics[{position}][2:].lower()'  # a dynamic value's keccak
            else:
                expression = _word_expression(kind, f"topics[{position}]", "2")
        else:
            offset, kind = words[name]
            if kind in ("string", "bytes"):
                expression = f"{kind}_at(data, {2 + 64 * offset})"
                helpers[f"{kind}_at"] = _string_at if kind == "string" else _bytes_at
            elif kind.endswith("[]"):
                element = _word_expression(kind[:-2], "data", "at")
                if element is None:
                    return None
                reader = f"read_{len(helpers)}"
                exec(f"def {reader}(data, at):\n    return {element}", helpers)  # a template of ours, ABI types only
                expression = f"array(data, {2 + 64 * offset}, {reader})"
                helpers["array"] = _array
            else:
                expression = _word_expression(kind, "data", str(2 + 64 * offset))
        if expression is None:
            return None
        items.append(f"        {name!r}: {expression},")
    source = "\n".join(
        [
            "def read(topics, data):",
            f"    if len(topics) != {len(event.indexed) + 1} or len(data) < {2 + 64 * len(event.data)}:",
            "        raise IndexError(len(data))",
            "    return {",
            *items,
            "    }",
        ]
    )
    exec(source, helpers)  # generated from the ABI: names (as repr) and checked types only
    return _Plan(event.contract, event.name, helpers["read"], source)


def _bytes_hex_at(data: str, head: int) -> str:
    """The hex of a dynamic ``bytes``/``string`` value whose offset is the word at ``head``."""
    at = 2 + 2 * int(data[head : head + 64], 16)
    size = int(data[at : at + 64], 16)
    if len(data) < at + 64 + 2 * size:
        raise IndexError(head)
    return data[at + 64 : at + 64 + 2 * size]


def _bytes_at(data: str, head: int) -> str:
    return "0x" + _bytes_hex_at(data, head).lower()


def _string_at(data: str, head: int) -> str:
    return bytes.fromhex(_bytes_hex_at(data, head)).decode("utf-8")  # strict, as eth_abi (else: eth_abi says why)


def _array(data: str, head: int, read: Callable[[str, int], Any]) -> list[Any]:
    """A dynamic array of one-word elements whose offset is the word at ``head``."""
    at = 2 + 2 * int(data[head : head + 64], 16)
    count = int(data[at : at + 64], 16)
    first = at + 64
    if len(data) < first + 64 * count:
        raise IndexError(head)
    return [read(data, first + 64 * i) for i in range(count)]


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
    for low, high, logs in fetch_raw_logs(chain, addresses, from_block, to_block, span=span, timeout=timeout):
        yield low, high, [RawLog.of(log) for log in logs]


def fetch_raw_logs(
    chain: Chain,
    addresses: Sequence[str],
    from_block: int,
    to_block: int,
    *,
    span: int = DEFAULT_SPAN,
    timeout: float = 120.0,
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """``fetch_logs``'s pages as the node's JSON log objects (hex strings), for readers that make
    their own rows without a ``RawLog`` per log (``RawLog.of`` makes one from each)."""
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
        yield low, high, logs
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

    def add_many(self, raws: Iterable[RawLog]) -> None:
        """``extend``, the same digest, without HexBytes: one hex string per log, one keccak."""
        value, chain_id, count = self.value, self.chain_id.to_bytes(32, "big"), self.count
        for raw in raws:
            topics = raw.topics
            tail = bytes.fromhex(
                raw.block_hash[2:]
                + raw.tx_hash[2:]
                + f"{raw.log_index:064x}"
                + raw.address[2:]
                + f"{len(topics):02x}"
                + "".join(t[2:] for t in topics)
                + raw.data[2:]
            )
            value = _keccak(value + chain_id + tail)
            count += 1
        self.value, self.count = value, count

    def add_fields(self, logs: Iterable[tuple[str, str, int, str, Sequence[str], str]]) -> None:
        """``add_many`` of (block hash, tx hash, log index, address, topics, data) tuples, hex strings."""
        value, chain_id, count = self.value, self.chain_id.to_bytes(32, "big"), self.count
        for block_hash, tx_hash, log_index, address, topics, data in logs:
            tail = bytes.fromhex(
                block_hash[2:]
                + tx_hash[2:]
                + f"{log_index:064x}"
                + address[2:]
                + f"{len(topics):02x}"
                + "".join(t[2:] for t in topics)
                + data[2:]
            )
            value = _keccak(value + chain_id + tail)
            count += 1
        self.value, self.count = value, count

    def add_json(self, logs: Iterable[Mapping[str, Any]]) -> None:
        """``add_many`` of the node's JSON log objects (``RawLog.of`` of each), without the RawLogs."""
        value, chain_id, count = self.value, self.chain_id.to_bytes(32, "big"), self.count
        fromhex, keccak_256 = bytes.fromhex, _keccak
        for log in logs:
            topics = log["topics"]
            tail = fromhex(
                "".join(
                    (
                        log["blockHash"][2:],
                        log["transactionHash"][2:],
                        log["logIndex"][2:].rjust(64, "0"),
                        log["address"][2:],
                        _TOPIC_COUNT[len(topics)],
                        *[t[2:] for t in topics],
                        log["data"][2:],
                    )
                )
            )
            value = keccak_256(value + chain_id + tail)
            count += 1
        self.value, self.count = value, count

    @property
    def hex(self) -> str:
        return "0x" + self.value.hex()


def _keccak_function() -> Callable[[bytes], bytes]:
    try:
        from sha3 import keccak_256  # safe-pysha3 (comes with eth-tester[py-evm]): ~1 us a hash, not eth-hash's ~8
    except ImportError:  # pragma: no cover - the fallback gives the same hashes, slower
        return lambda data: bytes(keccak(data))

    def hashed(data: bytes) -> bytes:
        digest: bytes = keccak_256(data).digest()
        return digest

    return hashed


_keccak = _keccak_function()
_TOPIC_COUNT = tuple(f"{n:02x}" for n in range(256))

# -- the JSON form of arguments (what the indexer stores, what the audit compares) --------------

_compact_json = json.JSONEncoder(separators=(",", ":")).encode
_WIDE = re.compile(r"u?int(\d+)(\[\d*\])?$")
_ONE_WORD = re.compile(r"(address|bool|bytes\d+|u?int\d+)$")
#: Writes one event's decoded arguments (``LedgerLog.args``) as JSON text.
JsonWriter = Callable[[dict[str, Any]], str]


def json_args_writers(abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[tuple[str, str], JsonWriter]:
    """(contract, event) → a function writing a decoded event's arguments as the JSON the indexer stores
    in ``events.args`` (integers of ABI types wider than 64 bits as decimal strings, compact), generated once
    from the ABI: one string format per event instead of the JSON encoder's walk over every value."""
    writers: dict[tuple[str, str], JsonWriter] = {}
    for contract, abi in abis.items():
        for item in abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            parts, values = [], []
            for param in item["inputs"]:
                name, kind, indexed = param["name"], abi_type(param), bool(param.get("indexed"))
                key, at = json.dumps(name), f"a[{name!r}]"
                wide = _WIDE.match(kind)
                is_wide = bool(wide and int(wide.group(1)) > 64)
                if indexed and (kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")):
                    parts.append(f'{key}:"%s"')  # the value's keccak, hex
                    values.append(at)
                elif kind in ("address", "bytes") or (kind.startswith("bytes") and _ONE_WORD.match(kind)):
                    parts.append(f'{key}:"%s"')
                    values.append(at)
                elif kind == "bool":
                    parts.append(f"{key}:%s")
                    values.append(f'("true" if {at} else "false")')
                elif _ONE_WORD.match(kind):
                    parts.append(f'{key}:"%d"' if is_wide else f"{key}:%d")
                    values.append(at)
                elif kind.endswith("[]") and is_wide:
                    parts.append(f"{key}:%s")
                    values.append(f"dumps([str(v) for v in {at}])")
                else:  # strings (escaped), arrays of one-word values
                    parts.append(f"{key}:%s")
                    values.append(f"dumps({at})")
            template = "{" + ",".join(parts) + "}"
            source = f"def write(a):\n    return {template!r} % ({', '.join(values)}{',' if values else ''})"
            helpers: dict[str, Any] = {"dumps": _compact_json}
            exec(source, helpers)  # generated from the ABI: names (as repr) and types only
            writers[(contract, item["name"])] = helpers["write"]
    return writers
