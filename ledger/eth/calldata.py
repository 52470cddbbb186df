"""Calldata → (contract, function, arguments), by selector, for every deployed contract's ABI.

A lean ABI decoder (the replay decodes every transaction): types are parsed once from the
ABI into small decoder objects; values come out as eth-abi gives them (ints, bools, bytes,
str, tuples for structs and arrays) except addresses, which come out EIP-55 (the form the
models compare). Anything malformed raises ``CalldataError``, as the contract's own ABI
decoder would revert.

Each decoder has two entry points: ``decode`` checks every word it reads against the end of the
calldata, ``read`` trusts that its head words are there. A tuple whose head words all lie inside
the calldata (every well-formed call) reads them unchecked; any other goes the checked way word
by word, so a short call fails with the same error, at the same word, either way. Addresses are
memoised by their 32-byte word: the same few hundred parties recur in every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import function_signature_to_4byte_selector

from ledger.domain.addresses import address
from ledger.errors import LedgerError
from ledger.eth.abi import abi_type


class CalldataError(LedgerError):
    """Calldata that the function's ABI does not accept."""


def _word(data: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(data):
        raise CalldataError(f"calldata ends before offset {at + 32}")
    return int.from_bytes(data[at : at + 32], "big")


class _Type:
    dynamic = False
    head = 32

    def decode(self, data: bytes, at: int) -> Any:
        raise NotImplementedError

    def read(self, data: bytes, at: int) -> Any:
        """``decode`` where the caller has checked that the head words at ``at`` are in the calldata."""
        return self.decode(data, at)


class _Uint(_Type):
    def __init__(self, bits: int) -> None:
        self.limit = 1 << bits

    def decode(self, data: bytes, at: int) -> int:
        value = _word(data, at)
        if value >= self.limit:
            raise CalldataError(f"{value} does not fit uint{self.limit.bit_length() - 1}")
        return value

    def read(self, data: bytes, at: int) -> int:
        value = int.from_bytes(data[at : at + 32], "big")
        if value >= self.limit:
            raise CalldataError(f"{value} does not fit uint{self.limit.bit_length() - 1}")
        return value


class _Int(_Type):
    def __init__(self, bits: int) -> None:
        self.bits = bits

    def decode(self, data: bytes, at: int) -> int:
        value = _word(data, at)
        if value >= 1 << 255:
            value -= 1 << 256
        if not -(1 << (self.bits - 1)) <= value < 1 << (self.bits - 1):
            raise CalldataError(f"{value} does not fit int{self.bits}")
        return value


#: 32-byte word → EIP-55 address, for ``_Address.read``; cleared when it grows past ``_ADDRESS_CACHE``.
_ADDRESSES: dict[bytes, str] = {}
_ADDRESS_CACHE = 1 << 16


class _Address(_Type):
    def decode(self, data: bytes, at: int) -> str:
        value = _word(data, at)
        if value >> 160:
            raise CalldataError("an address with dirty upper bits")
        return address("0x" + value.to_bytes(20, "big").hex())

    def read(self, data: bytes, at: int) -> str:
        word = bytes(data[at : at + 32])  # hashable whatever buffer the calldata came in
        found = _ADDRESSES.get(word)
        if found is None:
            found = self.decode(word, 0)
            if len(_ADDRESSES) >= _ADDRESS_CACHE:
                _ADDRESSES.clear()
            _ADDRESSES[word] = found
        return found


class _Bool(_Type):
    def decode(self, data: bytes, at: int) -> bool:
        value = _word(data, at)
        if value > 1:
            raise CalldataError(f"{value} is not a bool")
        return value == 1

    def read(self, data: bytes, at: int) -> bool:
        value = int.from_bytes(data[at : at + 32], "big")
        if value > 1:
            raise CalldataError(f"{value} is not a bool")
        return value == 1


class _FixedBytes(_Type):
    def __init__(self, size: int) -> None:
        self.size = size

    def decode(self, data: bytes, at: int) -> bytes:
        _word(data, at)
        return bytes(data[at : at + self.size])

    def read(self, data: bytes, at: int) -> bytes:
        return bytes(data[at : at + self.size])


class _Bytes(_Type):
    dynamic = True

    def __init__(self, text: bool) -> None:
        self.text = text

    def decode(self, data: bytes, at: int) -> bytes | str:
        length = _word(data, at)
        if at + 32 + length > len(data):
            raise CalldataError("bytes run past the calldata")
        raw = bytes(data[at + 32 : at + 32 + length])
        if not self.text:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CalldataError(f"a string that is not UTF-8: {exc}") from None


class _Tuple(_Type):
    def __init__(self, items: Sequence[_Type]) -> None:
        self.items = tuple(items)
        self.dynamic = any(item.dynamic for item in self.items)
        self.span = sum(item.head for item in self.items)  # the bytes of the head words
        self.head = 32 if self.dynamic else self.span
        self.plan = tuple((item, item.head, item.dynamic) for item in self.items)

    def decode(self, data: bytes, at: int) -> tuple[Any, ...]:
        if at >= 0 and at + self.span <= len(data):
            return self.read(data, at)
        return self.checked(data, at)

    def read(self, data: bytes, at: int) -> tuple[Any, ...]:
        """The tuple at ``at``, its head words known to be in the calldata (dynamic parts are checked)."""
        values: list[Any] = []
        append = values.append
        head = at
        for item, size, dynamic in self.plan:
            if dynamic:
                append(item.decode(data, at + int.from_bytes(data[head : head + 32], "big")))
            else:
                append(item.read(data, head))
            head += size
        return tuple(values)

    def checked(self, data: bytes, at: int) -> tuple[Any, ...]:
        values = []
        head = at
        for item in self.items:
            if item.dynamic:
                values.append(item.decode(data, at + _word(data, head)))
                head += 32
            else:
                values.append(item.decode(data, head))
                head += item.head
        return tuple(values)


class _Array(_Type):
    """``T[]`` (``length`` None) or ``T[k]``."""

    def __init__(self, item: _Type, length: int | None) -> None:
        self.item = item
        self.length = length
        self.dynamic = length is None or item.dynamic
        self.head = 32 if self.dynamic else item.head * (length or 0)
        self._tuples: dict[int, _Tuple] = {}

    def decode(self, data: bytes, at: int) -> tuple[Any, ...]:
        if self.length is None:
            count = _word(data, at)
            if count > len(data):
                raise CalldataError(f"an array of {count} items in {len(data)} bytes")
            at += 32
        else:
            count = self.length
        tuples = self._tuples
        items = tuples.get(count)
        if items is None:
            items = _Tuple([self.item] * count)
            if count <= 64:  # the common short arrays (signatures, children), not every length seen
                tuples[count] = items
        return items.decode(data, at)


def _parse(param: Mapping[str, Any]) -> _Type:
    kind = str(param["type"])
    if kind.endswith("]"):
        inner, _, size = kind[:-1].rpartition("[")
        return _Array(_parse({**param, "type": inner}), int(size) if size else None)
    if kind == "tuple":
        return _Tuple([_parse(c) for c in param["components"]])
    if kind == "address":
        return _Address()
    if kind == "bool":
        return _Bool()
    if kind in ("bytes", "string"):
        return _Bytes(text=kind == "string")
    if kind.startswith("bytes"):
        return _FixedBytes(int(kind[5:]))
    if kind.startswith("uint"):
        return _Uint(int(kind[4:] or 256))
    if kind.startswith("int"):
        return _Int(int(kind[3:] or 256))
    raise CalldataError(f"ABI type {kind} is not supported by the replay's decoder")


def tuple_decoder(params: Sequence[Mapping[str, Any]]) -> _Tuple:
    """A decoder of ``params`` encoded as one ABI tuple (a function's inputs or outputs, an event's data)."""
    return _Tuple([_parse(p) for p in params])


def decode_tuple(decoder: _Tuple, data: bytes) -> tuple[Any, ...]:
    return decoder.decode(data, 0)


@dataclass(frozen=True)
class FunctionAbi:
    contract: str
    name: str
    signature: str
    names: tuple[str, ...]
    decoder: _Tuple
    mutates: bool

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The arguments of ``data`` (selector included), in ABI order."""
        return self.decoder.decode(data[4:], 0)


@dataclass(frozen=True)
class Call:
    """A transaction's call of a deployed contract, decoded."""

    contract: str
    function: str
    args: tuple[Any, ...]


class CallDecoder:
    """Selector → function for the contracts at ``addresses`` (name → address) with ``abis``."""

    def __init__(self, addresses: Mapping[str, str], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.contract_of = {address(a): name for name, a in addresses.items()}
        self._functions: dict[tuple[str, bytes], FunctionAbi] = {}
        self.constructors: dict[str, FunctionAbi] = {}
        for name, at in addresses.items():
            for item in abis[name]:
                if item.get("type") == "constructor":
                    self.constructors[name] = _function(name, "constructor", item)
                if item.get("type") != "function":
                    continue
                fn = _function(name, str(item["name"]), item)
                selector = function_signature_to_4byte_selector(fn.signature)
                self._functions[(address(at), selector)] = fn

    def function(self, to: str, data: bytes) -> FunctionAbi | None:
        return self._functions.get((to, bytes(data[:4])))

    def decode(self, to: str, data: bytes) -> Call | None:
        """The call ``data`` makes of the contract at ``to``; None for an unknown function."""
        fn = self.function(to, data)
        if fn is None:
            return None
        return Call(fn.contract, fn.name, fn.decode(data))

    def constructor_args(self, contract: str, creation_input: bytes) -> tuple[Any, ...] | None:
        """The constructor's arguments at the end of a creation transaction's input (static
        arguments only: they are the last words of the input whatever the bytecode)."""
        fn = self.constructors.get(contract)
        if fn is None:
            return ()
        if fn.decoder.dynamic:
            return None
        size = fn.decoder.head
        if len(creation_input) < size:
            raise CalldataError(f"a creation input of {len(creation_input)} bytes holds no {fn.signature}")
        return fn.decoder.decode(creation_input[len(creation_input) - size :], 0)


def _function(contract: str, name: str, item: Mapping[str, Any]) -> FunctionAbi:
    inputs = item.get("inputs", [])
    signature = f"{name}({','.join(abi_type(p) for p in inputs)})"
    return FunctionAbi(
        contract,
        name,
        signature,
        tuple(str(p.get("name", "")) for p in inputs),
        tuple_decoder(inputs),
        item.get("stateMutability") not in ("view", "pure"),
    )
