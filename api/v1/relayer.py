"""Transactions the parties sign themselves, checked and broadcast by the API; the relayer pays gas.

Every ledger action is a call whose ``msg.sender`` is the acting party (the contracts check
it: the buyer funds, the holder splits, the debtor or creditor issues), so keys stay with
their owners and the API never signs for anyone:

1. a write route checks the party may act (404 / 403), simulates the call from the party's
   address (a revert comes back at once as 409 with the contract's custom error) and answers
   the unsigned EIP-1559 transaction in ethers' field names, integers as decimal strings: to,
   data, value, nonce, gasLimit, fees, chain id;
2. the party signs it (ethers ``signTransaction`` as it is; eth-account ``sign_transaction``
   after naming the gas limit ``gas``; a wallet) and posts the raw bytes to ``POST /v1/submissions``;
3. the API decodes them and refuses anything but a type-2 transaction of this chain, signed
   by the token's party, with no value, calling one of the ledger functions a party may call
   (the contract clients' ``PARTY_CALLS``; administration stays with the CLI); **simulates** it
   (``simulate``); records it;
   then the **relayer** tops the party's native balance up to cover the gas (parties hold
   deposits, not gas money) and broadcasts. A party whose wallet can only sign by sending (a
   browser wallet) broadcasts itself and posts ``{"txHash"}`` instead: the same checks on the
   transaction the node holds, and no top-up. The answer is ``202`` with the transaction
   hash and ``/v1/submissions/{id}``, which
   reports pending, mined or reverted (with the decoded error), what a mined call created (the
   order, the root, the pieces: read from the ledger's events in the receipt) and whether the
   indexer has reached its block, i.e. whether the reads already show it.

A gas-less path where the relayer itself sends the transaction would need the contracts to
accept a trusted forwarder (ERC-2771); they do not, so the relayer pays by funding.

**Nothing is paid for a transaction that cannot succeed.** Funding first and checking later
let a submitter collect gas x maxFeePerGas for transactions the node then refused (a stale
nonce, gas above the block limit: 6,500 ETH in two requests). So before any top-up the
transaction must pass everything the node and the policy will hold against it: its nonce is
the sender's next *pending* nonce, its gas fits the latest block's gas limit, its
maxPriorityFeePerGas is within ``RelayPolicy.max_priority_fee`` and its maxFeePerGas within
``base_fee_multiple`` x the latest base fee + its priority fee, and the exact call, from the
sender with its gas, succeeds on the pending state (a revert is a 409 with the decoded custom
error). The top-up is then the **shortfall** (gas x maxFeePerGas less the balance; no float),
at most ``max_top_up`` per transaction (403 above it) and ``daily_top_up`` per party per UTC
day (429 with Retry-After until midnight UTC); a relayer that cannot pay answers 503
(``RelayerOutOfFunds``). What is left after the transaction is mined stays with the party and
lowers its next shortfall. A transaction that passes the simulation can still lose a race (the
party's own wallet sends another with the same nonce): the top-up it received then covers its
next one, within the same caps.

**Crash safety.** The submission's row (its hash and signed bytes) is written before the
top-up, and each top-up's row (signed, hash known) before it is broadcast. A retry of a
request whose process died (``idempotency.py``) finds the submission by the same hash: on the
node, it answers it; recorded but never broadcast, it runs it again under the same id, and the
top-up already paid has closed the shortfall, so it sends nothing twice. Top-ups a dead process
left ``sent`` are settled first: waited for if the node holds them, dropped if it never got
them. The recovery tests crash a real ``scf serve`` between top-up and broadcast with
``SCF_FAULT=after-top-up`` (``api.v1.faults``; inert unless that variable names the point).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
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
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from api.errors import (
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    RelayCapExceeded,
    RelayerOutOfFunds,
    ServiceUnavailable,
)
from api.v1 import store
from api.v1.auth import Party
from api.v1.faults import crash_point
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.errors import ChainUnavailable, ContractReverted
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call
from ledger.eth.chain import REVERTS, Chain, revert_data
from ledger.eth.events import EventDecoder
from ledger.index.sql.models import Cursor

TYPE_EIP1559 = 2
TRANSFER_GAS = 21_000
DAY = 86_400
#: Seconds a top-up may take to be mined before the submission answers 503 (a retry picks it up).
TOP_UP_WAIT = 120


@dataclass(frozen=True)
class RelayPolicy:
    """What the relayer pays for (``Settings.relay_*``): fee caps a relayed transaction must keep, and how
    much native currency it sends per transaction and per party per UTC day."""

    base_fee_multiple: int = 3
    max_priority_fee: int = 2 * 10**9
    max_top_up: int = 10**17
    daily_top_up: int = 10**18

    @classmethod
    def of(cls, settings: Any) -> RelayPolicy:
        """The policy of an ``api.v1.settings.Settings``."""
        return cls(
            base_fee_multiple=settings.relay_base_fee_multiple,
            max_priority_fee=settings.relay_max_priority_fee,
            max_top_up=settings.relay_max_top_up,
            daily_top_up=settings.relay_daily_top_up,
        )


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
        policy: RelayPolicy,
    ) -> None:
        self.chain = chain
        self.store = store_engine
        self.index = index_engine
        self.relayer = relayer
        self.policy = policy
        # One top-up at a time: in this process (a thread lock) and across the processes of
        # `scf serve --workers N` on this host (a file lock), each re-reading the relayer's nonce.
        self._relaying = threading.Lock()
        self._lock_file = (
            None
            if relayer is None
            else Path(tempfile.gettempdir()) / f"scf-relayer-{chain.chain_id}-{relayer.address.lower()}.lock"
        )
        self.escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
        self.receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        self.token = TokenClient(chain, build, addresses["SettlementToken"])
        self.contracts = {
            "TradeEscrow": self.escrow.contract,
            "Receivables": self.receivables.contract,
            "SettlementToken": self.token.contract,
        }
        self._by_address: dict[str, str] = {str(contract.address): name for name, contract in self.contracts.items()}
        # What a party may call is declared by the clients (``PARTY_CALLS`` next to the builders the write
        # routes prepare transactions with), so the allow-list and the prepared calls cannot drift apart.
        self._selectors: dict[tuple[str, bytes], str] = {
            (calls.CONTRACT, selector): function
            for calls in (self.escrow.calls, self.receivables.calls, self.token.calls)
            for selector, function in calls.party_selectors().items()
        }

    @property
    def allowed(self) -> dict[str, frozenset[str]]:
        """Contract -> the functions a party may submit through the relayer."""
        answer: dict[str, set[str]] = {}
        for (contract, _selector), function in self._selectors.items():
            answer.setdefault(contract, set()).add(function)
        return {contract: frozenset(functions) for contract, functions in answer.items()}

    # -- 1. prepare ---------------------------------------------------------------------

    def prepare(self, call: Call, sender: str) -> dict[str, Any]:
        """The unsigned transaction of ``call`` from ``sender``, after a simulation that must pass, in the field names
        of ethers' ``TransactionRequest`` (``gasLimit``), integers as ``int`` (the schema writes them as decimals)."""
        params: TxParams = {
            "from": to_checksum_address(sender),
            "to": call.to,
            "data": HexBytes(call.data),
            "value": Wei(call.value),
        }
        try:
            estimate = int(self.chain.w3.eth.estimate_gas(params))
        except REVERTS as exc:
            raise self.chain.errors.decode(revert_data(exc)) from exc
        fees = self.chain.fees.fees(self.chain.base_fee())
        nonce = int(self.chain.w3.eth.get_transaction_count(to_checksum_address(sender), "pending"))
        return {
            "type": TYPE_EIP1559,
            "chainId": self.chain.chain_id,
            "from": sender,
            "to": call.to,
            "data": "0x" + call.data.hex(),
            "value": call.value,
            "nonce": nonce,
            "gasLimit": estimate + estimate // 5 + 10_000,  # ethers' name; eth-account and web3.py say "gas"
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.priority,
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

    def _ledger_call(self, to: str, data: bytes, field: str) -> tuple[str, str]:
        """The contract and function a transaction calls, if a party may call it through the API."""
        contract = self._by_address.get(to)
        function = self._selectors.get((contract, data[:4])) if contract else None
        if contract is None or function is None:
            raise InvalidField(field, "the transaction calls no ledger function a party may call")
        return contract, function

    def submit(self, raw: bytes, party: Party, *, resume: bool = False) -> Submitted:
        """Check, simulate, record, top up, broadcast; ``resume``: the Idempotency-Key's first attempt died.

        The same signed bytes always have the same hash, so a submission recorded but never
        broadcast (its process died in between) is run again under its id; one already on the node
        is the first attempt's answer when resuming, and a 409 otherwise.
        """
        tx, sender = self._decode(raw)
        if sender != party.address:
            raise Forbidden(party.address, "submit this transaction", f"it is signed by {sender}, not by you")
        if int(tx["chainId"]) != self.chain.chain_id:
            raise InvalidField("rawTransaction", f"chain id {tx['chainId']} is not this ledger's {self.chain.chain_id}")
        if int(tx["value"]) != 0:
            raise InvalidField("rawTransaction", "ledger calls carry no native value")
        to = str(to_checksum_address(bytes(tx["to"]))) if tx.get("to") else ""
        data = bytes(tx["data"])
        contract, function = self._ledger_call(to, data, "rawTransaction")
        tx_hash = "0x" + keccak(raw).hex()  # a typed transaction's hash: keccak of its signed envelope
        recorded = self._recorded(tx_hash)
        if recorded is not None and self._on_node(tx_hash):
            return self._again(recorded, resume)
        self.simulate(tx, sender, to, data, "rawTransaction")
        submitted = (
            Submitted(recorded.id, tx_hash, contract, function, int(tx["nonce"]), 0)
            if recorded is not None
            else self._record(party, tx_hash, contract, function, int(tx["nonce"]), raw=raw, broadcast=False)
        )
        topped_up = self._top_up(sender, int(tx["gas"]) * int(tx["maxFeePerGas"]), tx_hash)
        crash_point("after-top-up")
        self._broadcast(raw, tx_hash)
        return dataclasses.replace(submitted, topped_up=topped_up)

    def simulate(self, tx: dict[str, Any], sender: str, to: str, data: bytes, field: str) -> None:
        """Everything the node and the relayer's policy will hold against ``tx``, checked before any top-up:
        the nonce is the sender's next (pending) one, the gas fits a block, the fee caps are within the
        policy, and the exact call from the sender succeeds on the pending state (a revert is a 409 with
        the contract's decoded error, as in ``prepare``)."""
        w3 = self.chain.w3
        nonce = int(tx["nonce"])
        expected = int(w3.eth.get_transaction_count(to_checksum_address(sender), "pending"))
        if nonce != expected:
            raise InvalidField(
                field,
                f"nonce {nonce} is not {sender}'s next nonce {expected} (pending transactions counted): "
                "prepare the transaction again",
            )
        block = w3.eth.get_block("latest")
        gas, gas_limit = int(tx["gas"]), int(block["gasLimit"])
        if gas > gas_limit:
            raise InvalidField(field, f"gas {gas} is above the block gas limit {gas_limit}: no block can include it")
        base_fee = int(block.get("baseFeePerGas") or 0)
        priority, max_fee = int(tx["maxPriorityFeePerGas"]), int(tx["maxFeePerGas"])
        policy = self.policy
        # The network's own fee policy (a legacy price, say) may tip more than the relay cap; what the API
        # prepares under it is accepted.
        if priority > max(policy.max_priority_fee, self.chain.fees.fees(base_fee).priority):
            raise InvalidField(
                field, f"maxPriorityFeePerGas {priority} is above the relayer's cap of {policy.max_priority_fee} wei"
            )
        ceiling = policy.base_fee_multiple * base_fee + priority
        if max_fee > ceiling:
            raise InvalidField(
                field,
                f"maxFeePerGas {max_fee} is above the relayer's policy: {policy.base_fee_multiple} x the base fee "
                f"{base_fee} + maxPriorityFeePerGas {priority} = {ceiling} wei; prepare the transaction again",
            )
        if max_fee < base_fee or priority > max_fee:
            raise InvalidField(
                field,
                f"maxFeePerGas {max_fee} must cover the base fee {base_fee} and maxPriorityFeePerGas {priority}: "
                "no block would include it",
            )
        call: TxParams = {"from": to_checksum_address(sender), "to": to, "data": HexBytes(data), "gas": gas}
        try:
            w3.eth.call(call, "pending")
        except REVERTS as exc:
            raise self.chain.errors.decode(revert_data(exc)) from exc
        except Web3RPCError as exc:  # intrinsic gas too low and the like: the node will not run it at all
            message = exc.rpc_response.get("error", {}).get("message") if exc.rpc_response else None
            raise InvalidField(field, f"the node will not run it: {message or exc}") from exc

    def adopt(self, tx_hash: str, party: Party, *, resume: bool = False) -> Submitted:
        """Record a transaction the party broadcast itself (a browser wallet signs only by sending): it must be
        on the node, from the party, for this chain, calling a ledger function; the relayer pays nothing."""
        try:
            tx = self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound as exc:
            raise InvalidField(
                "txHash", f"the node does not know transaction {tx_hash}: broadcast it first, then submit its hash"
            ) from exc
        sender = str(tx["from"])
        if sender != party.address:
            raise Forbidden(party.address, "submit this transaction", f"it was sent by {sender}, not by you")
        chain_id = tx.get("chainId")
        if chain_id is None or int(chain_id) != self.chain.chain_id:
            raise InvalidField("txHash", f"chain id {chain_id} is not this ledger's {self.chain.chain_id}")
        if int(tx["value"]) != 0:
            raise InvalidField("txHash", "ledger calls carry no native value")
        to = str(to_checksum_address(tx["to"])) if tx.get("to") else ""
        contract, function = self._ledger_call(to, bytes(tx["input"]), "txHash")
        tx_hash = HexBytes(tx["hash"]).to_0x_hex()
        recorded = self._recorded(tx_hash)
        if recorded is not None:
            return self._again(recorded, resume)
        return self._record(party, tx_hash, contract, function, int(tx["nonce"]), raw=None, broadcast=True)

    def _recorded(self, tx_hash: str) -> Any:
        with self.store.connect() as connection:
            return connection.execute(
                select(store.submissions).where(store.submissions.c.tx_hash == tx_hash)
            ).one_or_none()

    def _again(self, row: Any, resume: bool) -> Submitted:
        """A transaction submitted before and now on the node: the first answer again when resuming a dead
        attempt (and the broadcast time it could not write), otherwise a 409 naming the submission."""
        if not resume:
            raise Conflict(
                "already_submitted",
                f"transaction {row.tx_hash} was submitted already: follow /v1/submissions/{row.id}",
            )
        if row.broadcast_at is None:
            self._mark_broadcast(row.tx_hash)
        return Submitted(row.id, row.tx_hash, row.contract, row.function, int(row.nonce), 0)

    def _record(
        self,
        party: Party,
        tx_hash: str,
        contract: str,
        function: str,
        nonce: int,
        *,
        raw: bytes | None,
        broadcast: bool,
    ) -> Submitted:
        """The submission's row, written before any top-up or broadcast, so a retry finds it by hash."""
        now = int(time.time())
        submitted = Submitted(str(uuid.uuid4()), tx_hash, contract, function, nonce, 0)
        try:
            with self.store.begin() as connection:
                connection.execute(
                    insert(store.submissions).values(
                        id=submitted.id,
                        party=party.address,
                        tx_hash=tx_hash,
                        contract=contract,
                        function=function,
                        nonce=nonce,
                        created_at=now,
                        raw=raw,
                        broadcast_at=now if broadcast else None,
                    )
                )
        except IntegrityError as exc:  # a twin without an Idempotency-Key recorded it a moment ago
            raise Conflict("already_submitted", f"transaction {tx_hash} is being submitted already") from exc
        return submitted

    def _mark_broadcast(self, tx_hash: str) -> None:
        with self.store.begin() as connection:
            connection.execute(
                update(store.submissions)
                .where(store.submissions.c.tx_hash == tx_hash, store.submissions.c.broadcast_at.is_(None))
                .values(broadcast_at=int(time.time()))
            )

    def _on_node(self, tx_hash: str) -> bool:
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def _broadcast(self, raw: bytes, tx_hash: str) -> None:
        try:
            self.chain.w3.eth.send_raw_transaction(raw)
        except ChainUnavailable:
            raise
        except Exception as exc:  # the node's refusal (nonce, fee, known tx) as it said it
            if not self._on_node(tx_hash):  # "already known" is the node holding it: that is a success
                raise Conflict("transaction_rejected", f"the node refused the transaction: {exc}") from exc
        self._mark_broadcast(tx_hash)

    def _top_up(self, sender: str, needed: int, for_tx: str) -> int:
        """Send ``sender`` the shortfall of its balance against ``needed`` (gas x maxFeePerGas), nothing more,
        within the per-transaction and per-day caps; every top-up is recorded before it is broadcast."""
        if self.relayer is None:
            return 0
        relayer = self.relayer
        w3 = self.chain.w3
        with self._relaying, _host_lock(self._lock_file):
            self._settle(sender)
            balance = int(w3.eth.get_balance(to_checksum_address(sender), "pending"))
            shortfall = needed - balance
            if shortfall <= 0:
                return 0
            if shortfall > self.policy.max_top_up:
                raise RelayCapExceeded(sender, self.policy.max_top_up, shortfall)
            now = int(time.time())
            day = now // DAY
            with self.store.connect() as connection:
                sent = connection.execute(
                    select(store.top_ups.c.amount).where(
                        store.top_ups.c.party == sender, store.top_ups.c.day == day, store.top_ups.c.state != "dropped"
                    )
                ).scalars()
                used = sum(int(amount) for amount in sent)
            if used + shortfall > self.policy.daily_top_up:
                raise RelayCapExceeded(sender, self.policy.daily_top_up, shortfall, used, (day + 1) * DAY)
            # Another worker process may have used the relayer's nonces since this one last counted.
            self.chain.forget_nonce(relayer.address)
            fees = self.chain.fees.fees(self.chain.base_fee())
            cost = shortfall + TRANSFER_GAS * fees.max_fee
            funds = int(w3.eth.get_balance(relayer.address, "pending"))
            if funds < cost:
                raise RelayerOutOfFunds(relayer.address, funds, cost)
            tx: dict[str, Any] = {
                "type": TYPE_EIP1559,
                "chainId": self.chain.chain_id,
                "nonce": self.chain.take_nonce(relayer.address),
                "to": to_checksum_address(sender),
                "value": shortfall,
                "gas": TRANSFER_GAS,
                "maxFeePerGas": fees.max_fee,
                "maxPriorityFeePerGas": fees.priority,
            }
            signed = relayer.sign_transaction(tx)
            top_up = signed.hash.to_0x_hex()
            with self.store.begin() as connection:
                connection.execute(
                    insert(store.top_ups).values(
                        tx_hash=top_up,
                        party=sender,
                        relayer=relayer.address,
                        amount=shortfall,
                        for_tx=for_tx,
                        state="sent",
                        day=day,
                        created_at=now,
                    )
                )
            try:
                w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as exc:
                self.chain.forget_nonce(relayer.address)
                if not self._on_node(top_up):
                    self._set_top_up(top_up, "dropped")
                    raise ServiceUnavailable("relayer", f"the node refused the relayer's top-up: {exc}") from exc
            self._settle_one(top_up)
        return shortfall

    def _set_top_up(self, tx_hash: str, state: str) -> None:
        with self.store.begin() as connection:
            connection.execute(update(store.top_ups).where(store.top_ups.c.tx_hash == tx_hash).values(state=state))

    def _settle(self, party: str) -> None:
        """Resolve ``party``'s top-ups a dead process left ``sent``: wait for those on the node, drop the rest
        (their bytes never left this service, so nobody can broadcast them later)."""
        with self.store.connect() as connection:
            open_ = list(
                connection.execute(
                    select(store.top_ups.c.tx_hash).where(
                        store.top_ups.c.party == party, store.top_ups.c.state == "sent"
                    )
                ).scalars()
            )
        for tx_hash in open_:
            if self._on_node(tx_hash):
                self._settle_one(tx_hash)
            else:
                self._set_top_up(tx_hash, "dropped")

    def _settle_one(self, tx_hash: str) -> None:
        try:
            receipt = self.chain.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=TOP_UP_WAIT, poll_latency=0.05
            )
        except TimeExhausted as exc:
            raise ServiceUnavailable(
                "relayer", f"the relayer's top-up {tx_hash} is not mined after {TOP_UP_WAIT} s; retry later"
            ) from exc
        self._set_top_up(tx_hash, "mined" if receipt["status"] == 1 else "reverted")

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
            "created": None,
        }
        try:
            receipt = self.chain.w3.eth.get_transaction_receipt(row.tx_hash)
        except TransactionNotFound:  # still in the pool; a dead node is ChainUnavailable (503), not "pending"
            return answer
        block = int(receipt["blockNumber"])
        answer["blockNumber"] = block
        if receipt["status"] != 1:
            answer["status"] = "reverted"
            answer["error"] = self._explain(row.tx_hash, block)
        else:
            answer["status"] = "mined"
            answer["created"] = self._created(row.contract, row.function, receipt)
        with self.index.connect() as connection:
            indexed = connection.execute(
                select(Cursor.block_number).where(Cursor.chain_id == self.chain.chain_id)
            ).scalar_one_or_none()
        answer["indexed"] = indexed is not None and indexed >= block
        return answer

    @functools.cached_property
    def _events(self) -> dict[str, EventDecoder]:
        return {name: EventDecoder(self.contracts[name]) for name in ("TradeEscrow", "Receivables")}

    def _created(self, contract: str, function: str, receipt: TxReceipt) -> dict[str, Any] | None:
        """What a mined call made, named by the ledger's own events in its receipt (the contracts assign the
        ids: the transaction's input cannot say them); None for a call that makes nothing."""
        decoder = self._events.get(contract)
        if decoder is None:
            return None
        events = decoder.decode(receipt)

        def args(name: str) -> list[dict[str, Any]]:
            return [event.args for event in events if event.name == name]

        if function in ("createOrder", "createOpenAccountOrder") and (orders := args("OrderCreated")):
            return {"orderId": int(orders[0]["orderId"])}
        if function == "issue" and (issued := args("ReceivableIssued")):
            root = int(issued[0]["rootId"])
            return {"rootId": root, "pieceId": root}
        if function == "split" and (pieces := args("PieceCreated")):
            return {"pieceIds": [int(piece["pieceId"]) for piece in pieces]}
        if function == "finance" and (financed := args("PieceFinanced")):
            return {"pieceId": int(financed[0]["pieceId"])}
        return None

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
