"""The indexer's errors: a reorg deeper than its window, a deployment that is not the database's.

The reader (``ledger.index.reader``) raises ``IndexerError`` too (the node's answers kept
changing, an error that does not survive pickling); the writer's lock has its own
(``ledger.index.sql.lock.DatabaseLocked``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.errors import LedgerError

__all__ = ["DeploymentChanged", "FinalityViolated", "IndexerError", "ReorgTooDeep"]


class IndexerError(LedgerError):
    """Root of the indexer's own errors."""


class ReorgTooDeep(IndexerError):
    """The chain changed below every block the indexer keeps: nothing was written."""

    def __init__(self, chain_id: int, cursor: int, oldest: int, window: int) -> None:
        self.chain_id = chain_id
        self.cursor = cursor
        self.oldest = oldest
        self.window = window
        super().__init__(
            f"chain {chain_id} reorganised deeper than the indexer's window: none of the blocks it keeps "
            f"({oldest}..{cursor}, window {window}) is on the node's chain any more; nothing was written. "
            "Re-index into a fresh database (or raise the window if such reorgs are expected)"
        )


class FinalityViolated(IndexerError):
    """The node replaced a block the network calls final: on a finality network that cannot happen, so
    nothing was written and the indexer stops rather than follow the node's new chain."""

    def __init__(self, chain_id: int, block: int, head: int, finality_depth: int) -> None:
        self.chain_id = chain_id
        self.block = block
        self.head = head
        self.finality_depth = finality_depth
        super().__init__(
            f"chain {chain_id} replaced block {block}, which was final ({head - block} blocks below the head {head}; "
            f"the network file's finalityDepth is {finality_depth}); nothing was written. A final block cannot "
            "change on a healthy network: check the node (is it on the network the file names? did its "
            "validators fork?) before indexing again"
        )


class DeploymentChanged(IndexerError):
    """The database indexes other contracts than the deployment names now."""

    def __init__(self, chain_id: int, indexed: Mapping[str, str], deployed: Mapping[str, str]) -> None:
        self.indexed = dict(indexed)
        self.deployed = dict(deployed)
        changed = sorted(k for k in {*indexed, *deployed} if indexed.get(k) != deployed.get(k))
        super().__init__(
            f"the database indexes other contracts on chain {chain_id} than the deployment record names "
            f"(changed: {', '.join(changed)}); index the new deployment into a fresh database"
        )
