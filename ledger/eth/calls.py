"""Unsigned contract calls: what a client builds, and what one sender signs and executes.

A ``Call`` is a contract call before anyone signs it: the contract and function it names,
the target address, the calldata, the native value and the ABI types of what it returns
(``decode``). The contract clients (``ledger.clients.escrow``, ``ledger.clients.receivables``,
``ledger.clients.credit``, ``ledger.clients.token``, ``ledger.clients.membership``) are the only code that knows
function names and argument order: each has a ``calls`` builder (``escrow.calls.fund(7)``)
and its sending methods are one line over a builder and ``Chain.send``. Everything else
passes ``Call``s around: the API prepares them for a party's wallet, ``BatchSender`` signs
thousands of them (``ledger.eth.batch.Call.from_call`` adds the signer), the oracle aggregator
and the scenarios build them through the clients. Nothing outside the clients touches a
web3 ``contract.functions``.

Calldata comes from the batch sender's lean ABI encoder (eth-abi's bytes, compiled once per
signature) rather than web3's ``ContractFunction``, which resolves the ABI again and
normalises every argument on each call: a scenario builds hundreds of thousands of calls.

Which calls a party may submit through the API's relayer is declared here too, next to the
builders (``ContractCalls.PARTY_CALLS``); the relayer asks ``party_selectors()`` instead of
deriving signatures from the ABI itself, so the allow-list and the calls the routes build
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger.errors import LedgerError
from ledger.eth.abi import abi_type, encode_arguments


@dataclass(frozen=True)
class Call:
    """One contract call, unsigned: ``to`` and ``data`` are what goes on the wire."""

    contract: str
    function: str
    to: str
    data: bytes
    value: int = 0
    #: ABI types of the function's return values, for ``decode``.
    outputs: tuple[str, ...] = field(default=(), compare=False)

    @property
    def selector(self) -> bytes:
        return self.data[:4]

    def decode(self, returned: bytes) -> Any:
        """The call's return data as Python values: one value as itself, several as a tuple."""
        values = abi_decode(list(self.outputs), returned)
        return values[0] if len(values) == 1 else tuple(values)

    def __str__(self) -> str:
        return f"{self.contract}.{self.function} at {self.to}"


@dataclass(frozen=True)
class _Function:
    name: str
    types: tuple[str, ...]
    outputs: tuple[str, ...]
    selector: bytes


class ContractCalls:
    """Builds the ``Call``s of one deployed contract from its ABI; clients subclass it with typed builders.

    A subclass names its contract (``CONTRACT``) and the functions a party may send itself through
    the API (``PARTY_CALLS``: administration stays with the command line).
    """

    CONTRACT: ClassVar[str] = ""
    PARTY_CALLS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, abi: Sequence[Mapping[str, Any]], address: str) -> None:
        self.address = to_checksum_address(address)
        self._functions: dict[str, _Function] = {}
        overloaded: set[str] = set()
        for item in abi:
            if item.get("type") != "function":
                continue
            name = str(item["name"])
            types = tuple(abi_type(p) for p in item.get("inputs", []))
            outputs = tuple(abi_type(p) for p in item.get("outputs", []))
            selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
            if name in self._functions:
                overloaded.add(name)
            self._functions[name] = _Function(name, types, outputs, selector)
        for name in overloaded:  # a builder names functions, so an overloaded name has no one meaning
            del self._functions[name]
        missing = sorted(self.PARTY_CALLS - self._functions.keys())
        if missing:
            raise LedgerError(
                f"{self.CONTRACT}'s ABI has no (single) function {', '.join(missing)} that its party calls name: "
                "rebuild the contracts (scf compile) or correct PARTY_CALLS"
            )

    def build(self, function: str, *args: Any, value: int = 0) -> Call:
        """The call of ``function(*args)``; arguments as eth-abi takes them (tuples for structs)."""

        spec = self._function(function)
        data = spec.selector + encode_arguments(spec.types, args)
        return Call(self.CONTRACT, function, self.address, data, value, spec.outputs)

    def selector(self, function: str) -> bytes:
        return self._function(function).selector

    def party_selectors(self) -> dict[bytes, str]:
        """Selector -> function name of every call a party may submit through the API."""
        return {self._functions[name].selector: name for name in sorted(self.PARTY_CALLS)}

    def _function(self, name: str) -> _Function:
        try:
            return self._functions[name]
        except KeyError:
            raise LedgerError(f"{self.CONTRACT} has no function {name!r} a call can be built for") from None
