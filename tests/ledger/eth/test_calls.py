"""The clients' unsigned calls (``ledger.eth.calls``): web3's calldata, one sender, the relayer's allow-list.

The builders are checked against web3's own ``encode_abi`` on contracts bound to no node (the
build is the session's compile); the sender and the allow-list on the session anvil ledger.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from eth_utils import keccak
from sqlalchemy import create_engine
from web3 import Web3

from api.errors import InvalidField
from api.v1.relayer import RelayPolicy, Transactions
from ledger.clients.credit import CreditLimit, CreditRegistryCalls
from ledger.clients.escrow import TradeEscrowCalls
from ledger.clients.membership import MembershipCalls, MembershipClient, MemberStatus
from ledger.clients.receivables import ReceivablesCalls
from ledger.clients.token import TokenCalls
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone, OrderTerms, PrepaymentOffer, Windows
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms
from ledger.errors import ContractReverted, LedgerError
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls

if TYPE_CHECKING:  # the session ledger's type only; the fixtures come from conftest as pytest gives them
    from tests.support.deployments import Deployed

ROOT = Path(__file__).resolve().parents[3]
A = "0x" + "11" * 20
B = "0x" + "2A" * 20  # not checksummed: the builders take any spelling, as web3 does not
ADDRESS = {"TradeEscrow": "0x" + "e5" * 20, "Receivables": "0x" + "7c" * 20}
SIG1, SIG2 = b"\x01" * 65, b"\x02" * 65
H1, H2 = keccak(text="one"), keccak(text="two")

TERMS = OrderTerms(A, B, A, 10**24, 1_700_000_000, 1_700_100_000, True, H1, H2, 7, 1_700_000_500)
ATTESTATION = Attestation(9, Milestone.INSPECTION_PASSED, 1_700_000_000, H1)
DECLARATION = ErrorDeclaration(H1, H2, 1_700_000_001)
WINDOWS = Windows(86_400, 172_800, 259_200, 3_600)
ISSUE = IssueTerms(A, B, A, 5 * 10**20, 1_800_000_000, H1, H2, H1, 3, 4, 1_700_000_900)
OFFER = FinanceOffer(12, B, 4 * 10**20, 1_700_001_000, 2)
PREPAYMENT = PrepaymentOffer(5, B, 99 * 10**18, 2 * 10**18, 1_700_001_500, 2**255)
CHILDREN = [Child(100, A, H1), Child(2**200, B, H2)]
LIMIT = CreditLimit(A, B, 10**22, 640, 3, H2, 1_900_000_000, 5)
PERMIT = (1_700_000_700, 27, H1, H2)

# builder name -> (builder arguments, the Solidity function, its arguments as web3 takes them)
Case = tuple[tuple[Any, ...], str, tuple[Any, ...]]
CS = Web3.to_checksum_address
CASES: dict[type[ContractCalls], dict[str, Case]] = {
    TradeEscrowCalls: {
        "create_order": ((TERMS, SIG1, SIG2), "createOrder", (TERMS.as_tuple(), SIG1, SIG2)),
        "create_open_account_order": (
            (TERMS, SIG1, SIG2),
            "createOpenAccountOrder",
            (TERMS.as_tuple(), SIG1, SIG2),
        ),
        "fund": ((5,), "fund", (5,)),
        "fund_with_permit": ((5, PERMIT), "fundWithPermit", (5, *PERMIT)),
        "cancel_unfunded": ((5,), "cancelUnfunded", (5,)),
        "attest": ((ATTESTATION, [SIG1, SIG2]), "attest", (ATTESTATION.as_tuple(), [SIG1, SIG2])),
        "confirm_receipt": ((5,), "confirmReceipt", (5,)),
        "release": ((5,), "release", (5,)),
        "refund_unshipped": ((5,), "refundUnshipped", (5,)),
        "open_dispute": ((5, H1), "openDispute", (5, H1)),
        "contest_milestone": ((DECLARATION, [SIG1]), "contestMilestone", (DECLARATION.as_tuple(), [SIG1])),
        "answer_dispute": ((5, H2), "answerDispute", (5, H2)),
        "arbitrate": ((5, 123), "arbitrate", (5, 123)),
        "settle_dispute": ((5, 123, 1_700_000_000, SIG1, SIG2), "settleDispute", (5, 123, 1_700_000_000, SIG1, SIG2)),
        "close_expired_dispute": ((5,), "closeExpiredDispute", (5,)),
        "request_prepayment": (
            (PREPAYMENT, SIG1),
            "requestPrepayment",
            ((5, CS(B), 99 * 10**18, 2 * 10**18, 1_700_001_500, 2**255), SIG1),
        ),
        "fund_pool": ((10**21,), "fundPool", (10**21,)),
        "withdraw_pool": ((10**21,), "withdrawPool", (10**21,)),
        "repay_shortfall": ((A, B, 17), "repayShortfall", (CS(A), CS(B), 17)),
        "set_threshold": ((1, 2), "setThreshold", (1, 2)),
        "set_windows": ((WINDOWS,), "setWindows", ((86_400, 172_800, 259_200, 3_600),)),
        "set_token_allowed": ((B, False), "setTokenAllowed", (CS(B), False)),
    },
    ReceivablesCalls: {
        "issue": ((ISSUE, SIG1), "issue", (ISSUE.as_tuple(), SIG1)),
        "split": ((8, CHILDREN), "split", (8, [c.as_tuple() for c in CHILDREN])),
        "finance": ((OFFER, SIG2), "finance", (OFFER.as_tuple(), SIG2)),
        "repay": ((3, 10**20), "repay", (3, 10**20)),
        "claim": ((8,), "claim", (8,)),
        "mark_defaulted": ((3,), "markDefaulted", (3,)),
        "transfer": ((A, B, 8), "transferFrom", (CS(A), CS(B), 8)),
        "set_grace_period": ((86_400,), "setGracePeriod", (86_400,)),
    },
    TokenCalls: {
        "mint": ((B, 10**18), "mint", (CS(B), 10**18)),
        "approve": ((B, 2**256 - 1), "approve", (CS(B), 2**256 - 1)),
        "transfer": ((B, 1), "transfer", (CS(B), 1)),
    },
    CreditRegistryCalls: {
        "publish": ((LIMIT, SIG1), "publish", (LIMIT.as_tuple(), SIG1)),
        "revoke": ((B,), "revoke", (CS(B),)),
    },
    MembershipCalls: {
        "admit": ((B, 6, 0, H1), "admit", (CS(B), 6, 0, H1)),
        "suspend": ((B, H2), "suspend", (CS(B), H2)),
        "reinstate": ((B,), "reinstate", (CS(B),)),
    },
}


def _builders(cls: type[ContractCalls]) -> set[str]:
    return {name for name, member in vars(cls).items() if inspect.isfunction(member) and not name.startswith("_")}


@pytest.mark.parametrize("cls", list(CASES), ids=lambda cls: cls.CONTRACT)
def test_every_builder_encodes_what_web3_encodes(build: BuildResult, cls: type[ContractCalls]) -> None:
    address = ADDRESS.get(cls.CONTRACT, "0x" + "ab" * 20)
    calls = cls(build[cls.CONTRACT].abi, address)
    contract = Web3().eth.contract(address=CS(address), abi=build[cls.CONTRACT].abi)
    cases = CASES[cls]
    assert set(cases) == _builders(cls), "every builder has a case here"
    for builder, (args, function, web3_args) in cases.items():
        call = getattr(calls, builder)(*args)
        assert isinstance(call, Call)
        assert (call.contract, call.function, call.to, call.value) == (cls.CONTRACT, function, CS(address), 0)
        assert call.data == bytes.fromhex(contract.encode_abi(function, web3_args)[2:]), builder


def test_a_call_decodes_its_return_data_by_the_abi(build: BuildResult) -> None:
    calls = TradeEscrowCalls(build["TradeEscrow"].abi, ADDRESS["TradeEscrow"])
    evidence = calls.build("evidenceOf", H1)
    assert evidence.outputs == ("uint256", "uint8")
    assert evidence.decode((7).to_bytes(32, "big") + (2).to_bytes(32, "big")) == (7, 2)
    assert calls.build("threshold", 1).decode((3).to_bytes(32, "big")) == 3


def test_a_builder_refuses_a_function_the_contract_does_not_have(build: BuildResult) -> None:
    calls = TokenCalls(build["SettlementToken"].abi, A)
    with pytest.raises(LedgerError, match="SettlementToken has no function 'fund'"):
        calls.build("fund", 1)


def test_party_calls_must_exist_in_the_abi(build: BuildResult) -> None:
    class Misdeclared(TokenCalls):
        PARTY_CALLS = frozenset({"approve", "approveAll"})

    with pytest.raises(LedgerError, match="approveAll"):
        Misdeclared(build["SettlementToken"].abi, A)


# -- one sender --------------------------------------------------------------------------------------


def test_a_clients_send_puts_the_builders_calldata_on_chain(deployed: Deployed) -> None:
    chain, tokens, bank = deployed.chain, deployed.tokens, deployed.accounts["bank"]
    holder = deployed.accounts["tier2"].address
    before = tokens.balance_of(holder)
    receipt = tokens.mint(holder, 1234, bank)
    sent = chain.w3.eth.get_transaction(receipt["transactionHash"])
    assert bytes(sent["input"]) == tokens.calls.mint(holder, 1234).data
    assert sent["to"] == tokens.address and sent["from"] == bank.address
    assert tokens.balance_of(holder) == before + 1234


def test_the_sender_decodes_a_revert_before_sending(deployed: Deployed) -> None:
    chain, escrow = deployed.chain, deployed.escrow
    buyer = deployed.accounts["core"]
    nonce = chain.w3.eth.get_transaction_count(buyer.address)
    with pytest.raises(ContractReverted) as raised:
        chain.send(escrow.calls.fund(10**9), buyer)
    assert raised.value.error is not None and raised.value.error.startswith("TradeEscrow"), raised.value
    assert chain.w3.eth.get_transaction_count(buyer.address) == nonce  # nothing went out


def test_the_sender_reads_a_view_call_through_its_decoder(deployed: Deployed) -> None:
    chain, escrow = deployed.chain, deployed.escrow
    membership = MembershipClient(chain, deployed.build, deployed.addresses["Membership"])
    core = deployed.accounts["core"].address
    assert chain.read(escrow.calls.build("threshold", 1)) == escrow.threshold(1) > 0
    member = membership.member_of(core)
    assert member.status == MemberStatus.ACTIVE and member.admitted
    assert chain.read(membership.calls.build("memberOf", core)) == tuple(member)
    assert not membership.member_of("0x" + "99" * 20).admitted


# -- the relayer's allow-list ------------------------------------------------------------------------

#: What the relayer allowed when it kept its own list (before the clients declared it): unchanged.
ALLOWED = {
    "TradeEscrow": {
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
    },
    "Receivables": {"issue", "split", "finance", "repay", "claim", "markDefaulted", "transferFrom"},
    "SettlementToken": {"approve"},
}


def _transactions(deployed: Deployed) -> Transactions:
    engine = create_engine("sqlite://")
    return Transactions(deployed.chain, deployed.build, deployed.addresses, engine, engine, None, RelayPolicy())


def test_the_relayer_allows_exactly_the_party_calls_the_clients_declare(deployed: Deployed) -> None:
    tx = _transactions(deployed)
    declared = {c.CONTRACT: set(c.PARTY_CALLS) for c in (TradeEscrowCalls, ReceivablesCalls, TokenCalls)}
    assert {name: set(functions) for name, functions in tx.allowed.items()} == declared == ALLOWED
    # Each builder's call is recognised for what it is, by its target and selector.
    for call in (tx.escrow.calls.fund(1), tx.receivables.calls.claim(2), tx.token.calls.approve(A, 3)):
        assert tx._ledger_call(call.to, call.data, "rawTransaction") == (call.contract, call.function)


@pytest.mark.parametrize(
    "build_call",
    [
        lambda tx: tx.escrow.calls.set_threshold(1, 1),  # administration stays with the command line
        lambda tx: tx.escrow.calls.attest(ATTESTATION, [SIG1]),  # the oracles' aggregator submits these
        lambda tx: tx.token.calls.mint(A, 1),
        lambda tx: tx.receivables.calls.set_grace_period(1),
    ],
    ids=["setThreshold", "attest", "mint", "setGracePeriod"],
)
def test_the_relayer_refuses_calls_no_client_declares_for_parties(
    deployed: Deployed, build_call: Callable[[Transactions], Call]
) -> None:
    tx = _transactions(deployed)
    call = build_call(tx)
    with pytest.raises(InvalidField, match="no ledger function a party may call"):
        tx._ledger_call(call.to, call.data, "rawTransaction")


# -- nobody else touches contract.functions ----------------------------------------------------------

OUTSIDE_CLIENTS = ("api", "oracles", "scenarios")
REACHING_IN = re.compile(r"\.functions\b|\bFunctionEncoder\(|\bencode_function\(")


def test_no_code_outside_the_clients_builds_calls_from_contract_functions() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in OUTSIDE_CLIENTS
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if REACHING_IN.search(line)
    ]
    assert offenders == [], "build calls through a client's `calls` (ledger.eth.calls) instead:\n" + "\n".join(
        offenders
    )
