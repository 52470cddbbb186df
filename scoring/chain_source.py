"""Reading the verified history straight from the chain's logs (no SQL): the auditor's source.

``ledger.eth.history.fetch_logs`` pages through ``eth_getLogs`` for the ledger's contracts and
``LogDecoder`` decodes them into the same (contract, event, args) the indexer stores, so the
feature builder gives the same features from either source. Block times come with the logs on
anvil (``blockTimestamp``) and from block headers elsewhere.

Refused calls leave no log: from logs alone they cannot be seen, and decisions made from this
source say so, unless the caller supplies them (``refused``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.eth.chain import Chain
from ledger.eth.history import LogDecoder, fetch_logs
from scoring.errors import NoHistory
from scoring.history import ChainEvent, History, RefusedCall


def block_time(chain: Chain, number: int) -> int:
    return int(chain.w3.eth.get_block(number)["timestamp"])


def block_at(chain: Chain, timestamp: int, *, head: int | None = None) -> int:
    """The last block whose timestamp is at or before ``timestamp`` (binary search over headers)."""
    high = chain.block_number if head is None else head
    if block_time(chain, 0) > timestamp:
        raise NoHistory(f"no block at or before time {timestamp}")
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if block_time(chain, middle) <= timestamp:
            low = middle
        else:
            high = middle - 1
    return low


def decision_point(chain: Chain, final_block: int) -> tuple[int, int]:
    """(block, time) of a decision to publish, made with ``final_block`` the last final block.

    The time is one second before ``final_block``'s and the block the last one at or before it:
    several blocks may share a timestamp (a node mining on demand), and stepping back one second
    leaves none of them on the far side, so ``block_at(time)`` finds exactly this block again.
    """
    when = block_time(chain, final_block) - 1
    return block_at(chain, when, head=final_block), when


class ChainEvents:
    """Every ledger event up to a block, read once; histories as of earlier points are slices of it."""

    def __init__(
        self,
        chain: Chain,
        addresses: Mapping[str, str],
        abis: Mapping[str, Sequence[Mapping[str, Any]]],
        to_block: int,
        *,
        from_block: int = 0,
    ) -> None:
        self.chain = chain
        self.chain_id = chain.chain_id
        decoder = LogDecoder(addresses, abis)
        times: dict[int, int] = {}
        self.events: list[ChainEvent] = []
        for _, _, raws in fetch_logs(chain, decoder.addresses, from_block, to_block):
            for log in decoder.decode_many(raws):
                raw = log.raw
                stamp = raw.block_timestamp
                if stamp is None:
                    stamp = times.get(raw.block_number)
                    if stamp is None:
                        stamp = times[raw.block_number] = block_time(chain, raw.block_number)
                self.events.append(
                    ChainEvent(raw.block_number, raw.log_index, stamp, log.contract, log.event, log.args)
                )
        self.blocks = [e.block_number for e in self.events]
        self.to_block = to_block

    def history(
        self, as_of_block: int, refused: Sequence[RefusedCall] | None = None, *, as_of_time: int | None = None
    ) -> History:
        if as_of_block > self.to_block:
            raise NoHistory(f"events were read up to block {self.to_block}, not {as_of_block}")
        cut = bisect.bisect_right(self.blocks, as_of_block)
        return History(
            self.chain_id,
            as_of_block,
            block_time(self.chain, as_of_block) if as_of_time is None else as_of_time,
            self.events[:cut],
            None if refused is None else [c for c in refused if c.block_number <= as_of_block],
            "chain",
        )
