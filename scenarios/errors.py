"""Errors of the scenarios package: one root, typed subclasses that keep their context."""

from __future__ import annotations


class ScenarioError(Exception):
    """Root of every error raised by ``scenarios``."""


class InvalidConfig(ScenarioError):
    """A world cannot be built from these settings (too few firms, hold-out longer than the run...)."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


class ChainNotSupported(ScenarioError):
    """The chain cannot host a scenario: it gives no control of block time (not an anvil devnet)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{endpoint}: {reason}")


class WorldAlreadyPlayed(ScenarioError):
    """This world's parties are already members of the deployment: its orders and invoices exist."""

    def __init__(self, party: str, membership: str) -> None:
        self.party = party
        self.membership = membership
        super().__init__(
            f"{party} is already a member of {membership}: this seed, firm count and month count were played "
            "on this deployment; use another seed or a fresh deployment"
        )


class PlayFailed(ScenarioError):
    """A step of the play failed on chain where it should have succeeded; ``cause`` keeps the ledger's error."""

    def __init__(self, phase: str, tick: int, cause: Exception) -> None:
        self.phase = phase
        self.tick = tick
        self.cause = cause
        super().__init__(f"{phase} at week {tick} failed: {cause}")
