"""Anvils the tests drive in a mode of their own: a ledger on an anvil of its own, automine off, synchronous sends.

The session's ``deployed`` ledger (``tests/conftest.py``) is rolled back after every test, which
suits tests that write and forget. The indexer suite reverts its chain to its own snapshots
(reorgs) and the ``/v1`` suite indexes its chain and serves it for a whole session; both need a
chain nobody else touches, and a deployment record on disk as ``scf deploy`` writes it (the
indexer and the API read addresses and the start block from it).

``synchronous_sends`` is for suites that send thousands of transactions one at a time to an
automining anvil (the lock-step property suites). ``Chain.send`` sends a raw transaction, then
polls for its receipt every 50 ms; anvil answers the send before its miner has run, so on a busy
machine many first polls miss and cost the whole 50 ms (143 of 1,935 sends in a quiet run of the
escrow suite, more under load). Under ``synchronous_sends`` a QuickChain sends with
``eth_sendRawTransactionSync``, which answers with the receipt once mined: one round trip, no
poll. Everything the deployment asks the node meanwhile (sends, preflights, the invariants' batched
views, snapshots, time) goes over one kept-alive ``http.client`` connection, headers and body in
one write, instead of requests (two writes and about 0.6 ms of Python per request).
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider
from web3._utils.method_formatters import receipt_formatter
from web3.datastructures import AttributeDict
from web3.types import RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from ledger.errors import LedgerError
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import RPC_TIMEOUT, Chain, ErrorDecoder
from ledger.toolchain.deploy import deploy, enrol_dev_members
from ledger.toolchain.devnet import Devnet
from tests.support.deployments import Deployed
from tests.support.ports import free_port

if TYPE_CHECKING:
    from ledger.eth.calls import Call


@dataclass(frozen=True)
class OwnChain:
    """An anvil, the ledger deployed on it (dev members enrolled), and the deployment record's path."""

    devnet: Devnet
    deployed: Deployed
    record: Path


@contextmanager
def own_chain(build: BuildResult, root: Path) -> Iterator[OwnChain]:
    """An automine anvil under ``root/anvil``, the ledger deployed on it (record in ``root/deployments``).

    The anvil is stopped on exit."""
    devnet = Devnet(run_dir=root / "anvil", port=free_port(), mining="auto")
    devnet.up()
    try:
        chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
        assert chain.accounts is not None
        record = root / "deployments" / f"{chain.chain_id}.json"
        result = deploy(chain, build, chain.accounts["admin"], record)
        enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
        yield OwnChain(devnet, Deployed("anvil", chain, build, chain.accounts, result.addresses), record)
    finally:
        devnet.down()


@contextmanager
def manual_mining(chain: Chain) -> Iterator[None]:
    """Anvil with automine off inside the ``with`` block, as the write-path benchmarks run it: transactions
    wait in the pool until someone mines (a ``BatchSender`` does, with ``evm_mine``)."""
    chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


class LeanHTTPProvider(HTTPProvider):
    """web3's HTTP provider over one kept-alive ``http.client`` connection: a request is one write."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        self._host, self._port, self._path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
        self._connection: http.client.HTTPConnection | None = None

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return self.post(request_data)

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        from web3._utils.batching import sort_batch_response_by_response_ids

        response = self.decode_rpc_response(self.post(self.encode_batch_rpc_request(batch_requests)))
        return response if not isinstance(response, list) else sort_batch_response_by_response_ids(response)

    def post(self, body: bytes) -> bytes:
        reused = self._connection is not None
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=RPC_TIMEOUT)
        try:
            self._connection.request("POST", self._path, body, {"Content-Type": "application/json"})
            response = self._connection.getresponse()
            answer = response.read()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            self.close()
            if not reused:
                raise
            return self.post(body)  # the node closed an idle connection before reading this request: a new one
        if response.status != 200:
            raise LedgerError(f"{self.endpoint_uri} answered HTTP {response.status}: {answer[:200]!r}")
        return answer

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def send_synchronously(chain: Chain, rpc: LeanHTTPProvider, call: Call, sender: LocalAccount, gas: int) -> TxReceipt:
    """``chain.send(call, sender, gas=gas)`` in one ``eth_sendRawTransactionSync``: the same signed transaction
    (``chain``'s nonces and fee policy), the same receipt, the same ``ContractReverted`` when mined as failed."""
    params: TxParams = {"from": sender.address, "to": call.to, "data": HexBytes(call.data), "value": Wei(call.value)}
    params["gas"] = gas
    tx = chain._fill(params, sender.address)  # Chain.send's own chain id, nonce and fees
    raw = sender.sign_transaction(dict(tx)).raw_transaction  # type: ignore[arg-type]
    answer = rpc.make_request(RPCEndpoint("eth_sendRawTransactionSync"), ["0x" + raw.hex()])
    if "error" in answer:
        tx_hash = HexBytes(keccak(raw))
        known = rpc.make_request(RPCEndpoint("eth_getTransactionByHash"), [tx_hash.to_0x_hex()]).get("result")
        if not known:  # refused: the node's nonce count is the truth again, as after a refused Chain.send
            chain.forget_nonce(sender.address)
            raise LedgerError(f"eth_sendRawTransactionSync from {sender.address} refused: {answer['error']}")
        receipt = chain._wait(tx, tx_hash)  # taken but not mined in the node's wait: the chain's own wait
    else:
        receipt = cast(TxReceipt, AttributeDict.recursive(receipt_formatter(answer["result"])))
    if receipt["status"] != 1:
        raise chain._explain_failure(tx, receipt)
    return receipt


@contextmanager
def synchronous_sends(deployed: Deployed) -> Iterator[None]:
    """``deployed`` (on an automining anvil) as before, but everything it asks the node, through its chain or its
    QuickChain, goes over one ``LeanHTTPProvider``, and the QuickChain sends with ``send_synchronously``. The
    providers are put back on leaving."""
    from tests.support.escrow import QuickChain, quick  # that module builds on this one

    quick_chain = quick(deployed)
    assert isinstance(quick_chain, QuickChain) and deployed.backend == "anvil", "an anvil's QuickChain only"
    w3s = (deployed.chain.w3, quick_chain.w3_reads)
    before, lean = [w3.provider for w3 in w3s], LeanHTTPProvider(deployed.chain.endpoint)
    for w3 in w3s:
        w3.provider = lean
    quick_chain.lean = lean
    try:
        yield
    finally:
        for w3, provider in zip(w3s, before, strict=True):
            w3.provider = provider
        quick_chain.lean = None
        lean.close()
