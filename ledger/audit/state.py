"""The ledger as the models re-derive it: the models wired as the contracts are, their state, and
what they predict one transaction did.

``LedgerModels`` wires the pure-Python models together as the contracts are wired: one
``Roster`` kept by the Membership model and read by all, CreditRegistry's limits read by the
escrow, the escrow's orders read by Receivables, every token movement the escrow or
Receivables causes checked and booked by the token model (OpenZeppelin's ERC-20 rules:
balances, allowances, permits). ``LedgerState`` is their state as plain data, what the views'
and the SQL tables' comparisons read. ``Outcome`` and ``Expectation`` are what the replayer
(``ledger.audit.machine``) predicts a mined transaction did: each contract's events, the
settlement-token transfers, the event arguments it can vouch for; ``merged`` puts the outcomes
of the calls one transaction makes (a contract wallet's) one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ledger.model.common import Roster, Transfer, address
from ledger.model.credit import CreditLimits
from ledger.model.escrow import EscrowModel, EscrowState
from ledger.model.membership import MemberRecord, MembershipModel
from ledger.model.receivables import ReceivablesModel, ReceivablesState
from ledger.model.token import TokenModel

MEMBERSHIP: Final = "Membership"
TOKEN: Final = "SettlementToken"
CREDIT: Final = "CreditRegistry"
ESCROW: Final = "TradeEscrow"
RECEIVABLES: Final = "Receivables"
CONTRACTS: Final = (MEMBERSHIP, TOKEN, CREDIT, ESCROW, RECEIVABLES)


@dataclass(frozen=True)
class Expectation:
    """The ``nth`` log of ``contract.event`` in the transaction must carry these arguments."""

    contract: str
    event: str
    nth: int
    args: Mapping[str, Any]


@dataclass
class Outcome:
    """What the models predict a transaction did."""

    events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    transfers: list[tuple[str, str, int]] = field(default_factory=list)  # settlement token: (from, to, value)
    expect: list[Expectation] = field(default_factory=list)
    signatures: int = 0
    other_token_transfers: list[Transfer] = field(default_factory=list)  # tokens whose logs are not read


def merged(into: Outcome, part: Outcome) -> Outcome:
    """``into`` with ``part`` (the next call of the same transaction) after it: events, transfers and
    signatures appended, ``part``'s expectations shifted past the same events ``into`` predicts."""
    for expectation in part.expect:
        shift = into.events.get(expectation.contract, []).count(expectation.event)
        into.expect.append(replace(expectation, nth=expectation.nth + shift) if shift else expectation)
    for contract, names in part.events.items():
        into.events[contract].extend(names)
    into.transfers.extend(part.transfers)
    into.signatures += part.signatures
    into.other_token_transfers.extend(part.other_token_transfers)
    return into


@dataclass(frozen=True)
class LedgerState:
    """Everything the models re-derived, as plain data keyed as the contracts key it: what a
    comparison with another projection of the ledger (the SQL tables) reads row by row."""

    escrow: EscrowState
    receivables: ReceivablesState
    members: Mapping[str, MemberRecord]
    balances: Mapping[str, int]  # settlement token, every holder ever credited or debited
    allowances: Mapping[tuple[str, str], int]
    permit_nonces: Mapping[str, int]
    total_supply: int
    #: (bank, party) → (limit, score, grade, modelHash, validUntil, publishedAt); revoked pairs are absent
    limits: Mapping[tuple[str, str], tuple[int, int, int, bytes, int, int]]
    bank_nonces: Mapping[str, int]


class LedgerModels:
    """Every contract's model, wired as the contracts are."""

    def __init__(self, addresses: Mapping[str, str]) -> None:
        self.addresses = {name: address(a) for name, a in addresses.items()}
        self.roster = Roster()
        self.membership = MembershipModel(self.roster)
        self.token = TokenModel(token=self.addresses[TOKEN], roster=self.roster)
        self.credit = CreditLimits(self.roster)
        self.escrow = EscrowModel(
            escrow=self.addresses[ESCROW], currency=self.addresses[TOKEN], roster=self.roster, credit=self.credit
        )
        self.receivables = ReceivablesModel(
            receivables=self.addresses[RECEIVABLES],
            currency=self.addresses[TOKEN],
            roster=self.roster,
            orders=self.escrow,
        )
        # What CreditRegistry keeps beyond what the escrow reads: (score, grade, modelHash).
        self.limit_details: dict[tuple[str, str], tuple[int, int, bytes]] = {}
        self.limit_pairs: set[tuple[str, str]] = set()  # every (bank, party) ever published
        # Tokens other than the settlement token the escrow moved (their logs are not read).
        self.other_tokens: set[str] = set()

    def state(self) -> LedgerState:
        limits = {
            key: (
                record.limit,
                *self.limit_details.get(key, (0, 0, bytes(32))),
                record.valid_until,
                record.published_at,
            )
            for key, record in self.credit.records.items()
        }
        return LedgerState(
            escrow=self.escrow.state(),
            receivables=self.receivables.state(),
            members=self.membership.state(),
            balances=self.token.balances(),
            allowances=self.token.allowances(),
            permit_nonces=self.token.nonces(),
            total_supply=self.token.total_supply,
            limits=limits,
            bank_nonces=dict(self.credit.nonces),
        )

    def invariant_violations(self) -> list[tuple[str, str]]:
        found = [(ESCROW, p) for p in self.escrow.invariant_violations()]
        found += [(RECEIVABLES, p) for p in self.receivables.invariant_violations()]
        found += [(TOKEN, p) for p in self.token.invariant_violations()]
        escrow_held = self.escrow.held()
        if escrow_held != self.token.balance_of(self.escrow.escrow):
            found.append(
                (ESCROW, f"escrow books {escrow_held}, token books {self.token.balance_of(self.escrow.escrow)}")
            )
        held = self.receivables.held
        if held != self.token.balance_of(self.receivables.receivables):
            found.append(
                (RECEIVABLES, f"books {held}, token books {self.token.balance_of(self.receivables.receivables)}")
            )
        return found
