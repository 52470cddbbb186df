"""The indexer's reads of the node's blocks: its head, block headers and transaction counts.

``BlockReads`` is a layer of those reads over the one transport, ``ledger.eth.jsonrpc.JsonRpc``
(JSON-RPC batches over HTTP, a session per thread, one request at a time through web3 in
process). A forked reader makes new ones (``_Pager.fresh``): never the parent's sockets.

For the indexer a node that cannot be reached, refuses a batch or answers an error is
``ChainUnavailable``: it tries again later, and has no other way to read blocks. In process a
block the chain does not have is None, whatever web3 raised for it (eth-tester raises
``BlockNotFound`` beyond its head).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import ChainUnavailable
from ledger.eth.chain import Chain
from ledger.eth.jsonrpc import NO_ANSWER, BatchRefused, JsonRpc, RpcError, TransportFailed, as_int

#: Seconds one request may take: a page's batch of headers from a busy node can be slow.
TIMEOUT = 120.0
#: Headers per request (each answer a block's header), and requests per batch otherwise.
HEADERS = 500
PER_REQUEST = 1_000


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transactions: tuple[str, ...] = ()  # the block's transaction hashes (lowercase hex)


class BlockReads:
    """Block numbers, headers and transaction counts, in JSON-RPC batches (one call at a time in process)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.transport = JsonRpc(chain.w3, TIMEOUT, on_refusal="raise")

    @property
    def url(self) -> str | None:
        return self.transport.url

    def block_number(self) -> int:
        answer = self._exchange([("eth_blockNumber", [])], "eth_blockNumber batch")[0]
        if isinstance(answer, RpcError):
            if answer.exception is not None:  # in process: what web3 raised
                raise answer.exception
            raise self._failed("eth_blockNumber", answer)
        return as_int(answer)

    def transaction_counts(self, numbers: Sequence[int]) -> dict[int, int | None]:
        """How many transactions each block of ``numbers`` holds (None for a block the node does not have)."""
        found: dict[int, int | None] = {}
        for start in range(0, len(numbers), PER_REQUEST):
            chunk = numbers[start : start + PER_REQUEST]
            calls = [("eth_getBlockTransactionCountByNumber", [hex(n)]) for n in chunk]
            answers = self._exchange(calls, "eth_getBlockTransactionCountByNumber batch")
            for number, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, RpcError):
                    if answer is not NO_ANSWER:
                        self._check(f"eth_getBlockTransactionCountByNumber({number})", answer)
                        found[number] = None
                else:
                    found[number] = None if answer is None else as_int(answer)
        return found

    def headers_and_counts(
        self, numbers: Sequence[int], counted: Sequence[int]
    ) -> tuple[dict[int, Header | None], dict[int, int | None]]:
        """``headers(numbers)`` and ``transaction_counts(counted)``, in one request where they fit one batch."""
        if not self.transport.batches or len(numbers) + len(counted) > PER_REQUEST:
            return self.headers(numbers), self.transaction_counts(counted)
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        calls += [("eth_getBlockTransactionCountByNumber", [hex(n)]) for n in counted]
        answers = self._exchange(calls, "a batch of headers and counts")
        headers: dict[int, Header | None] = {}
        counts: dict[int, int | None] = {}
        for at, answer in enumerate(answers):
            if isinstance(answer, RpcError):
                if answer is NO_ANSWER:
                    continue
                method, params = calls[at]
                self._check(f"{method}{params}", answer)
                answer = None
            if at < len(numbers):
                headers[numbers[at]] = None if answer is None else _header_of(numbers[at], answer)
            else:
                counts[counted[at - len(numbers)]] = None if answer is None else as_int(answer)
        return headers, counts

    def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        """The headers of ``numbers`` (None for a block the node does not have)."""
        found: dict[int, Header | None] = {}
        for start in range(0, len(numbers), HEADERS):
            chunk = numbers[start : start + HEADERS]
            calls = [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
            answers = self._exchange(calls, "eth_getBlockByNumber batch")
            for number, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, RpcError):
                    if answer is not NO_ANSWER:
                        self._check(f"eth_getBlockByNumber({number})", answer)
                        found[number] = None
                else:
                    found[number] = None if answer is None else _header_of(number, answer)
        return found

    # -- answers ------------------------------------------------------------------------

    def _exchange(self, calls: list[tuple[str, list[Any]]], batch: str) -> list[Any]:
        """The answers to ``calls``, sent as one request (``batch`` names it if the node refuses it)."""
        try:
            return self.transport.batch(calls, size=max(1, len(calls)))
        except TransportFailed as exc:
            raise ChainUnavailable(str(self.url), str(exc.cause)) from exc.cause
        except BatchRefused as exc:
            raise ChainUnavailable(str(self.url), f"{batch} answered {json.dumps(exc.answer)[:200]}") from None

    def _failed(self, request: str, answer: RpcError) -> ChainUnavailable:
        """The node's error object, quoted whole."""
        return ChainUnavailable(str(self.url), f"{request}: {answer.error}")

    def _check(self, request: str, answer: RpcError) -> None:
        """An error answer to ``request`` is ``ChainUnavailable`` over HTTP. In process it says that
        the block is missing (None), whatever web3 raised for it."""
        if answer.exception is None:
            raise self._failed(request, answer)


def _header_of(number: int, block: Mapping[str, Any]) -> Header:
    """A header from the node's block (transaction hashes only). Hashes stay as the node wrote them:
    they are compared with its logs' as they are. (In process web3 passes eth-tester's answers on in
    the same form, hex strings; only the time is an int there.)"""
    return Header(
        number, block["hash"], block["parentHash"], as_int(block["timestamp"]), tuple(block.get("transactions", ()))
    )
