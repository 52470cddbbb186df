"""Refused calls: transactions to a ledger contract that were mined and reverted, decoded.

A reverted transaction leaves no log, yet it is mined, signed by its sender and verifiable by
anyone: a party that tried to finance an already-financed piece, or to issue an invoice twice,
said so on chain. The indexer keeps each as a ``refused_calls`` row and the audit replay checks
those rows; both decode them here, the same way:

* the call: contract and function by selector (``ledger.eth.calldata``), its arguments as JSON
  in the encoding of ``events.args`` (addresses EIP-55, bytes ``0x`` hex, integers of types wider
  than 64 bits as decimal strings, structs as objects keyed by their components' names);
* the error: the revert data's selector among the custom errors of every deployed contract
  (a revert can bubble up from a contract the call reached: the token's, under the escrow's
  call), ``Error(string)`` and ``Panic(uint256)``; its arguments in the same JSON form. No revert
  data, or a selector no ABI names: the error is unknown (NULL).

``outcomes`` finds whether quiet calls reverted and their revert data: from the node's call
traces where it keeps them (``trace_transaction``: the top-level call's ``error`` and
``result.output``), else from the receipt's status and the same call replayed with ``eth_call``
at the parent block (its revert data is then the likely one, not a proof: earlier transactions
of the block are not replayed, so the error may stay unknown).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from eth_utils import function_signature_to_4byte_selector

from ledger.eth.abi import abi_type
from ledger.eth.calldata import CalldataError, CallDecoder, _Tuple, tuple_decoder
from ledger.eth.rpc import Rpc, RpcFailed, Tx, quantity

_INT: Final = re.compile(r"u?int(\d*)$")
ERROR_STRING: Final = {"name": "Error", "type": "error", "inputs": [{"name": "message", "type": "string"}]}
PANIC: Final = {"name": "Panic", "type": "error", "inputs": [{"name": "code", "type": "uint256"}]}


def abi_json(param: Mapping[str, Any], value: Any) -> Any:
    """``value`` (as the calldata decoder gives it) in the JSON form of ``events.args``."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [abi_json(inner, v) for v in value]
    if kind == "tuple":
        components = param.get("components", [])
        return {str(c.get("name") or i): abi_json(c, v) for i, (c, v) in enumerate(zip(components, value, strict=True))}
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    match = _INT.match(kind)
    if match and isinstance(value, int):
        return str(value) if int(match.group(1) or 256) > 64 else value
    return value


def args_json(params: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> dict[str, Any]:
    """Named arguments (an unnamed one by its position) in the JSON form of ``events.args``."""
    return {str(p.get("name") or i): abi_json(p, v) for i, (p, v) in enumerate(zip(params, values, strict=True))}


@dataclass(frozen=True)
class Refusal:
    """One reverted call of a ledger contract, as a ``refused_calls`` row says it."""

    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    sender: str
    contract: str
    function: str
    error: str | None
    error_args: dict[str, Any] | None
    args: dict[str, Any] | None

    def row(self, chain_id: int) -> dict[str, Any]:
        return {
            "chain_id": chain_id,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "tx_hash": self.tx_hash,
            "tx_index": self.tx_index,
            "sender": self.sender,
            "contract": self.contract,
            "function": self.function,
            "error": self.error,
            "error_args": self.error_args,
            "args": self.args,
        }


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    params: tuple[Mapping[str, Any], ...]
    decoder: _Tuple


class RefusalDecoder:
    """Decodes the reverted calls of the contracts at ``addresses`` (name → address) with ``abis``."""

    def __init__(self, addresses: Mapping[str, str], abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.calls = CallDecoder(addresses, abis)
        self.inputs: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        self.errors: dict[bytes, _ErrorAbi] = {}
        for name in addresses:
            for item in abis[name]:
                if item.get("type") == "function":
                    signature = f"{item['name']}({','.join(abi_type(p) for p in item.get('inputs', []))})"
                    self.inputs[(name, signature)] = list(item.get("inputs", []))
        for item in [ERROR_STRING, PANIC, *(i for name in addresses for i in abis[name] if i.get("type") == "error")]:
            params = tuple(item.get("inputs", []))
            signature = f"{item['name']}({','.join(abi_type(p) for p in params)})"
            selector = function_signature_to_4byte_selector(signature)
            self.errors.setdefault(selector, _ErrorAbi(str(item["name"]), params, tuple_decoder(params)))

    def call(self, tx: Tx) -> tuple[str, str, dict[str, Any] | None] | None:
        """(contract, function, args) of ``tx``'s call; args None when the calldata does not decode;
        None when ``tx`` is not a call of a ledger contract. An unknown selector is function ``0x…``."""
        if tx.to is None or tx.to not in self.calls.contract_of:
            return None
        contract = self.calls.contract_of[tx.to]
        fn = self.calls.function(tx.to, tx.input)
        if fn is None:
            return contract, "0x" + bytes(tx.input[:4]).hex() if tx.input else "", None
        try:
            values = fn.decode(tx.input)
        except CalldataError:
            return contract, fn.name, None
        return contract, fn.name, args_json(self.inputs[(contract, fn.signature)], values)

    def error(self, output: str | None) -> tuple[str | None, dict[str, Any] | None]:
        """(name, args) of the revert data ``output`` (hex); (None, None) when nothing names it."""
        if not output or len(output) < 10:
            return None, None
        try:
            data = bytes.fromhex(output[2:] if output.startswith("0x") else output)
        except ValueError:
            return None, None
        found = self.errors.get(data[:4])
        if found is None:
            return None, None
        try:
            values = found.decoder.decode(data[4:], 0)
        except CalldataError:
            return found.name, None
        return found.name, args_json(found.params, values)

    def refusal(self, tx: Tx) -> Refusal | None:
        """The refusal ``tx`` is (it must have reverted, see ``outcomes``); None when it calls no ledger contract."""
        call = self.call(tx)
        if call is None:
            return None
        contract, function, args = call
        error, error_args = self.error(tx.output)
        return Refusal(
            tx.block_number, tx.block_hash, tx.hash, tx.index, tx.sender, contract, function, error, error_args, args
        )


def outcomes(rpc: Rpc, txs: Sequence[Tx]) -> list[Tx]:
    """``txs`` with ``reverted`` and ``output`` (revert data) filled in where they are not yet."""
    unknown = [tx for tx in txs if tx.reverted is None]
    if not unknown:
        return list(txs)
    found: dict[str, Tx] = {}
    if rpc.use_traces:
        try:
            for tx, traces in zip(unknown, rpc.many("trace_transaction", [[tx.hash] for tx in unknown]), strict=True):
                top = next((t for t in traces or [] if not t.get("traceAddress")), None)
                if top is None:
                    raise RpcFailed("trace_transaction", f"no trace of {tx.hash}")
                result = top.get("result") or {}
                failed = top.get("error") is not None
                found[tx.hash] = replace(tx, reverted=failed, output=result.get("output") if failed else None)
        except Exception:  # any refusal of trace_transaction means: this node keeps no traces
            rpc.use_traces = False  # receipts and eth_call from now on
            found.clear()
    if not found:
        receipts = rpc.many("eth_getTransactionReceipt", [[tx.hash] for tx in unknown])
        for tx, receipt in zip(unknown, receipts, strict=True):
            if receipt and quantity(receipt["status"]) == 0:
                found[tx.hash] = replace(tx, reverted=True, output=_replayed(rpc, tx))
            else:
                found[tx.hash] = replace(tx, reverted=False)
    return [found.get(tx.hash, tx) for tx in txs]


def _replayed(rpc: Rpc, tx: Tx) -> str | None:
    """The revert data of ``tx``'s call replayed at its parent block (None when it does not revert there)."""
    if tx.to is None:
        return None
    request = {"from": tx.sender, "to": tx.to, "data": "0x" + tx.input.hex()}
    try:
        rpc.one("eth_call", [request, hex(max(0, tx.block_number - 1))])
    except RpcFailed as failed:
        return failed.data
    return None
