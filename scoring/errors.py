"""Errors of the scoring package: one root, typed subclasses that keep their context."""

from __future__ import annotations


class ScoringError(Exception):
    """Root of every error raised by ``scoring``."""


class UnknownParty(ScoringError):
    """The address is not a member of the ledger as of the decision's point in time."""

    def __init__(self, party: str, as_of_block: int) -> None:
        self.party = party
        self.as_of_block = as_of_block
        super().__init__(f"{party} is not a member of the ledger as of block {as_of_block}")


class InvalidParty(ScoringError):
    """The text given as a party is not an Ethereum address."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"not an address: {text!r} (expected 0x followed by 40 hex digits)")


class AsOfInFuture(ScoringError):
    """The as-of block is beyond what is final: the indexed head less the confirmation depth."""

    def __init__(self, as_of_block: int, last_final_block: int, confirmations: int) -> None:
        self.as_of_block = as_of_block
        self.last_final_block = last_final_block
        self.confirmations = confirmations
        super().__init__(
            f"as-of block {as_of_block} is in the future: the last block with {confirmations} confirmations "
            f"is {last_final_block}"
        )


class NoHistory(ScoringError):
    """There is nothing to score from: no indexed chain, or no event at or before the as-of point."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidRequest(ScoringError):
    """What was asked does not fit together (options of a command, a missing argument)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class ModelError(ScoringError):
    """A model file is missing, malformed, or its content does not match its version hash."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"model {where}: {detail}")


class WorldError(ScoringError):
    """A simulated world's files (world.json, ground_truth.json) are missing or malformed."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"world {where}: {detail}")


class FitError(ScoringError):
    """A model cannot be fitted on the data given (too few parties, or no failures to learn from)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"cannot fit: {detail}")


class PolicyError(ScoringError):
    """A bank's pricing policy file is missing, malformed, or one of its fields is out of bounds.

    ``field`` names the offending field as a dotted path (``base_rate_curve[2].rate_bps``), so the
    bank can fix its file without reading the parser.
    """

    def __init__(self, where: str, field: str, detail: str) -> None:
        self.where = where
        self.field = field
        self.detail = detail
        super().__init__(f"pricing policy {where}: {field}: {detail}")


class QuoteRequestError(ScoringError):
    """A request for a price is malformed: a field is missing, of the wrong type, or out of bounds."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"quote request: {field}: {detail}")


class PolicyMismatch(ScoringError):
    """Recorded pricing inputs name a policy other than the one given to recompute them with."""

    def __init__(self, recorded: str, given: str) -> None:
        self.recorded = recorded
        self.given = given
        super().__init__(f"the inputs were priced with policy {recorded}, not with the policy given ({given})")
