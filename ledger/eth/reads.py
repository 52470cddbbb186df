"""Many view calls in one round trip: hand-encoded ``eth_call`` batches.

web3's per-call machinery (ABI lookup, validation middleware, formatting) costs about 5 ms a
call; a service that reads an order per captured event, or a test that compares forty views
after every step, pays that many times over. Here each view is encoded once per distinct
argument tuple and a whole list of calls goes to the node as one JSON-RPC batch (anvil and
any HTTP node); in-process chains (eth-tester) answer one call at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from ledger.errors import ChainUnavailable
from ledger.eth.abi import abi_type
from ledger.eth.chain import REVERTS, Chain, revert_data


@dataclass(frozen=True)
class RawView:
    """One view function of the contract at ``address``, encoded and decoded by hand."""

    address: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def of(cls, address: str, abi: Sequence[Mapping[str, Any]], name: str) -> RawView:
        item = next(i for i in abi if i.get("type") == "function" and i["name"] == name)
        inputs = tuple(abi_type(p) for p in item["inputs"])
        outputs = tuple(abi_type(p) for p in item["outputs"])
        return cls(address, function_signature_to_4byte_selector(f"{name}({','.join(inputs)})"), inputs, outputs)

    def request(self, *args: Any) -> dict[str, str]:
        return {"to": self.address, "data": _calldata(self, args)}

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        if self.outputs == ("uint256",):  # the most common view: no need for the general decoder
            return (int.from_bytes(raw, "big"),)
        return tuple(abi_decode(list(self.outputs), raw))


@lru_cache(maxsize=4096)
def _calldata(view: RawView, args: tuple[Any, ...]) -> str:
    return "0x" + (view.selector + abi_encode(list(view.inputs), list(args))).hex()


class ViewBatch:
    """Reads many views at the latest block; a revert raises the decoded ``ContractReverted``."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def read(self, calls: Sequence[tuple[RawView, tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        raws = self.read_raw(calls)
        return [view.decode(raw) for (view, _), raw in zip(calls, raws, strict=True)]

    def read_raw(self, calls: Sequence[tuple[RawView, tuple[Any, ...]]]) -> list[bytes]:
        """The undecoded return data, for callers that need a few words of a large struct."""
        if not calls:
            return []
        provider = self.chain.w3.provider
        requests_ = [view.request(*args) for view, args in calls]
        raws: list[bytes] = []
        if isinstance(provider, HTTPProvider):
            batch = [(RPCEndpoint("eth_call"), [req, "latest"]) for req in requests_]
            try:
                answers = provider.make_batch_request(batch)
            except (requests.RequestException, OSError) as exc:
                raise ChainUnavailable(self.chain.endpoint, str(exc)) from exc
            if not isinstance(answers, list):
                raise ChainUnavailable(self.chain.endpoint, f"batch eth_call answered {answers!r}")
            for answer in answers:
                if "error" in answer:
                    error = answer["error"]
                    data = error.get("data") if isinstance(error, dict) else None
                    raise self.chain.errors.decode(data if isinstance(data, str) else None)
                raws.append(bytes(HexBytes(answer["result"])))
        else:
            for req in requests_:
                try:
                    raws.append(bytes(self.chain.w3.eth.call(req)))  # type: ignore[arg-type]
                except REVERTS as exc:
                    raise self.chain.errors.decode(revert_data(exc)) from exc
        return raws
