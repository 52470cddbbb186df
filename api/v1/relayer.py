"""Transactions the parties sign themselves, checked and broadcast by the API; the relayer pays gas.

Every ledger action is a call whose ``msg.sender`` is the acting party (the contracts check
it: the buyer funds, the holder splits, the debtor or creditor issues), so keys stay with
their owners and the API never signs for anyone:

1. a write route checks the party may act (404 / 403), simulates the call from the party's
   address (a revert comes back at once as 409 with the contract's custom error) and answers
   the unsigned EIP-1559 transaction: to, data, nonce, gas, fees, chain id;
2. the party signs it (eth-account ``sign_transaction``, ethers ``signTransaction``, a wallet)
   and posts the raw bytes to ``POST /v1/submissions``;
3. the API decodes them and refuses anything but a type-2 transaction of this chain, signed
   by the token's party, with no value, calling one of the ledger functions a party may call
   (``ALLOWED``; administration stays with the CLI); then the **relayer** tops the party's
   native balance up to cover the gas (parties hold deposits, not gas money) and broadcasts.
   The answer is ``202`` with the transaction hash and ``/v1/submissions/{id}``, which
   reports pending, mined or reverted (with the decoded error) and whether the indexer has
   reached its block, i.e. whether the reads already show it.

A gas-less path where the relayer itself sends the transaction would need the contracts to
accept a trusted forwarder (ERC-2771); they do not, so the relayer pays by funding.
"""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Engine, insert, select
from web3.contract.contract import ContractFunction
from web3.types import TxParams, Wei

from api.errors import Conflict, Forbidden, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from ledger.batch import encode_function
from ledger.chain import PRIORITY_FEE, REVERTS, Chain, abi_type, revert_data
from ledger.compiler import BuildResult
from ledger.errors import ContractReverted
from ledger.sql.models import Cursor

ALLOWED: dict[str, frozenset[str]] = {
    "TradeEscrow": frozenset(
        {
            "createOrder",
            "createOpenAccountOrder",
            "fund",
            "fundWithPermit",
            "cancelUnfunded",
            "confirmReceipt",
            "release",
            "refundUnshipped",
            "openDispute",
            "answerDispute",
            "arbitrate",
            "settleDispute",
            "closeExpiredDispute",
            "requestPrepayment",
            "fundPool",
            "withdrawPool",
            "repayShortfall",
        }
    ),
    "Receivables": frozenset({"issue", "split", "finance", "repay", "claim", "markDefaulted", "transferFrom"}),
    "SettlementToken": frozenset({"approve"}),
}
TYPE_EIP1559 = 2


@dataclass(frozen=True)
class Submitted:
    id: str
    tx_hash: str
    contract: str
    function: str
    nonce: int
    topped_up: int


class Transactions:
    def __init__(
        self,
        chain: Chain,
        build: BuildResult,
        addresses: dict[str, str],
        store_engine: Engine,
        index_engine: Engine,
        relayer: LocalAccount | None,
        gas_float: int,
    ) -> None:
        self.chain = chain
        self.store = store_engine
        self.index = index_engine
        self.relayer = relayer
        self.gas_float = gas_float
        # One top-up at a time: in this process (a thread lock) and across the processes of
        # `scf serve --workers N` on this host (a file lock), each re-reading the relayer's nonce.
        self._relaying = threading.Lock()
        self._lock_file = (
            None
            if relayer is None
            else Path(tempfile.gettempdir()) / f"scf-relayer-{chain.chain_id}-{relayer.address.lower()}.lock"
        )
        self.contracts = {name: chain.contract(build[name], addresses[name]) for name in ALLOWED}
        self._by_address: dict[str, str] = {str(contract.address): name for name, contract in self.contracts.items()}
        self._selectors: dict[tuple[str, bytes], str] = {}
        for name, allowed in ALLOWED.items():
            for item in build[name].abi:
                if item.get("type") == "function" and item["name"] in allowed:
                    signature = f"{item['name']}({','.join(abi_type(p) for p in item['inputs'])})"
                    self._selectors[(name, function_signature_to_4byte_selector(signature))] = item["name"]

    # -- 1. prepare ---------------------------------------------------------------------

    def prepare(self, fn: ContractFunction, sender: str) -> dict[str, Any]:
        """The unsigned transaction of ``fn`` from ``sender``, after a simulation that must pass."""
        params: TxParams = {"from": sender, "value": Wei(0)}
        try:
            estimate = int(fn.estimate_gas(params))
        except REVERTS as exc:
            raise self.chain.errors.decode(revert_data(exc)) from exc
        base_fee = int(self.chain.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        nonce = int(self.chain.w3.eth.get_transaction_count(to_checksum_address(sender), "pending"))
        return {
            "type": TYPE_EIP1559,
            "chainId": self.chain.chain_id,
            "from": sender,
            "to": fn.address,
            "data": "0x" + encode_function(fn).hex(),
            "value": 0,
            "nonce": nonce,
            "gas": estimate + estimate // 5 + 10_000,
            "maxFeePerGas": 2 * base_fee + PRIORITY_FEE,
            "maxPriorityFeePerGas": PRIORITY_FEE,
        }

    # -- 2. submit ----------------------------------------------------------------------

    def _decode(self, raw: bytes) -> tuple[dict[str, Any], str]:
        if not raw or raw[0] != TYPE_EIP1559:
            raise InvalidField("rawTransaction", "must be a signed EIP-1559 (type 2) transaction")
        try:
            tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            sender = str(Account.recover_transaction(raw))
        except Exception as exc:  # rlp and eth-keys refuse malformed bytes in many ways
            raise InvalidField("rawTransaction", f"not a decodable signed transaction ({type(exc).__name__})") from exc
        return tx, sender

    def submit(self, raw: bytes, party: Party) -> Submitted:
        tx, sender = self._decode(raw)
        if sender != party.address:
            raise Forbidden(party.address, "submit this transaction", f"it is signed by {sender}, not by you")
        if int(tx["chainId"]) != self.chain.chain_id:
            raise InvalidField("rawTransaction", f"chain id {tx['chainId']} is not this ledger's {self.chain.chain_id}")
        if int(tx["value"]) != 0:
            raise InvalidField("rawTransaction", "ledger calls carry no native value")
        to = str(to_checksum_address(bytes(tx["to"]))) if tx.get("to") else ""
        contract = self._by_address.get(to)
        data = bytes(tx["data"])
        function = self._selectors.get((contract, data[:4])) if contract else None
        if contract is None or function is None:
            raise InvalidField("rawTransaction", "the transaction calls no ledger function a party may call")
        topped_up = self._top_up(sender, int(tx["gas"]) * int(tx["maxFeePerGas"]))
        try:
            tx_hash = HexBytes(self.chain.w3.eth.send_raw_transaction(raw)).to_0x_hex()
        except Exception as exc:  # the node's refusal (nonce, fee, known tx) as it said it
            raise Conflict("transaction_rejected", f"the node refused the transaction: {exc}") from exc
        submitted = Submitted(str(uuid.uuid4()), tx_hash, contract, function, int(tx["nonce"]), topped_up)
        with self.store.begin() as connection:
            connection.execute(
                insert(store.submissions).values(
                    id=submitted.id,
                    party=party.address,
                    tx_hash=tx_hash,
                    contract=contract,
                    function=function,
                    nonce=submitted.nonce,
                    created_at=int(time.time()),
                )
            )
        return submitted

    def _top_up(self, sender: str, needed: int) -> int:
        """Fund ``sender``'s gas from the relayer when its balance would not cover ``needed``."""
        if self.relayer is None:
            return 0
        balance = int(self.chain.w3.eth.get_balance(to_checksum_address(sender)))
        if balance >= needed:
            return 0
        amount = needed - balance + self.gas_float
        with self._relaying, _host_lock(self._lock_file):
            # Another worker process may have used the relayer's nonces since this one last counted.
            self.chain.forget_nonce(self.relayer.address)
            self.chain.send_value(self.relayer, sender, amount)  # waits for the receipt: the next reads it
        return amount

    # -- 3. status ----------------------------------------------------------------------

    def status(self, submission_id: str, party: Party) -> dict[str, Any]:
        with self.store.connect() as connection:
            row = connection.execute(
                select(store.submissions).where(store.submissions.c.id == submission_id)
            ).one_or_none()
        if row is None or (row.party != party.address and not party.auditor):
            raise NotFound("submission", submission_id)
        answer: dict[str, Any] = {
            "id": row.id,
            "txHash": row.tx_hash,
            "contract": row.contract,
            "function": row.function,
            "party": row.party,
            "status": "pending",
            "blockNumber": None,
            "indexed": False,
            "error": None,
        }
        try:
            receipt = self.chain.w3.eth.get_transaction_receipt(row.tx_hash)
        except Exception:  # web3 raises TransactionNotFound while the transaction waits in the pool
            return answer
        block = int(receipt["blockNumber"])
        answer["blockNumber"] = block
        if receipt["status"] != 1:
            answer["status"] = "reverted"
            answer["error"] = self._explain(row.tx_hash, block)
        else:
            answer["status"] = "mined"
        with self.index.connect() as connection:
            indexed = connection.execute(
                select(Cursor.block_number).where(Cursor.chain_id == self.chain.chain_id)
            ).scalar_one_or_none()
        answer["indexed"] = indexed is not None and indexed >= block
        return answer

    def _explain(self, tx_hash: str, block: int) -> str:
        tx = self.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.chain.w3.eth.call(call, block - 1)  # type: ignore[arg-type]
        except REVERTS as exc:
            error: ContractReverted = self.chain.errors.decode(revert_data(exc), tx_hash=tx_hash)
            return str(error)
        except Exception as exc:  # a pruned node cannot replay
            return f"reverted (no replay: {type(exc).__name__})"
        return "reverted (the replay at the previous block passes: state changed within the block)"


@contextlib.contextmanager
def _host_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock shared by every process on this host that opens ``path`` (POSIX ``flock``).

    Workers on several hosts sharing one relayer key would need a lock in the shared database instead."""
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
