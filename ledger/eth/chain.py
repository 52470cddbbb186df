"""One ``Chain`` for every backend: anvil devnet, in-process eth-tester, or any RPC URL.

Transactions are always signed locally with the sender's key and sent raw, so the three
backends behave alike and a node never holds a key. Reverts come back as
``ContractReverted`` with the custom error decoded from every known ABI.

A node that is down or silent is ``ChainUnavailable``, raised in one place: the HTTP
provider (``DeadlineHTTPProvider``). Each JSON-RPC request has one overall deadline, retries
included (web3's own provider retries 5 times with a 10 s read timeout each, so a node that
accepts connections and never answers held a caller ~52 s). Only failures to reach the node
are retried (refused, reset, a gateway's 5xx), while time remains; a read that times out is
not, since it used the time left. The API gives its chain a short deadline (``scf serve
--rpc-timeout``, 2 s) so that a route answers 503 quickly; batch tools (``scf simulate``,
``scf demo``) give theirs minutes.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_typing import URI
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    TransactionNotFound,
)
from web3.logs import DISCARD
from web3.providers.rpc.utils import check_if_retry_on_failure
from web3.types import Nonce, RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from ledger import paths
from ledger.errors import ChainUnavailable, ContractReverted, LedgerError, UnsupportedOperation
from ledger.eth import anvil_pool
from ledger.eth.abi import abi_type
from ledger.eth.accounts import DevAccounts, DevnetConfig, dev_accounts
from ledger.eth.artifacts import Artifact
from ledger.eth.fees import DEFAULT as DEFAULT_FEES
from ledger.eth.fees import FeePolicy

if TYPE_CHECKING:
    from ledger.eth.calls import Call

EMBEDDED = "embedded"
DEVNET = "devnet"
#: Seconds one JSON-RPC request may take, retries included, unless the caller says otherwise.
RPC_TIMEOUT = 10.0
RECEIPT_TIMEOUT = 120.0
STALL = 2.0  # seconds a receipt wait on an automining anvil runs before the pool is checked
#: A receipt wait polls after FIRST_POLL seconds, then twice as long each time up to POLL: an automining anvil has
#: the receipt a millisecond after the send (its miner runs after it answers), so a first poll that missed by that
#: much cost the whole 50 ms (7 % of the sends of the escrow's property suite on a quiet machine, more under load).
FIRST_POLL = 0.001
POLL = 0.05


@dataclass(frozen=True)
class _ErrorAbi:
    contract: str
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]


class ErrorDecoder:
    """Maps a revert's 4-byte selector to the custom error that produced it."""

    _ERROR = function_signature_to_4byte_selector("Error(string)")
    _PANIC = function_signature_to_4byte_selector("Panic(uint256)")

    def __init__(self, artifacts: Iterable[Artifact] = ()) -> None:
        self._errors: dict[bytes, _ErrorAbi] = {}
        for artifact in artifacts:
            self.add_abi(artifact.name, artifact.abi)

    def add_abi(self, contract: str, abi: Iterable[Mapping[str, Any]]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = tuple(abi_type(p) for p in item["inputs"])
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            # The first contract to declare an error names it; interfaces share their errors.
            self._errors.setdefault(
                selector, _ErrorAbi(contract, item["name"], tuple(p["name"] for p in item["inputs"]), types)
            )

    def decode(self, data: str | bytes | None, tx_hash: str | None = None) -> ContractReverted:
        raw = HexBytes(data) if data else HexBytes(b"")
        selector, body = bytes(raw[:4]), bytes(raw[4:])
        if selector == self._ERROR:
            return ContractReverted(None, reason=abi_decode(["string"], body)[0], data=raw.to_0x_hex(), tx_hash=tx_hash)
        if selector == self._PANIC:
            code = abi_decode(["uint256"], body)[0]
            return ContractReverted("Panic", {"code": hex(code)}, data=raw.to_0x_hex(), tx_hash=tx_hash)
        known = self._errors.get(selector)
        if known is None:
            return ContractReverted(None, data=raw.to_0x_hex(), tx_hash=tx_hash)
        values = [
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(known.types, abi_decode(list(known.types), body), strict=True)
        ]
        args = {name or f"arg{i}": value for i, (name, value) in enumerate(zip(known.names, values, strict=True))}
        return ContractReverted(known.name, args, contract=known.contract, data=raw.to_0x_hex(), tx_hash=tx_hash)


# eth-tester reports reverts as its own TransactionFailed (raw output in the cause chain).
REVERTS: tuple[type[Exception], ...] = (ContractCustomError, ContractLogicError, ContractPanicError, TransactionFailed)


_TESTER_PREFIX = "execution reverted: "


def revert_data(exc: BaseException) -> str | None:
    """The raw revert output, wherever the backend put it on the exception."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, bytes | bytearray):
            return HexBytes(item).to_0x_hex()
        if isinstance(item, str) and item.startswith("0x"):
            return item
        if isinstance(item, str) and item.startswith(_TESTER_PREFIX):
            # eth-tester's eth_call path keeps the raw output only as a bytes repr in the text.
            with contextlib.suppress(ValueError, SyntaxError):
                literal = ast.literal_eval(item[len(_TESTER_PREFIX) :])
                if isinstance(literal, bytes):
                    return HexBytes(literal).to_0x_hex()
        if isinstance(item, dict):
            pending.append(item.get("data"))
        if isinstance(item, BaseException):
            pending.append(getattr(item, "data", None))
            pending.extend(item.args)
            pending.extend([item.__cause__, item.__context__])
    return None


class DeadlineHTTPProvider(HTTPProvider):
    """web3's HTTP provider with one deadline per request and ``ChainUnavailable`` for every transport failure.

    ``attempts`` counts tries of a request that failed to reach the node (refused, reset, a gateway's
    5xx), spaced by a doubling pause, while the deadline allows: enough to ride out a node's restart
    without making a dead port as slow as a silent one. The read timeout of a try is the time left, so
    a node that accepts and never answers costs the deadline once. (A node that drips a byte at a
    time can stretch one answer: requests bounds each gap, not the whole body.)
    """

    #: The pause before the second try; doubled before each further one.
    BACKOFF = 0.05

    def __init__(
        self, url: str, *, deadline: float = RPC_TIMEOUT, attempts: int = 3, fallbacks: Sequence[str] = ()
    ) -> None:
        if deadline <= 0 or attempts < 1:
            raise LedgerError(f"an RPC deadline must be positive and attempts at least 1, got {deadline}, {attempts}")
        super().__init__(url, exception_retry_configuration=None)
        self.url = url
        #: Every endpoint of the chain, in the network file's order; ``url`` is the one in use.
        self.urls: tuple[str, ...] = (url, *[u for u in fallbacks if u != url])
        self.deadline = deadline
        self.attempts = attempts
        self._settings: dict[str, dict[str, Any]] = {}

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        # web3's allowlist: methods safe to send twice (a raw transaction is known by its hash).
        return self._post(request_data, retry=check_if_retry_on_failure(method))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        from web3._utils.batching import sort_batch_response_by_response_ids

        response = self.decode_rpc_response(self._post(self.encode_batch_rpc_request(batch_requests), retry=True))
        if not isinstance(response, list):
            return response  # the node refused the whole batch: one error object
        return sort_batch_response_by_response_ids(response)

    def _post(self, data: bytes, *, retry: bool) -> bytes:
        """Post to the endpoint in use; when it cannot be reached, to the next of ``urls`` (all within one
        deadline), which stays in use. A request that may not be sent twice moves on only when the node was
        never reached (a refused connection), since a silent node may have taken it."""
        deadline = time.monotonic() + self.deadline
        start = self.urls.index(self.url)
        failures: list[tuple[str, str]] = []
        for turn in range(len(self.urls)):
            url = self.urls[(start + turn) % len(self.urls)]
            try:
                answer = self._post_to(url, data, retry=retry, deadline=deadline)
            except _Unreached as exc:
                failures.append((url, exc.reason))
                if not (retry or exc.refused) or time.monotonic() >= deadline:
                    break
                continue
            self.url = url
            return answer
        if len(failures) > 1:
            raise ChainUnavailable(self.url, "no endpoint answered: " + "; ".join(f"{u}: {r}" for u, r in failures))
        raise ChainUnavailable(failures[0][0], failures[0][1])

    def _post_to(self, url: str, data: bytes, *, retry: bool, deadline: float) -> bytes:
        started = time.monotonic()
        session = self._request_session_manager.cache_and_return_session(URI(url), request_timeout=self.deadline)
        kwargs = self._request_settings(session, url)
        pause, tries = self.BACKOFF, 0
        while True:
            tries += 1
            left = max(deadline - time.monotonic(), 0.001)
            try:
                with session.post(url, data=data, timeout=(left, left), **kwargs) as response:
                    response.raise_for_status()
                    return bytes(response.content)
            except requests.RequestException as exc:
                unreached = isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout)
                gateway = (
                    isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code >= 500
                )
                again = retry and (unreached or gateway) and tries < self.attempts
                if not again or time.monotonic() + pause >= deadline:
                    raise _Unreached(_transport_reason(exc, tries, started), refused=unreached) from exc
            time.sleep(pause)
            pause *= 2

    def _request_settings(self, session: requests.Session, url: str) -> dict[str, Any]:
        """The keyword arguments of a post to ``url``. requests reads the environment's proxies, CA bundle and
        netrc on every request (a measurable share of a round trip to a local node); they are read once per
        endpoint here, as requests would merge them (the provider's own ``request_kwargs`` first), and the
        session is told not to read them again. A change to the environment after the first request to an
        endpoint is therefore not seen, as a changed network file is not."""
        settings = self._settings.get(url)
        if settings is None:
            kwargs = dict(self.get_request_kwargs())
            kwargs.pop("timeout", None)
            merged = requests.Session().merge_environment_settings(
                url, kwargs.pop("proxies", None) or {}, None, kwargs.pop("verify", None), kwargs.pop("cert", None)
            )
            settings = {**kwargs, "proxies": merged["proxies"], "verify": merged["verify"], "cert": merged["cert"]}
            if "auth" not in settings and (netrc := requests.utils.get_netrc_auth(url)) is not None:
                settings["auth"] = netrc
            self._settings[url] = settings
        session.trust_env = False
        return settings


class _Unreached(Exception):
    """One endpoint failed a request; ``refused``: the connection was refused (the request never arrived)."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


def _transport_reason(exc: requests.RequestException, tries: int, started: float) -> str:
    elapsed = time.monotonic() - started
    if isinstance(exc, requests.Timeout):
        what = "no answer in time"
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        what = f"HTTP {exc.response.status_code} {exc.response.reason}"
    else:
        what = _os_reason(exc) or f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return f"{what} ({tries} {'try' if tries == 1 else 'tries'} in {elapsed:.2f} s); retry once the node is back"


def _os_reason(exc: BaseException) -> str | None:
    """The socket's own words ("Connection refused") from under requests' and urllib3's wrappers."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return item.strerror
        pending.extend([*item.args, getattr(item, "reason", None), item.__cause__, item.__context__])
    return None


class Chain:
    """A connected chain with local signing, error decoding and devnet time control."""

    def __init__(
        self,
        w3: Web3,
        backend: str,
        endpoint: str,
        accounts: DevAccounts | None = None,
        errors: ErrorDecoder | None = None,
    ) -> None:
        self.w3 = w3
        self.backend = backend
        self._automine: bool | None = None
        self.endpoint = endpoint
        self.accounts = accounts
        self.errors = errors or ErrorDecoder()
        self.chain_id: int = w3.eth.chain_id
        self._nonces: dict[str, int] = {}
        #: What gas costs on this network (a network file's ``gasPrice``; ``ledger.eth.fees``).
        self.fees: FeePolicy = DEFAULT_FEES

    # -- construction -------------------------------------------------------------

    @classmethod
    def connect(
        cls, setting: str | None = None, *, errors: ErrorDecoder | None = None, timeout: float = RPC_TIMEOUT
    ) -> Chain:
        """Build the chain named by ``setting`` or ``SCF_CHAIN``: devnet, embedded or a URL.

        ``timeout``: seconds each JSON-RPC request may take, retries included (``DeadlineHTTPProvider``)."""
        setting = setting or os.environ.get("SCF_CHAIN") or DEVNET
        if setting == EMBEDDED:
            return cls.embedded(errors=errors)
        if setting == DEVNET:
            url = devnet_url()
            return cls.http(url, backend=DEVNET, errors=errors, timeout=timeout, hint="start it with `scf devnet up`")
        if setting.startswith(("http://", "https://")):
            return cls.http(setting, backend="rpc", errors=errors, timeout=timeout)
        raise LedgerError(f"unknown chain setting {setting!r}: use devnet, embedded or an http(s):// URL")

    @classmethod
    def http(
        cls,
        url: str,
        *,
        backend: str = "rpc",
        errors: ErrorDecoder | None = None,
        timeout: float = RPC_TIMEOUT,
        hint: str = "",
        fallbacks: Sequence[str] = (),
    ) -> Chain:
        """The node at ``url`` (then each of ``fallbacks`` in turn when one cannot be reached)."""
        w3 = Web3(DeadlineHTTPProvider(url, deadline=timeout, fallbacks=fallbacks))
        try:
            _ = w3.eth.chain_id
        except ChainUnavailable as exc:
            raise ChainUnavailable(url, exc.reason + (f"; {hint}" if hint else "")) from exc
        except Exception as exc:  # something answers, but not as a JSON-RPC node
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            raise ChainUnavailable(url, reason + (f"; {hint}" if hint else "")) from exc
        accounts = dev_accounts() if backend == DEVNET or is_dev_node(w3) else None
        provider = w3.provider
        return cls(w3, backend, provider.url if isinstance(provider, DeadlineHTTPProvider) else url, accounts, errors)

    @classmethod
    def embedded(cls, *, errors: ErrorDecoder | None = None, config: DevnetConfig | None = None) -> Chain:
        """An in-process py-evm chain funding the same role accounts as the devnet."""
        from eth_tester import EthereumTester, PyEVMBackend
        from web3.providers.eth_tester import EthereumTesterProvider

        config = config or DevnetConfig.load()
        backend = PyEVMBackend.from_mnemonic(
            config.mnemonic,
            num_accounts=len(config.roles),
            genesis_state_overrides={"balance": config.balance_eth * 10**18},
            genesis_parameters=PyEVMBackend.generate_genesis_params({"gas_limit": 60_000_000}),
            hd_path="m/44'/60'/0'/0",
        )
        w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
        return cls(w3, EMBEDDED, "in-process eth-tester (py-evm)", dev_accounts(config), errors)

    # -- reading ------------------------------------------------------------------

    @property
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def contract(self, artifact: Artifact, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)

    def call(self, fn: ContractFunction, *, sender: str | None = None) -> Any:
        """Call a view; a revert raises ``ContractReverted`` with the custom error decoded."""
        try:
            return fn.call({"from": sender} if sender else {})
        except REVERTS as exc:
            raise self.errors.decode(revert_data(exc)) from exc

    # -- writing ------------------------------------------------------------------

    def transact(
        self, fn: ContractFunction, sender: LocalAccount, *, value: int = 0, gas: int | None = None
    ) -> TxReceipt:
        """Sign ``fn`` with ``sender``'s key, send it raw and wait for a successful receipt."""
        params: TxParams = {"from": sender.address, "value": Wei(value)}
        try:
            if gas is None:
                params["gas"] = self._with_margin(fn.estimate_gas(params))
            else:
                params["gas"] = gas
            tx = fn.build_transaction(self._fill(params, sender.address))
        except REVERTS as exc:
            raise self.errors.decode(revert_data(exc)) from exc
        return self._send(tx, sender)

    def send(self, call: Call, sender: LocalAccount, *, gas: int | None = None) -> TxReceipt:
        """Sign ``call`` (a client's unsigned ``ledger.eth.calls.Call``) with ``sender``'s key, send it raw and wait
        for a successful receipt; a revert at the gas estimate raises ``ContractReverted`` before anything is sent."""
        params: TxParams = {
            "from": sender.address,
            "to": call.to,
            "data": HexBytes(call.data),
            "value": Wei(call.value),
        }
        try:
            params["gas"] = self._with_margin(self.w3.eth.estimate_gas(params)) if gas is None else gas
        except REVERTS as exc:
            raise self.errors.decode(revert_data(exc)) from exc
        return self._send(self._fill(params, sender.address), sender)

    def read(self, call: Call, *, sender: str | None = None) -> Any:
        """The decoded answer of a view ``call``; a revert raises ``ContractReverted`` with the custom error."""
        params: TxParams = {"to": call.to, "data": HexBytes(call.data)}
        if sender:
            params["from"] = sender
        try:
            return call.decode(bytes(self.w3.eth.call(params)))
        except REVERTS as exc:
            raise self.errors.decode(revert_data(exc)) from exc

    def transact_batch(self, calls: Iterable[tuple[ContractFunction, LocalAccount]]) -> list[TxReceipt]:
        """Sign and send every call, then wait for all receipts: one block's wait, not n.

        Gas is estimated for each call against the current state before anything is sent,
        so the calls must not depend on each other; any revert stops the batch unsent.
        """
        prepared = []
        for fn, sender in calls:
            params: TxParams = {"from": sender.address}
            try:
                params["gas"] = self._with_margin(fn.estimate_gas(params))
            except REVERTS as exc:
                raise self.errors.decode(revert_data(exc)) from exc
            prepared.append((fn, sender, params))
        hashes = []
        for fn, sender, params in prepared:
            tx = fn.build_transaction(self._fill(params, sender.address))
            hashes.append((tx, self._send_only(tx, sender)))
        return [self._wait(tx, tx_hash) for tx, tx_hash in hashes]

    def deploy(self, artifact: Artifact, args: Iterable[Any], sender: LocalAccount) -> TxReceipt:
        """Deploy ``artifact`` with constructor ``args``; the receipt carries the address."""
        if not artifact.deployable:
            raise LedgerError(f"{artifact.name} has no bytecode (an interface or abstract contract)")
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        constructor = factory.constructor(*args)
        params: TxParams = {"from": sender.address}
        try:
            params["gas"] = self._with_margin(constructor.estimate_gas(params))
            tx = constructor.build_transaction(self._fill(params, sender.address))
        except REVERTS as exc:
            raise self.errors.decode(revert_data(exc)) from exc
        return self._send(tx, sender)

    def send_value(self, sender: LocalAccount, to: str, value: int) -> TxReceipt:
        params: TxParams = {"from": sender.address, "to": to_checksum_address(to), "value": Wei(value), "gas": 21_000}
        return self._send(self._fill(params, sender.address), sender)

    def _with_margin(self, estimate: int) -> int:
        return estimate + estimate // 5 + 10_000

    def _fill(self, params: TxParams, sender: str) -> TxParams:
        fees = self.fees.fees(self.base_fee())
        params["chainId"] = self.chain_id
        params["nonce"] = Nonce(self.take_nonce(sender))
        params["maxPriorityFeePerGas"] = Wei(fees.priority)
        params["maxFeePerGas"] = Wei(fees.max_fee)
        return params

    def base_fee(self) -> int:
        """The head's base fee per gas (0 before London, or on a zero-base-fee network)."""
        if self.backend == EMBEDDED:
            return int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        # One field of the header, read raw: web3's block formatters cost more than the node's answer, on
        # the path of every transaction this wrapper sends.
        answer = self.w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), ["latest", False])
        block = answer.get("result") if "error" not in answer else None
        if not isinstance(block, dict):
            raise ChainUnavailable(str(getattr(self.w3.provider, "url", self.backend)), f"no head block: {answer}")
        return int(block.get("baseFeePerGas") or "0x0", 16)

    # Nonces are kept locally per sender so that single sends and batches (ledger.eth.batch)
    # never collide; the node's pending count is read only for a sender not seen yet.

    def has_nonce(self, address: str) -> bool:
        return address in self._nonces

    def seed_nonce(self, address: str, next_nonce: int) -> None:
        """Start counting ``address`` at ``next_nonce`` unless it is already counted."""
        self._nonces.setdefault(address, next_nonce)

    def take_nonce(self, address: str) -> int:
        """The next nonce of ``address``, reserved for a transaction about to be signed."""
        if address not in self._nonces:
            self._nonces[address] = int(self.w3.eth.get_transaction_count(to_checksum_address(address), "pending"))
        nonce = self._nonces[address]
        self._nonces[address] = nonce + 1
        return nonce

    def forget_nonce(self, address: str) -> None:
        """Re-read ``address``'s nonce from the node next time (after a rejected send)."""
        self._nonces.pop(address, None)

    def _send(self, tx: TxParams, sender: LocalAccount) -> TxReceipt:
        return self._wait(tx, self._send_only(tx, sender))

    def _send_only(self, tx: TxParams, sender: LocalAccount) -> HexBytes:
        signed = sender.sign_transaction(dict(tx))  # type: ignore[arg-type]
        try:
            return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except Exception:
            self.forget_nonce(sender.address)  # the node's count is the truth again
            raise

    def _wait(self, tx: TxParams, tx_hash: HexBytes) -> TxReceipt:
        receipt = self._receipt(tx_hash, str(tx.get("from") or ""))
        if receipt["status"] != 1:
            raise self._explain_failure(tx, receipt)
        return receipt

    def _receipt(self, tx_hash: HexBytes, sender: str) -> TxReceipt:
        """The receipt of ``tx_hash`` within ``RECEIPT_TIMEOUT``; on an automining anvil, a wait that
        stalls for ``STALL`` seconds checks whether the pool parked the sender's transactions
        (``ledger.eth.anvil_pool``) before waiting on."""
        if not sender or not self._automining():
            return self._poll_receipt(tx_hash, RECEIPT_TIMEOUT)
        deadline = time.monotonic() + RECEIPT_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            try:
                return self._poll_receipt(tx_hash, max(0.1, min(STALL, remaining)))
            except TimeExhausted:
                if remaining <= STALL:
                    raise
                anvil_pool.unstick(self._request, [sender])

    def _poll_receipt(self, tx_hash: HexBytes, timeout: float) -> TxReceipt:
        """web3's ``wait_for_transaction_receipt``, polling after ``FIRST_POLL`` and backing off to ``POLL``."""
        deadline = time.monotonic() + timeout
        delay = FIRST_POLL
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeExhausted(f"transaction {tx_hash.to_0x_hex()} is not in the chain after {timeout:g} seconds")
            time.sleep(min(delay, left))
            delay = min(delay * 2, POLL)

    def _request(self, method: str, params: list[Any]) -> Any:
        return self.w3.manager.request_blocking(RPCEndpoint(method), params)

    def _automining(self) -> bool:
        """Whether the node is an anvil that mines each transaction as it arrives (asked once)."""
        if self._automine is None:
            self._automine = False
            if self.backend != EMBEDDED and is_dev_node(self.w3):
                with contextlib.suppress(Exception):  # not anvil, or an anvil without the method
                    self._automine = self._request("anvil_getAutomine", []) is True
        return self._automine

    def _explain_failure(self, tx: TxParams, receipt: TxReceipt) -> ContractReverted:
        """Replay a failed transaction as a call at its block to recover the revert data."""
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except REVERTS as exc:
            return self.errors.decode(revert_data(exc), tx_hash=tx_hash)
        except Exception:  # a pruned node cannot replay; say what we know
            pass
        return ContractReverted(None, reason="transaction failed (status 0)", tx_hash=tx_hash)

    # -- devnet controls --------------------------------------------------------------

    def advance_time(self, seconds: int) -> int:
        """Move the chain clock forward by ``seconds`` and mine a block; returns its timestamp."""
        if seconds < 0:
            raise LedgerError("time only moves forward")
        if self.backend == EMBEDDED:
            # time_travel mines a block stamped one second before its argument.
            target = self.timestamp() + seconds + 1
            self.w3.provider.ethereum_tester.time_travel(target)  # type: ignore[attr-defined]
            return self.timestamp()
        self._require_dev_node("advance_time")
        self._dev_request("advance_time", "evm_increaseTime", [seconds])
        self.mine()
        return self.timestamp()

    def mine(self, blocks: int = 1) -> None:
        if self.backend == EMBEDDED:
            self.w3.provider.ethereum_tester.mine_blocks(blocks)  # type: ignore[attr-defined]
            return
        self._require_dev_node("mine")
        for _ in range(blocks):
            self._dev_request("mine", "evm_mine", [])

    def snapshot(self) -> Any:
        if self.backend == EMBEDDED:
            return self.w3.provider.ethereum_tester.take_snapshot()  # type: ignore[attr-defined]
        self._require_dev_node("snapshot")
        return self._dev_request("snapshot", "evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        self._nonces.clear()
        if self.backend == EMBEDDED:
            self.w3.provider.ethereum_tester.revert_to_snapshot(snapshot_id)  # type: ignore[attr-defined]
            return
        answer = self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        if answer.get("result") is not True:
            raise LedgerError(f"could not revert to snapshot {snapshot_id}: {answer}")

    def _dev_request(self, operation: str, method: str, params: list[Any]) -> Any:
        """The result of a dev-node ``method``. A node that answers it with an error (a network's node
        behind a client name that says anvil, or a proxy that passes only the standard methods) cannot
        do ``operation``: that is said, rather than carrying on as if time had moved or a block been mined."""
        answer = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in answer:
            raise UnsupportedOperation(self.backend, operation)
        return answer.get("result")

    def _require_dev_node(self, operation: str) -> None:
        if self.backend != DEVNET and not is_dev_node(self.w3):
            raise UnsupportedOperation(self.backend, operation)

    def receipt_events(self, contract: Contract, receipt: TxReceipt, event: str) -> list[dict[str, Any]]:
        """Decoded ``event`` logs of ``contract`` in ``receipt``, as plain dicts of args."""
        # DISCARD: the receipt's other events are expected, not ABI mismatches worth a warning.
        decoded = contract.events[event]().process_receipt(receipt, errors=DISCARD)
        return [dict(item["args"]) for item in decoded if item["address"] == contract.address]


def is_dev_node(w3: Web3) -> bool:
    try:
        version = str(w3.client_version).lower()
    except Exception:
        return False
    return version.startswith(("anvil", "hardhat", "ganache"))


def devnet_url() -> str:
    """The URL of the running devnet (its state file), or the configured default."""
    running = paths.devnet_run_dir() / "devnet.json"
    if running.is_file():
        try:
            return str(json.loads(running.read_text())["url"])
        except (ValueError, KeyError):
            pass
    config = DevnetConfig.load()
    port = int(os.environ.get("SCF_DEVNET_PORT") or config.port)
    return f"http://{config.host}:{port}"


def keccak_hex(data: bytes) -> str:
    return "0x" + keccak(data).hex()
