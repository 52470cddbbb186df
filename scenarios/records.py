"""What a play records besides its transactions: where on chain it stood, and what the chain refused.

``Checkpoint`` (a block and its timestamp) bounds the play and its observation period; ``Refusal`` is a
bad actor's attempt that was mined and reverted. The player makes them (``scenarios.player``), the play
returns them (``scenarios.play``), the recovery finds them again from the chain (``scenarios.recover``) and
``scenarios.truth`` writes them into the world's files. The play imports ``truth`` to write those files, so
the values live here, in a module that imports nothing from ``scenarios``: ``truth`` needs no import of the
play, not even for type checking, and the two form no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Checkpoint:
    """A block and its timestamp: where a play started, where its observation period ended, where it ended."""

    block: int
    timestamp: int

    def to_json(self) -> dict[str, int]:
        return {"block": self.block, "timestamp": self.timestamp}


@dataclass(frozen=True)
class Refusal:
    """A bad actor's attempt, mined and reverted: who sent it, what, and the contract's error."""

    actor: str
    scheme: str  # second_sale | duplicate_invoice
    tx_hash: str
    block: int
    error: str | None
    error_args: dict[str, Any]
    piece_id: int = 0
    root_id: int = 0

    def to_json(self) -> dict[str, Any]:
        args = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in self.error_args.items()}
        return {
            "actor": self.actor,
            "scheme": self.scheme,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "error": self.error,
            "error_args": args,
            "piece_id": self.piece_id,
            "root_id": self.root_id,
        }
