"""A lean ABI encoder: eth-abi's bytes, compiled once per signature (~8x faster).

Calldata for hundreds of thousands of calls (a scenario, a batch) is built here rather than
by web3's ``ContractFunction``, which resolves the ABI again and normalises every argument
on each call. Tests compare the output with eth-abi's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction

from ledger.errors import LedgerError

if TYPE_CHECKING:
    pass


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter (``(address,uint256)[]`` for a tuple array): what
    selectors, eth-abi and this encoder take."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind


_Encode = Callable[[Any], bytes]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 32)


def _encode_address(value: Any) -> bytes:
    # Like eth-abi: any 0x-prefixed 40-hex-digit text (EIP-55 checksums are web3's concern).
    if isinstance(value, str) and len(value) == 42 and value[:2] == "0x":
        return bytes(12) + bytes.fromhex(value[2:])
    if isinstance(value, bytes) and len(value) == 20:
        return bytes(12) + value
    raise TypeError(f"not an address: {value!r}")


def _encode_bool(value: Any) -> bytes:
    if not isinstance(value, bool):
        raise TypeError(f"not a bool: {value!r}")
    return _word(int(value))


def _encode_dynamic_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    elif not isinstance(value, bytes | bytearray):
        raise TypeError(f"not bytes: {value!r}")
    return _word(len(value)) + _pad(bytes(value))


def _uint_encoder(bits: int) -> _Encode:
    bound = 1 << bits

    def encode(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < bound:
            raise ValueError(f"not a uint{bits}: {value!r}")
        return value.to_bytes(32, "big")

    return encode


def _int_encoder(bits: int) -> _Encode:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def encode(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
            raise ValueError(f"not an int{bits}: {value!r}")
        return (value % (1 << 256)).to_bytes(32, "big")

    return encode


def _fixed_bytes_encoder(size: int) -> _Encode:
    def encode(value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray) or len(value) > size:
            raise ValueError(f"not bytes{size}: {value!r}")
        return bytes(value).ljust(32, b"\x00")

    return encode


def _sequence_encoder(items: Sequence[tuple[bool, _Encode]]) -> _Encode:
    """Head-and-tail encoding of a tuple: dynamic items are offsets in the head."""

    def encode(values: Any) -> bytes:
        if len(values) != len(items):
            raise ValueError(f"expected {len(items)} values, got {len(values)}")
        encoded = [enc(value) for (_, enc), value in zip(items, values, strict=True)]
        offset = sum(32 if dynamic else len(e) for (dynamic, _), e in zip(items, encoded, strict=True))
        head, tail = [], []
        for (dynamic, _), e in zip(items, encoded, strict=True):
            if dynamic:
                head.append(_word(offset))
                tail.append(e)
                offset += len(e)
            else:
                head.append(e)
        return b"".join(head) + b"".join(tail)

    return encode


def _split_components(inner: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts


@lru_cache(maxsize=1024)
def _abi_encoder(kind: str) -> tuple[bool, _Encode]:
    """(is dynamic, encoder) for one canonical ABI type; LedgerError for types left to eth-abi."""
    if kind.endswith("]"):
        base, _, size = kind[:-1].rpartition("[")
        item = _abi_encoder(base)
        if not size:

            def encode_list(values: Any) -> bytes:
                return _word(len(values)) + _sequence_encoder([item] * len(values))(values)

            return True, encode_list
        return item[0], _sequence_encoder([item] * int(size))
    if kind.startswith("(") and kind.endswith(")"):
        items = [_abi_encoder(part) for part in _split_components(kind[1:-1])]
        return any(dynamic for dynamic, _ in items), _sequence_encoder(items)
    if kind == "address":
        return False, _encode_address
    if kind == "bool":
        return False, _encode_bool
    if kind in ("bytes", "string"):
        return True, _encode_dynamic_bytes
    match = re.fullmatch(r"(u?int)(\d*)|bytes(\d+)", kind)
    if match and match.group(1):
        bits = int(match.group(2) or 256)
        if bits % 8 == 0 and 8 <= bits <= 256:
            return False, (_uint_encoder if match.group(1) == "uint" else _int_encoder)(bits)
    elif match and 1 <= int(match.group(3)) <= 32:
        return False, _fixed_bytes_encoder(int(match.group(3)))
    raise LedgerError(f"{kind}: not a type the lean ABI encoder takes")


@lru_cache(maxsize=512)
def _arguments_encoder(types: tuple[str, ...]) -> _Encode:
    """Encoder of a function's arguments: the lean one, else eth-abi's (fixed-point types)."""
    try:
        return _abi_encoder("(" + ",".join(types) + ")")[1]
    except LedgerError:
        return lambda values: abi_encode(list(types), list(values))


def encode_arguments(types: tuple[str, ...], values: tuple[Any, ...]) -> bytes:
    """ABI encoding of ``values``, as ``eth_abi.encode(types, values)`` gives it.

    A lean head-and-tail encoder compiled once per signature: eth-abi spends ~60 us per
    call on its generic validation. Values it does not take as they are go to eth-abi,
    which either encodes them or says what is wrong.
    """
    try:
        return _arguments_encoder(types)(values)
    except (TypeError, ValueError, OverflowError):
        return abi_encode(list(types), list(values))


def encode_function(fn: ContractFunction) -> bytes:
    """Calldata of a bound ``ContractFunction``, without web3's per-call encoding.

    web3's own ``_encode_transaction_data`` resolves the ABI and normalises every argument
    again (about 1 ms for a struct argument); arguments neither encoder takes as they are
    (ENS names, hex strings for bytes) go through web3.
    """
    types = tuple(abi_type(p) for p in fn.abi.get("inputs", []))
    try:
        arguments = tuple(fn.arguments) if fn.arguments else ()
        return bytes(HexBytes(fn.selector)[:4]) + encode_arguments(types, arguments)
    except (EncodingError, TypeError, ValueError, OverflowError):
        return bytes(HexBytes(fn._encode_transaction_data()))
