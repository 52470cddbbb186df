"""One ``Chain`` for every backend: anvil devnet, in-process eth-tester, or any RPC URL.

Transactions are always signed locally with the sender's key and sent raw, so the three
backends behave alike and a node never holds a key. Reverts come back as
``ContractReverted`` with the custom error decoded from every known ABI.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.logs import DISCARD
from web3.types import Nonce, TxParams, TxReceipt, Wei

from ledger import paths
from ledger.accounts import DevAccounts, DevnetConfig, dev_accounts
from ledger.compiler import Artifact
from ledger.errors import ChainUnavailable, ContractReverted, LedgerError, UnsupportedOperation

EMBEDDED = "embedded"
DEVNET = "devnet"
PRIORITY_FEE = 1_000_000_000


def abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + kind[5:]
    return kind


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
        self.endpoint = endpoint
        self.accounts = accounts
        self.errors = errors or ErrorDecoder()
        self.chain_id: int = w3.eth.chain_id
        self._nonces: dict[str, int] = {}

    # -- construction -------------------------------------------------------------

    @classmethod
    def connect(cls, setting: str | None = None, *, errors: ErrorDecoder | None = None, timeout: float = 10.0) -> Chain:
        """Build the chain named by ``setting`` or ``SCF_CHAIN``: devnet, embedded or a URL."""
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
        timeout: float = 10.0,
        hint: str = "",
    ) -> Chain:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        try:
            _ = w3.eth.chain_id
        except Exception as exc:  # any transport failure means the same thing to the caller
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            raise ChainUnavailable(url, reason + (f"; {hint}" if hint else "")) from exc
        accounts = dev_accounts() if backend == DEVNET or is_dev_node(w3) else None
        return cls(w3, backend, url, accounts, errors)

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
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        params["chainId"] = self.chain_id
        params["nonce"] = Nonce(self.take_nonce(sender))
        params["maxPriorityFeePerGas"] = Wei(PRIORITY_FEE)
        params["maxFeePerGas"] = Wei(2 * base_fee + PRIORITY_FEE)
        return params

    # Nonces are kept locally per sender so that single sends and batches (ledger.batch)
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
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
        if receipt["status"] != 1:
            raise self._explain_failure(tx, receipt)
        return receipt

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
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.mine()
        return self.timestamp()

    def mine(self, blocks: int = 1) -> None:
        if self.backend == EMBEDDED:
            self.w3.provider.ethereum_tester.mine_blocks(blocks)  # type: ignore[attr-defined]
            return
        self._require_dev_node("mine")
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def snapshot(self) -> Any:
        if self.backend == EMBEDDED:
            return self.w3.provider.ethereum_tester.take_snapshot()  # type: ignore[attr-defined]
        self._require_dev_node("snapshot")
        return self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot_id: Any) -> None:
        self._nonces.clear()
        if self.backend == EMBEDDED:
            self.w3.provider.ethereum_tester.revert_to_snapshot(snapshot_id)  # type: ignore[attr-defined]
            return
        answer = self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        if answer.get("result") is not True:
            raise LedgerError(f"could not revert to snapshot {snapshot_id}: {answer}")

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
