"""The items of a batch (``ledger.eth.batch``): a call with the account that signs it, and calldata for one
function built without web3's per-call ABI resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.errors import LedgerError
from ledger.eth.abi import abi_type, encode_arguments, encode_function
from ledger.eth.calls import Call as UnsignedCall


@dataclass(frozen=True)
class Call:
    """One transaction of a batch: its target, calldata and the account that signs it.

    This is a client's unsigned ``ledger.eth.calls.Call`` with its signer and the batch's
    bookkeeping (``from_call``); plain transfers of native currency (empty ``data``) are
    built directly. ``kind`` groups calls that share one gas estimate (default: target
    and selector).
    """

    to: str
    data: bytes
    sender: LocalAccount
    value: int = 0
    gas: int | None = None
    kind: str | None = None
    label: str = ""

    @classmethod
    def of(
        cls,
        fn: ContractFunction,
        sender: LocalAccount,
        *,
        value: int = 0,
        gas: int | None = None,
        label: str = "",
    ) -> Call:
        if not fn.address:
            raise LedgerError(f"{fn.fn_name} is not bound to a contract address")
        return cls(fn.address, encode_function(fn), sender, value, gas, None, label or fn.fn_name)

    @classmethod
    def from_call(cls, call: UnsignedCall, sender: LocalAccount, *, gas: int | None = None, label: str = "") -> Call:
        """``call`` (built by a contract client) signed by ``sender``; labelled with its function by default."""
        return cls(call.to, call.data, sender, call.value, gas, None, label or call.function)

    def gas_kind(self) -> str:
        if self.kind is not None:
            return self.kind
        return f"{self.to.lower()}:{self.data[:4].hex()}" + (":value" if self.value else "")


def as_call(call: ContractFunction | UnsignedCall, sender: LocalAccount) -> Call:
    return Call.of(call, sender) if isinstance(call, ContractFunction) else Call.from_call(call, sender)


class FunctionEncoder:
    """Calldata for one function of ``contract``, skipping web3's per-call ABI resolution.

    Building ``contract.functions.f(*args)`` costs about 0.25 ms before encoding; in a
    batch of thousands that is the largest cost left after signing.
    """

    def __init__(self, contract: Contract, name: str) -> None:
        abi: list[dict[str, Any]] = list(contract.abi)  # type: ignore[arg-type]
        matches = [item for item in abi if item.get("type") == "function" and item.get("name") == name]
        if len(matches) != 1:
            raise LedgerError(f"{name}: expected one function of that name in the ABI, found {len(matches)}")
        self.types = tuple(abi_type(p) for p in matches[0].get("inputs", []))
        self.address = contract.address
        self.name = name
        self.signature = f"{name}({','.join(self.types)})"
        self.selector = function_signature_to_4byte_selector(self.signature)

    def data(self, *args: Any) -> bytes:
        return self.selector + encode_arguments(self.types, args)

    def call(self, sender: LocalAccount, *args: Any, value: int = 0, gas: int | None = None, label: str = "") -> Call:
        return Call(self.address, self.data(*args), sender, value, gas, None, label or self.name)
