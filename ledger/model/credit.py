"""A pure-Python model of CreditRegistry, as TradeEscrow reads it.

A bank publishes a signed limit per party; the escrow asks for the limit that holds now
(``limit_of``) before it lets a supplier draw an assured pre-payment against that bank's
pool. The registry is its own contract, so it reports its own custom errors
(``CREDIT_REGISTRY``), but it is modelled beside the escrow because the escrow is the only
model that reads it: ``EscrowModel`` takes a ``CreditLimits`` over the same ``Roster``.

As in the other models, callers pass the address a signature recovers to (``None`` when it
recovers to nothing) instead of the signature itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ledger.model.common import ROLE_BANK, Effect, ModelRejected, Roster, address, uint

__all__ = ["CREDIT_REGISTRY", "CreditLimits", "LimitRecord"]

CREDIT_REGISTRY: Final = "CreditRegistry"


@dataclass(frozen=True)
class LimitRecord:
    limit: int
    valid_until: int
    published_at: int


class CreditLimits:
    """CreditRegistry as TradeEscrow sees it: bank-signed limits that lapse at ``valid_until``."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.records: dict[tuple[str, str], LimitRecord] = {}
        self.nonces: dict[str, int] = {}

    def nonce(self, bank: str) -> int:
        return self.nonces.get(address(bank), 0)

    def publish(
        self,
        *,
        bank: str,
        party: str,
        limit: int,
        valid_until: int,
        nonce: int,
        signer: str | None,
        now: int,
    ) -> Effect:
        """``publish(grant, signature)``; ``signer`` is what the signature recovers to."""
        bank, party = address(bank), address(party)
        uint(limit, 256, "limit")
        uint(valid_until, 64, "validUntil")
        if not self.roster.has_role(bank, ROLE_BANK):
            raise ModelRejected("CreditRegistryNotBank", CREDIT_REGISTRY, bank=bank)
        if not self.roster.is_active(party):
            raise ModelRejected("CreditRegistryNotMember", CREDIT_REGISTRY, party=party)
        if valid_until <= now:
            raise ModelRejected("CreditRegistryExpired", CREDIT_REGISTRY, validUntil=valid_until, nowTimestamp=now)
        expected = self.nonce(bank)
        if nonce != expected:
            raise ModelRejected(
                "CreditRegistryInvalidNonce", CREDIT_REGISTRY, bank=bank, nonce=nonce, expected=expected
            )
        if signer is None:
            raise ModelRejected("CreditRegistryInvalidSignature", CREDIT_REGISTRY)
        if address(signer) != bank:
            raise ModelRejected("CreditRegistryInvalidSigner", CREDIT_REGISTRY, bank=bank, signer=address(signer))
        self.nonces[bank] = expected + 1
        self.records[(bank, party)] = LimitRecord(limit, valid_until, now)
        return Effect(events=("LimitPublished",))

    def revoke(self, party: str, *, caller: str) -> Effect:
        caller = address(caller)
        if not self.roster.has_role(caller, ROLE_BANK):
            raise ModelRejected("CreditRegistryNotBank", CREDIT_REGISTRY, bank=caller)
        self.records.pop((caller, address(party)), None)
        return Effect(events=("LimitRevoked",))

    def limit_of(self, bank: str, party: str, now: int) -> int:
        """Zero once lapsed (``valid_until <= now``) or when ``bank`` is no longer an active bank."""
        record = self.records.get((address(bank), address(party)))
        if record is None or record.valid_until <= now or not self.roster.has_role(bank, ROLE_BANK):
            return 0
        return record.limit
