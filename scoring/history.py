"""The scorer's input: a verified event history as of a point in time, whatever it was read from.

Both sources (the indexer's SQL in ``scoring.source``, the chain's own logs in
``scoring.chain_source``) hand the feature builder the same thing: the decoded events of the
ledger's contracts in chain order, each with its block, log position and block time, every one
at or before the as-of point, plus the refused calls (mined, reverted transactions to the
ledger) when the source can see them. The same events give the same features, which is how an
auditor recomputes a published limit from chain data alone.

What "verified" means here: an event is only read once its block is at the configured
confirmation depth; a ``MilestoneAttested`` event exists only once a quorum of distinct
registered oracles of the milestone's kind signed it (the contract refuses anything less), so
each one is verified by construction; a milestone later contested by an oracle quorum
(``MilestoneContested``) stops counting; receivable trees are what the chain's events say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

#: The events the feature builder reads, by (contract, event); a source that reads in bulk
#: (``RawEvents``) reads these and no others.
SCORED_EVENTS: tuple[tuple[str, str], ...] = (
    ("Membership", "MemberAdmitted"),
    ("Membership", "MemberRolesChanged"),
    ("Membership", "MemberSuspended"),
    ("Membership", "MemberReinstated"),
    ("TradeEscrow", "OrderCreated"),
    ("TradeEscrow", "OrderCancelled"),
    ("TradeEscrow", "MilestoneAttested"),
    ("TradeEscrow", "MilestoneContested"),
    ("TradeEscrow", "OrderRefunded"),
    ("TradeEscrow", "DisputeOpened"),
    ("TradeEscrow", "GuaranteeClaimed"),
    ("Receivables", "ReceivableIssued"),
    ("Receivables", "PieceSplit"),
    ("Receivables", "PieceCreated"),
    ("Receivables", "Transfer"),
    ("Receivables", "PieceFinanced"),
    ("Receivables", "ReceivableRepaid"),
    ("Receivables", "ReceivableDefaulted"),
)


class ChainEvent(NamedTuple):
    """One decoded ledger event. ``args`` integers may be ints or decimal strings (SQL keeps wide
    integers as text): readers convert with ``int``."""

    block_number: int
    log_index: int
    timestamp: int
    contract: str
    event: str
    args: Mapping[str, Any]


class RefusedCall(NamedTuple):
    """A transaction to a ledger contract that was mined and reverted: who signed it, what it
    called and the contract's custom error (e.g. ``ReceivablesAlreadyFinanced``)."""

    block_number: int
    tx_index: int
    sender: str
    contract: str
    function: str
    error: str


@dataclass(frozen=True)
class RawEvents:
    """The scored events (``SCORED_EVENTS``) of a history as columns, read in bulk: no object per row.

    ``codes[i]`` indexes ``SCORED_EVENTS`` and ``times[i]`` is the block time of the i-th scored event
    in chain order; ``args[code]`` holds the arguments (as stored) of that type's events in chain order,
    as JSON arrays (text or UTF-8 bytes), one per part the source read, in order (none when there are
    no such events): a decoder per type reads them.
    The feature builder decodes them (``scoring.features``), or falls back to ``History.events``
    when it cannot.
    """

    codes: np.ndarray
    times: np.ndarray
    args: tuple[tuple[str | bytes, ...], ...]


@dataclass(frozen=True)
class History:
    """Everything a decision as of (``as_of_block``, ``as_of_time``) may use, and nothing after it.

    ``refused`` is None when the source cannot see refused calls (a database indexed before the
    ``refused_calls`` table existed, or the chain's logs alone): decisions then say so.
    """

    chain_id: int
    as_of_block: int
    as_of_time: int
    events: Sequence[ChainEvent]
    refused: Sequence[RefusedCall] | None
    source: str
    #: The same events' scored subset as columns, when the source read them in bulk (``RawEvents``).
    raw: RawEvents | None = field(default=None, compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "as_of_block": self.as_of_block,
            "as_of_time": self.as_of_time,
            "events": len(self.events),
            "refused_calls": None if self.refused is None else len(self.refused),
            "source": self.source,
        }
