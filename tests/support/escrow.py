"""Driving TradeEscrow and CreditRegistry on a deployed ledger: terms, signatures, funding, attesting, checks.

The contract tests (``tests/contracts/``) use these, and so do the suites that need a ledger
with some history on it (the audit replay, the indexer, the oracle services, the scorer).

A test module that wants a ready ledger (balances, allowances, a funded guarantee pool, a credit
limit, extra oracles and one order in each early state) declares its fixtures with
``tests.support.worlds``:

    module_world, world = world_fixtures(open_world)

The world is built once per module and backend under its own snapshot; every test still runs
under the per-test snapshot of ``deployed`` and is rolled back to the world afterwards.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from ledger.clients.credit import CreditLimit, CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import (
    Attestation,
    ErrorDeclaration,
    Milestone,
    Order,
    OrderStatus,
    OrderTerms,
    PrepaymentOffer,
    po_ref_hash,
)
from ledger.errors import ContractReverted, LedgerError
from ledger.eth import eip712
from ledger.eth.artifacts import Artifact
from ledger.eth.chain import REVERTS, Chain, revert_data
from ledger.toolchain.deploy import ORACLE_KIND, ROLE
from tests.support.chains import LeanHTTPProvider, send_synchronously
from tests.support.deployments import Deployed

if TYPE_CHECKING:
    from ledger.eth.calls import Call

UNIT = 10**6  # one dUSD (6 decimals)
AMOUNT = 100_000 * UNIT  # the default order amount
LIMIT = 150_000 * UNIT  # the bank's credit limit for tier1 in the world
POOL = 200_000 * UNIT  # the bank's guarantee pool in the world
DAY = 86_400
HOUR = 3_600
CLAIM_WINDOW, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE = 30 * DAY, 3 * DAY, 15 * DAY, 30 * DAY
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = b"\x00" * 32
MAX_UINT256 = 2**256 - 1
CARRIER, INSPECTOR, CUSTOMS = ORACLE_KIND["carrier"], ORACLE_KIND["inspector"], ORACLE_KIND["customs"]
# Enough gas for any call to reach its revert, so a transaction sent with it is mined and fails on chain.
REVERT_GAS = 1_500_000
# A call's block time is the pending block's: the same second as the latest block on anvil, one
# second later on eth-tester, and anvil follows the wall clock. Bounds for `nowTimestamp` args.
CLOCK_SLACK = 15


# -- clients --------------------------------------------------------------------------------

TX_GAS = 2_000_000  # above what any single call of these contracts uses


class QuickChain:
    """``deployed.chain`` for the tests' own calls and transactions, with less per-call overhead.

    * No gas estimation: eth-tester estimates by a binary search of EVM runs, anvil by several
      runs too. A transaction (a ``ContractFunction`` for ``transact``, a client's unsigned
      ``ledger.eth.calls.Call`` for ``send``) is first run once as an ``eth_call`` from its sender
      (a revert raises the same decoded ``ContractReverted``), then sent with a fixed gas limit.
    * Contracts and reads use a second ``Web3`` on the same node without middleware: web3's
      validation middleware asks the node for its chain id on every call. Transactions are
      still signed, sent and awaited by the wrapped chain, which keeps nonces and snapshots.
    """

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        assert chain.accounts is not None
        self._reader = chain.accounts["auditor"].address
        provider = chain.w3.provider
        if isinstance(provider, EthereumTesterProvider):
            provider = EthereumTesterProvider(provider.ethereum_tester)
        else:
            provider = HTTPProvider(chain.endpoint)
        self.w3_reads = Web3(provider, middleware=[])
        self.lean: LeanHTTPProvider | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def contract(self, artifact: Artifact, address: str) -> Contract:
        # Custom errors are decoded by the chain's ErrorDecoder; leaving them out of the ABI
        # halves the ABI validation web3 repeats each time a function is looked up.
        abi = [item for item in artifact.abi if item["type"] != "error"]
        return self.w3_reads.eth.contract(address=to_checksum_address(address), abi=abi)

    def call(self, fn: ContractFunction, *, sender: str | None = None) -> Any:
        # eth-tester wants a funded `from` for a call; views do not depend on it.
        return self._chain.call(fn, sender=sender or self._reader)

    def transact(
        self, fn: ContractFunction, sender: LocalAccount, *, value: int = 0, gas: int | None = None
    ) -> TxReceipt:
        if gas is None:
            self._chain.call(fn, sender=sender.address)
            gas = TX_GAS
        return self._chain.transact(fn, sender, value=value, gas=gas)

    def read(self, call: Call, *, sender: str | None = None) -> Any:
        return call.decode(self._run(call, sender or self._reader))

    def send(self, call: Call, sender: LocalAccount, *, gas: int | None = None) -> TxReceipt:
        if gas is None:
            self._run(call, sender.address)
            gas = TX_GAS
        if self.lean is not None:  # under tests.support.chains.synchronous_sends
            return send_synchronously(self._chain, self.lean, call, sender, gas)
        return self._chain.send(call, sender, gas=gas)

    def _run(self, call: Call, sender: str) -> bytes:
        """``call``'s return data as an ``eth_call`` from ``sender`` in the latest block."""
        provider = self.w3_reads.provider
        if isinstance(provider, HTTPProvider):
            # One bare JSON-RPC request: web3's request and result formatting costs several
            # times what the node takes to answer, once per transaction of a lock-step suite.
            params = {"from": sender, "to": call.to, "data": "0x" + call.data.hex(), "value": hex(call.value)}
            answer = provider.make_request(RPCEndpoint("eth_call"), [params, "latest"])
            error = answer.get("error")
            if error is None:
                return bytes(HexBytes(answer["result"]))
            message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
            if not message.startswith("execution reverted"):
                raise LedgerError(f"eth_call of {call} from {sender} failed: {error}")
            data = error.get("data") if isinstance(error, dict) else None
            raise self._chain.errors.decode(data if isinstance(data, str) else None)
        tx: TxParams = {"from": sender, "to": call.to, "data": HexBytes(call.data), "value": Wei(call.value)}
        try:
            return bytes(self.w3_reads.eth.call(tx))
        except REVERTS as exc:
            raise self._chain.errors.decode(revert_data(exc)) from exc


# Built once per session chain: a client costs RPCs and ABI checks to build.
_CACHE: weakref.WeakKeyDictionary[Chain, dict[Any, Any]] = weakref.WeakKeyDictionary()


def cached(deployed: Deployed, key: Any, build: Callable[[], Any]) -> Any:
    per_chain = _CACHE.setdefault(deployed.chain, {})
    if key not in per_chain:
        per_chain[key] = build()
    return per_chain[key]


def quick(deployed: Deployed) -> Chain:
    """The QuickChain of ``deployed`` (typed as the Chain it stands in for)."""
    chain: Chain = cached(deployed, "chain", lambda: QuickChain(deployed.chain))
    return chain


def view(deployed: Deployed, fn: ContractFunction) -> Any:
    return quick(deployed).call(fn)


def send_trusted(deployed: Deployed, fn: ContractFunction, sender: LocalAccount) -> TxReceipt:
    """Send a setup step expected to succeed without the preflight call.

    Should it revert after all, it is mined as failed and the chain replays it, so it still
    raises the decoded ``ContractReverted``.
    """
    return deployed.chain.transact(fn, sender, gas=TX_GAS)


def send(deployed: Deployed, fn: ContractFunction, sender: LocalAccount) -> TxReceipt:
    """Transact ``fn`` from ``sender`` (see QuickChain); a revert raises ``ContractReverted``."""
    return quick(deployed).transact(fn, sender)


def escrow_of(deployed: Deployed) -> TradeEscrowClient:
    """The escrow client of ``deployed`` over its QuickChain, built once per chain."""
    address = deployed.addresses["TradeEscrow"]
    client: TradeEscrowClient = cached(
        deployed, "escrow", lambda: TradeEscrowClient(quick(deployed), deployed.build, address)
    )
    return client


def tokens_of(deployed: Deployed) -> TokenClient:
    address = deployed.addresses["SettlementToken"]
    client: TokenClient = cached(deployed, "tokens", lambda: TokenClient(quick(deployed), deployed.build, address))
    return client


def registry_of(deployed: Deployed) -> CreditRegistryClient:
    address = deployed.addresses["CreditRegistry"]
    client: CreditRegistryClient = cached(
        deployed, "registry", lambda: CreditRegistryClient(quick(deployed), deployed.build, address)
    )
    return client


def token_contract(deployed: Deployed, token: str) -> Contract:
    artifact = deployed.build["SettlementToken"]
    contract: Contract = cached(deployed, ("token", token), lambda: quick(deployed).contract(artifact, token))
    return contract


# -- accounts -------------------------------------------------------------------------------


def acct(deployed: Deployed, label: str) -> LocalAccount:
    return deployed.accounts[label]


def addr(deployed: Deployed, label: str) -> str:
    return deployed.accounts[label].address


def account_of(deployed: Deployed, address: str) -> LocalAccount:
    """The dev account holding ``address``."""
    wanted = to_checksum_address(address)
    for account in deployed.accounts.by_role.values():
        if account.address == wanted:
            return account
    raise KeyError(address)


def fixed_key(label: str) -> LocalAccount:
    """A deterministic key that is no dev account: extra oracles, strangers."""
    account: LocalAccount = Account.from_key(keccak(text=f"scf-ledger-tests:{label}"))
    return account


def suspend(deployed: Deployed, address: str) -> None:
    fn = deployed.membership.functions.suspend(to_checksum_address(address), keccak(text="suspended in a test"))
    send_trusted(deployed, fn, acct(deployed, "admin"))


def reinstate(deployed: Deployed, address: str) -> None:
    fn = deployed.membership.functions.reinstate(to_checksum_address(address))
    send_trusted(deployed, fn, acct(deployed, "admin"))


# -- chain ----------------------------------------------------------------------------------


def block_time(deployed: Deployed, receipt: TxReceipt) -> int:
    return int(deployed.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def advance_to(deployed: Deployed, moment: int) -> int:
    """Move the chain clock to at least ``moment`` (mining a block); the new block time."""
    return deployed.chain.advance_time(max(0, moment - deployed.chain.timestamp()))


def next_block_at(deployed: Deployed, moment: int) -> None:
    """Make the next mined block carry exactly ``moment`` (which must be in the chain's future)."""
    chain = deployed.chain
    if chain.backend == "embedded":
        # eth-tester stamps each new block one second after the last (the clock is ahead of the wall).
        chain.advance_time(moment - 1 - chain.timestamp())
        assert chain.timestamp() == moment - 1
    else:
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [moment])  # type: ignore[arg-type]


def passes_at(deployed: Deployed, moment: int, fn: ContractFunction, sender: LocalAccount) -> bool:
    """Whether ``fn`` succeeds when mined in a block stamped exactly ``moment``; rolled back either way.

    Only the mined receipt decides: a replay of a failed transaction runs at the block before,
    at another time, so its decoded error would not be the one of this block.
    """
    chain = deployed.chain
    snapshot = chain.snapshot()
    try:
        next_block_at(deployed, moment)
        try:
            receipt = chain.transact(fn, sender, gas=TX_GAS)  # no preflight: the mined block decides
        except ContractReverted as reverted:
            assert reverted.tx_hash is not None, "mined, and failed there"
            receipt = chain.w3.eth.get_transaction_receipt(reverted.tx_hash)  # type: ignore[arg-type]
        assert block_time(deployed, receipt) == moment
        return bool(receipt["status"] == 1)
    finally:
        chain.revert(snapshot)


def revert_of(call: Callable[[], object]) -> ContractReverted:
    """The decoded revert of ``call``, which must revert."""
    with pytest.raises(ContractReverted) as raised:
        call()
    return raised.value


def mined_revert(deployed: Deployed, fn: ContractFunction, sender: LocalAccount) -> ContractReverted:
    """Send ``fn`` with a fixed gas limit so it is mined and fails on chain; its decoded error."""
    with pytest.raises(ContractReverted) as raised:
        deployed.chain.transact(fn, sender, gas=REVERT_GAS)
    tx_hash = raised.value.tx_hash
    assert tx_hash is not None, "the transaction was mined"
    assert deployed.chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 0  # type: ignore[arg-type]
    return raised.value


def assert_now(deployed: Deployed, value: int, before: int) -> None:
    """``value`` is the block time a call saw, read ``before`` was the latest block's time."""
    assert before <= value <= before + CLOCK_SLACK, (before, value)


# -- typed data -----------------------------------------------------------------------------


def sign_in_domain(account: LocalAccount, document: dict[str, Any], **domain: Any) -> bytes:
    """Sign ``document`` with its domain fields overridden (chainId, verifyingContract, name...)."""
    changed = copy.deepcopy(document)
    changed["domain"].update(domain)
    return eip712.sign(account, changed)


def high_s(signature: bytes) -> bytes:
    """The other valid signature of the same message: s -> n - s with the parity of v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


# -- orders ---------------------------------------------------------------------------------


def make_terms(
    deployed: Deployed,
    *,
    buyer: str = "core",
    supplier: str = "tier1",
    amount: int = AMOUNT,
    ship_in: int = 10 * DAY,
    deliver_in: int = 20 * DAY,
    inspection: bool = False,
    po: str = "PO-TEST-0001",
    nonce: int = 100,
    deadline_in: int = DAY,
    token: str | None = None,
) -> OrderTerms:
    now = deployed.chain.timestamp()
    return OrderTerms(
        buyer=addr(deployed, buyer),
        supplier=addr(deployed, supplier),
        token=token or deployed.addresses["SettlementToken"],
        amount=amount,
        ship_by=now + ship_in,
        deliver_by=now + deliver_in,
        inspection_required=inspection,
        terms_hash=keccak(text=f"terms of {po}: incoterms FCA, net 60"),
        po_ref_hash=po_ref_hash(po),
        nonce=nonce,
        deadline=now + deadline_in,
    )


def signatures(deployed: Deployed, terms: OrderTerms) -> tuple[bytes, bytes]:
    escrow = escrow_of(deployed)
    buyer, supplier = account_of(deployed, terms.buyer), account_of(deployed, terms.supplier)
    return escrow.sign_order(buyer, terms), escrow.sign_order(supplier, terms)


def create_fn(deployed: Deployed, terms: OrderTerms, buyer_sig: bytes, supplier_sig: bytes) -> ContractFunction:
    return escrow_of(deployed).contract.functions.createOrder(terms.as_tuple(), buyer_sig, supplier_sig)


def create_order(deployed: Deployed, terms: OrderTerms, submitter: LocalAccount | None = None) -> tuple[int, TxReceipt]:
    buyer_sig, supplier_sig = signatures(deployed, terms)
    sender = submitter or account_of(deployed, terms.buyer)
    return escrow_of(deployed).create_order(terms, buyer_sig, supplier_sig, sender)


def fund(deployed: Deployed, order_id: int, buyer: str = "core") -> TxReceipt:
    """The buyer funds from its allowance (the world approved the escrow for core and tier1)."""
    return send_trusted(deployed, escrow_of(deployed).contract.functions.fund(order_id), acct(deployed, buyer))


def new_order(deployed: Deployed, *, funded: bool = True, **terms: Any) -> int:
    order_id, _ = create_order(deployed, make_terms(deployed, **terms))
    if funded:
        fund(deployed, order_id, terms.get("buyer", "core"))
    return order_id


# -- attestations ---------------------------------------------------------------------------

KIND_OF = {
    Milestone.SHIPPED: CARRIER,
    Milestone.DELIVERED: CARRIER,
    Milestone.INSPECTION_PASSED: INSPECTOR,
    Milestone.INSPECTION_FAILED: INSPECTOR,
}


def evidence(order_id: int, milestone: int, salt: str = "test") -> bytes:
    """A GS1 EPCIS event hash standing in for the logistics event of a milestone."""
    return keccak(text=f"epcis:{salt}:{order_id}:{milestone}")


def attestation_of(
    deployed: Deployed, order_id: int, milestone: Milestone, *, occurred_at: int | None = None, salt: str = "test"
) -> Attestation:
    when = deployed.chain.timestamp() if occurred_at is None else occurred_at
    return Attestation(order_id, milestone, when, evidence(order_id, milestone, salt))


def oracle_signatures(deployed: Deployed, attestation: Attestation, oracles: Iterable[LocalAccount]) -> list[bytes]:
    return [escrow_of(deployed).sign_attestation(oracle, attestation) for oracle in oracles]


def attest_fn(deployed: Deployed, attestation: Attestation, sigs: list[bytes]) -> ContractFunction:
    return escrow_of(deployed).contract.functions.attest(attestation.as_tuple(), sigs)


def attest(
    deployed: Deployed,
    order_id: int,
    milestone: Milestone,
    *,
    oracles: Iterable[LocalAccount] | None = None,
    occurred_at: int | None = None,
    salt: str = "test",
) -> TxReceipt:
    """Attest ``milestone`` signed by ``oracles`` (the dev oracle of its kind), relayed by a non-member."""
    attestation = attestation_of(deployed, order_id, milestone, occurred_at=occurred_at, salt=salt)
    if oracles is None:
        oracles = [acct(deployed, "carrier" if KIND_OF[milestone] == CARRIER else "inspector")]
    sigs = oracle_signatures(deployed, attestation, oracles)
    return send_trusted(deployed, attest_fn(deployed, attestation, sigs), acct(deployed, "relayer"))


def ship(deployed: Deployed, order_id: int, salt: str = "test") -> TxReceipt:
    return attest(deployed, order_id, Milestone.SHIPPED, salt=salt)


def deliver(deployed: Deployed, order_id: int, salt: str = "test") -> TxReceipt:
    return attest(deployed, order_id, Milestone.DELIVERED, salt=salt)


def inspect(deployed: Deployed, order_id: int, passed: bool = True) -> TxReceipt:
    return attest(deployed, order_id, Milestone.INSPECTION_PASSED if passed else Milestone.INSPECTION_FAILED)


# -- error declarations ---------------------------------------------------------------------


def declaration_of(
    deployed: Deployed, evidence_hash: bytes, *, declared_at: int | None = None, reason: str = "did_not_occur"
) -> ErrorDeclaration:
    """An EPCIS error declaration of the event behind ``evidence_hash``, declared now unless told."""
    when = deployed.chain.timestamp() if declared_at is None else declared_at
    return ErrorDeclaration(evidence_hash, keccak(text=f"urn:epcglobal:cbv:er:{reason}"), when)


def declaration_signatures(
    deployed: Deployed, declaration: ErrorDeclaration, oracles: Iterable[LocalAccount]
) -> list[bytes]:
    return [escrow_of(deployed).sign_error_declaration(oracle, declaration) for oracle in oracles]


def contest_fn(deployed: Deployed, declaration: ErrorDeclaration, sigs: list[bytes]) -> ContractFunction:
    return escrow_of(deployed).contract.functions.contestMilestone(declaration.as_tuple(), sigs)


def contest(
    deployed: Deployed,
    evidence_hash: bytes,
    *,
    oracles: Iterable[LocalAccount] | None = None,
    declared_at: int | None = None,
    kind: int = CARRIER,
) -> TxReceipt:
    """Contest the milestone attested with ``evidence_hash``, signed by ``oracles`` (the dev oracle
    of ``kind``) and relayed by a non-member."""
    declaration = declaration_of(deployed, evidence_hash, declared_at=declared_at)
    if oracles is None:
        oracles = [acct(deployed, "carrier" if kind == CARRIER else "inspector")]
    sigs = declaration_signatures(deployed, declaration, oracles)
    return send_trusted(deployed, contest_fn(deployed, declaration, sigs), acct(deployed, "relayer"))


def open_dispute(deployed: Deployed, order_id: int, reason: str = "goods damaged", buyer: str = "core") -> TxReceipt:
    fn = escrow_of(deployed).contract.functions.openDispute(order_id, keccak(text=reason))
    return send_trusted(deployed, fn, acct(deployed, buyer))


# -- reading and checking -------------------------------------------------------------------


def events(deployed: Deployed, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
    """Every TradeEscrow event of ``receipt`` as (name, args), in log order."""
    return [(event.name, event.args) for event in escrow_of(deployed).events(receipt)]


def events_of(deployed: Deployed, contract: Contract, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
    """Every event of ``contract`` in ``receipt`` as (name, args), in log order."""
    found = []
    kinds = [contract.events[item["name"]]() for item in contract.abi if item["type"] == "event"]
    for log in receipt["logs"]:
        if log["address"] != contract.address:
            continue
        for kind in kinds:
            try:
                decoded = kind.process_log(log)
            except Exception:  # not this event's topic
                continue
            found.append((str(decoded["event"]), dict(decoded["args"])))
            break
    return found


def bound(deployed: Deployed, contract: Contract, name: str, *args: Any) -> ContractFunction:
    """``contract.functions.<name>(*args)``, built once: the checks' repeated reads skip web3's lookup."""
    fn: ContractFunction = cached(deployed, (contract.address, name, *args), lambda: contract.functions[name](*args))
    return fn


def balance(deployed: Deployed, holder: str, token: str | None = None) -> int:
    contract = token_contract(deployed, token or deployed.addresses["SettlementToken"])
    return int(quick(deployed).call(bound(deployed, contract, "balanceOf", to_checksum_address(holder))))


def balances(deployed: Deployed, buyer: str = "core", supplier: str = "tier1") -> tuple[int, int]:
    """(buyer, supplier) balances in the currency; the world's orders are all core -> tier1."""
    return balance(deployed, addr(deployed, buyer)), balance(deployed, addr(deployed, supplier))


def read_order(deployed: Deployed, order_id: int) -> Order:
    """``orderOf(order_id)`` as the client's ``Order`` (what ``TradeEscrowClient.order`` returns)."""
    contract = escrow_of(deployed).contract
    return Order.from_view(order_id, quick(deployed).call(bound(deployed, contract, "orderOf", order_id)))


def all_orders(deployed: Deployed) -> list[Order]:
    count = int(quick(deployed).call(bound(deployed, escrow_of(deployed).contract, "orderCount")))
    return [read_order(deployed, order_id) for order_id in range(1, count + 1)]


def assert_money_accounted(deployed: Deployed, guarantors: Iterable[str] = ()) -> list[Order]:
    """The escrow holds exactly the open escrows plus the guarantee pools, token by token.

    Every closed order paid out exactly its amount plus what the pool added. Returns the orders read.
    """
    escrow = escrow_of(deployed)
    currency = deployed.addresses["SettlementToken"]
    orders = all_orders(deployed)
    pools = [
        quick(deployed).call(bound(deployed, escrow.contract, "pool", g)) for g in {addr(deployed, "bank"), *guarantors}
    ]
    for token in {currency, *(o.terms.token for o in orders)}:
        held = sum(o.escrowed for o in orders if o.terms.token == token)
        if token == currency:
            held += sum(available + reserved for available, reserved in pools)
        assert balance(deployed, escrow.address, token) == held, token
    for order in orders:
        if order.status in (OrderStatus.CREATED, OrderStatus.CANCELLED):
            assert order.escrowed == 0
        if order.status in (OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED):
            assert order.escrowed == 0
            paid = order.paid_to_supplier + order.prepayment_fee + order.refunded_to_buyer
            assert paid == order.terms.amount + order.guarantee_claimed
    return orders


def assert_paid_out(
    deployed: Deployed,
    order_id: int,
    before: tuple[int, int],
    *,
    to_buyer: int,
    to_supplier: int,
    claimed: int = 0,
    fee: int = 0,
) -> None:
    """Since ``before`` (buyer, supplier balances once funded) the parties got exactly these amounts.

    What the supplier got includes any pre-payment net of the guarantor's ``fee``; the two and the
    fee add up to the order amount plus what the guarantee pool paid.
    """
    order = assert_money_accounted(deployed)[order_id - 1]
    buyer_now = balance(deployed, order.terms.buyer, order.terms.token)
    supplier_now = balance(deployed, order.terms.supplier, order.terms.token)
    assert (buyer_now - before[0], supplier_now - before[1]) == (to_buyer, to_supplier)
    assert (order.refunded_to_buyer, order.paid_to_supplier, order.guarantee_claimed, order.prepayment_fee) == (
        to_buyer,
        to_supplier,
        claimed,
        fee,
    )
    assert to_buyer + to_supplier + fee == order.terms.amount + claimed
    assert order.escrowed == 0


def escrow_state(
    deployed: Deployed,
    *,
    orders: Iterable[int] = (),
    nonces: Iterable[tuple[str, int]] = (),
    po_refs: Iterable[bytes] = (),
    evidences: Iterable[bytes] = (),
    holders: Iterable[str] = (),
    disputes: Iterable[int] = (),
) -> dict[str, Any]:
    """What the escrow answers about these keys, plus its order count, token balance and the bank's pool."""
    escrow = escrow_of(deployed)
    fns = escrow.contract.functions
    call = quick(deployed).call
    return {
        "orderCount": call(bound(deployed, escrow.contract, "orderCount")),
        "orders": [read_order(deployed, i) for i in orders],
        "disputes": [escrow.dispute(i) for i in disputes],
        "nonces": [call(fns.nonceUsed(to_checksum_address(b), n)) for b, n in nonces],
        "poRefs": [call(fns.orderIdOfPoRef(p)) for p in po_refs],
        "evidences": [(call(fns.evidenceUsed(e)), call(fns.evidenceOf(e))) for e in evidences],
        "balances": [balance(deployed, h) for h in (escrow.address, *holders)],
        "pool": call(bound(deployed, escrow.contract, "pool", addr(deployed, "bank"))),
    }


# -- assured pre-payment --------------------------------------------------------------------


def free_prepayment_nonce(deployed: Deployed, guarantor: str) -> int:
    """The lowest pre-payment offer nonce ``guarantor`` has not used yet."""
    escrow, nonce = escrow_of(deployed), 0
    while escrow.prepayment_nonce_used(guarantor, nonce):
        nonce += 1
    return nonce


def prepayment_offer_of(
    deployed: Deployed,
    order_id: int,
    amount: int,
    *,
    fee: int = 0,
    bank: str | LocalAccount = "bank",
    deadline_in: int = DAY,
    nonce: int | None = None,
) -> PrepaymentOffer:
    """``bank``'s (a label or an account) offer to back ``amount`` of ``order_id`` for ``fee``, good for
    ``deadline_in`` seconds from the latest block, with its lowest unused nonce unless given one."""
    guarantor = bank.address if isinstance(bank, LocalAccount) else addr(deployed, bank)
    if nonce is None:
        nonce = free_prepayment_nonce(deployed, guarantor)
    return PrepaymentOffer(order_id, guarantor, amount, fee, deployed.chain.timestamp() + deadline_in, nonce)


def sign_prepayment(deployed: Deployed, offer: PrepaymentOffer, signer: LocalAccount | None = None) -> bytes:
    """The offer signed by its guarantor's dev key (or by ``signer``)."""
    return escrow_of(deployed).sign_prepayment_offer(signer or account_of(deployed, offer.guarantor), offer)


def request_prepayment(
    deployed: Deployed,
    offer: PrepaymentOffer,
    supplier: str | LocalAccount = "tier1",
    *,
    signer: LocalAccount | None = None,
    signature: bytes | None = None,
) -> TxReceipt:
    """``supplier`` accepts ``offer`` with its guarantor's signature (or ``signer``'s, or ``signature`` as given)."""
    sender = supplier if isinstance(supplier, LocalAccount) else acct(deployed, supplier)
    signed = signature if signature is not None else sign_prepayment(deployed, offer, signer)
    return escrow_of(deployed).request_prepayment(offer, signed, sender)


# -- credit limits --------------------------------------------------------------------------


def grant_of(
    deployed: Deployed,
    *,
    bank: str = "bank",
    party: str = "tier1",
    limit: int = LIMIT,
    valid_for: int = 365 * DAY,
    nonce: int | None = None,
    score: int = 712,
    grade: int = 2,
) -> CreditLimit:
    bank_address = addr(deployed, bank) if bank in deployed.accounts.by_role else to_checksum_address(bank)
    party_address = addr(deployed, party) if party in deployed.accounts.by_role else to_checksum_address(party)
    return CreditLimit(
        bank=bank_address,
        party=party_address,
        limit=limit,
        score=score,
        grade=grade,
        model_hash=keccak(text="scoring model v3"),
        valid_until=deployed.chain.timestamp() + valid_for,
        nonce=registry_of(deployed).nonce(bank_address) if nonce is None else nonce,
    )


def publish(deployed: Deployed, grant: CreditLimit, signer: LocalAccount | None = None) -> TxReceipt:
    """Sign ``grant`` with its bank's key (or ``signer``) and publish it from a non-member."""
    signature = registry_of(deployed).sign(signer or account_of(deployed, grant.bank), grant)
    return registry_of(deployed).publish(grant, signature, acct(deployed, "relayer"))


# -- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What ``open_world`` set up; order ids are those of core -> tier1 orders of AMOUNT."""

    created: int
    funded: int
    shipped: int
    delivered: int  # DELIVERED, no inspection required
    inspecting: int  # DELIVERED, inspection required
    carriers: tuple[LocalAccount, ...]  # the dev carrier first
    inspectors: tuple[LocalAccount, ...]  # the dev inspector first


def open_world(session: Deployed) -> Iterator[World]:
    """Build the world under a snapshot, yield it, and roll the chain back afterwards."""
    snapshot = session.chain.snapshot()
    try:
        yield _build_world(session)
    finally:
        session.chain.revert(snapshot)


def _build_world(deployed: Deployed) -> World:
    """Known-good setup: sent with a fixed gas limit, no preflight; any failure still raises."""
    chain, escrow, tokens = deployed.chain, escrow_of(deployed), tokens_of(deployed)
    admin, bank, relayer = acct(deployed, "admin"), acct(deployed, "bank"), acct(deployed, "relayer")

    def run(calls: Iterable[tuple[ContractFunction, LocalAccount]]) -> None:
        for fn, sender in calls:
            chain.transact(fn, sender, gas=TX_GAS)

    extra = [("carrier-2", CARRIER), ("carrier-3", CARRIER), ("inspector-2", INSPECTOR)]
    oracles = {label: fixed_key(label) for label, _ in extra}
    grant = grant_of(deployed, nonce=0)
    grant_signature = registry_of(deployed).sign(bank, grant)
    calls: list[tuple[ContractFunction, LocalAccount]] = []
    for label, amount in (
        ("core", 10 * AMOUNT),
        ("tier1", 3 * AMOUNT),
        ("bank", POOL + 2 * AMOUNT),
        ("relayer", AMOUNT),
    ):
        calls.append((tokens.contract.functions.mint(addr(deployed, label), amount), bank))
    for label in ("core", "tier1", "bank", "relayer"):
        calls.append((tokens.contract.functions.approve(escrow.address, MAX_UINT256), acct(deployed, label)))
    for label, kind in extra:
        kyc = keccak(text=f"kyc:{label}")
        calls.append((deployed.membership.functions.admit(oracles[label].address, ROLE["oracle"], kind, kyc), admin))
    calls.append((registry_of(deployed).contract.functions.publish(grant.as_tuple(), grant_signature), relayer))
    calls.append((escrow.contract.functions.fundPool(POOL), bank))
    run(calls)

    core, carrier = acct(deployed, "core"), acct(deployed, "carrier")
    all_terms = [
        make_terms(deployed, po=f"WORLD-PO-{n}", nonce=n, inspection=(n == 5), deadline_in=365 * DAY)
        for n in range(1, 6)
    ]
    run((create_fn(deployed, t, *signatures(deployed, t)), core) for t in all_terms)
    ids = [int(chain.call(escrow.contract.functions.orderIdOfPoRef(t.po_ref_hash))) for t in all_terms]
    run((escrow.contract.functions.fund(i), core) for i in ids[1:])
    for milestone, targets in ((Milestone.SHIPPED, ids[2:]), (Milestone.DELIVERED, ids[3:])):
        for order_id in targets:
            attestation = attestation_of(deployed, order_id, milestone, salt="world")
            run([(attest_fn(deployed, attestation, oracle_signatures(deployed, attestation, [carrier])), relayer)])
    # eth-tester reverts to a snapshot by re-importing its block: let that block be an empty one,
    # so that rolling back after each test does not execute the last setup transaction again.
    chain.mine()
    return World(
        created=ids[0],
        funded=ids[1],
        shipped=ids[2],
        delivered=ids[3],
        inspecting=ids[4],
        carriers=(acct(deployed, "carrier"), oracles["carrier-2"], oracles["carrier-3"]),
        inspectors=(acct(deployed, "inspector"), oracles["inspector-2"]),
    )
