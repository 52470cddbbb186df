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


class WorldIncomplete(ScenarioError):
    """This world's parties are members of the deployment but its play did not finish (it was
    interrupted): a play cannot be resumed, and its invoices and orders cannot be played again."""

    def __init__(self, membership: str, reason: str) -> None:
        self.membership = membership
        self.reason = reason
        super().__init__(
            f"this world was played on {membership} but {reason}: the play was interrupted and cannot be resumed; "
            "start the devnet's chain over (`scf devnet reset`) or use a devnet of its own (SCF_DEVNET_PORT=P)"
        )


class WorldConflict(ScenarioError):
    """Another world (same seed, other settings) already holds this world's purchase-order references
    on the deployment: playing would fail part-way, so nothing is sent."""

    def __init__(self, po_ref: str, order_id: int, buyer: str) -> None:
        self.po_ref = po_ref
        self.order_id = order_id
        self.buyer = buyer
        super().__init__(
            f"purchase order {po_ref} is already order {order_id} of {buyer}, who is not a party of this world: "
            "another world with the same seed and other settings was played on this deployment; nothing was sent. "
            "Play this world on a devnet of its own (SCF_DEVNET_PORT=P) or start the chain over (`scf devnet reset`)"
        )
