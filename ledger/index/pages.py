"""What passes between the indexer's reader and its writer: cursors, pages, the reader's messages.

A cursor (``_Cursor``) is where the database stands: the last block written (number and hash),
the rolling history digest after it and the event count. A page (``_Prepared``) goes on from one
cursor (``parent``) to block ``high``, and the writer applies it only on the cursor it follows
(the writer folds the digest on, so the page's own end names no digest). The reader says what it
found as a ``_Message``: a page, nothing new yet, a reorg or an error, under the generation of the
start it answers (the writer skips what was read before it rolled back). A page is plain values
(``marshal``-able, ``as_fields``), anything else picklable: a reader process sends them through a pipe.

How many blocks a page spans is decided here too (``next_span``): the reader applies it between
the pages it reads ahead, ``Indexer.step`` between the pages it reads itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.eth.history import MAX_SPAN

#: Events per page the range adapts to; the first page spans ``START_SPAN`` blocks.
PAGE_EVENTS = 5_000
START_SPAN = 16


@dataclass(frozen=True)
class _Cursor:
    number: int
    hash: str
    digest: str
    count: int


#: A kept block's header as a page carries it: (number, hash, parent hash, timestamp).
KeptHeader = tuple[int, str, str, int]
#: A projected event as a page carries it: ``Event``'s fields in order, as a plain tuple (marshal-able).
EventFields = tuple[str, str, dict[str, Any], int, int, str, str, int]


@dataclass
class _Prepared:
    """A page read, checked and made ready to write: plain data only (a reader process sends it with
    ``marshal``, several times cheaper than pickling objects, on the side that has the most to do).

    The rolling history digest is not in it: the writer folds it on from the rows (``parent`` names the
    block and event count the page follows, ``end_hash`` the hash of ``high``), which balances the work
    of the two sides (the reader also fetches and decodes) and keeps the digest next to the cursor."""

    parent: _Cursor  # the cursor it follows (the reader's: number, hash and count; its digest is not read)
    end_hash: str  # the hash of block ``high``
    low: int
    high: int
    rows: list[tuple[Any, ...]]  # events rows, in ``_EVENT_COLUMNS`` order, args as JSON text
    events: list[EventFields]  # the events projections handle, in chain order
    headers: list[KeptHeader]  # the kept blocks, in number order (the writer adds the digest and count after each)
    refused: list[dict[str, Any]] = field(default_factory=list)  # refused_calls rows: reverted calls of the ledger

    def end(self) -> _Cursor:
        """The reader's cursor after the page (no digest: the writer's has it)."""
        return _Cursor(self.high, self.end_hash, "", self.parent.count + len(self.rows))

    def as_fields(self) -> tuple[Any, ...]:
        """The page as a tuple of plain values (``marshal``-able), ``of_fields`` makes it again."""
        p = self.parent
        return (
            (p.number, p.hash, p.digest, p.count),
            self.end_hash,
            self.low,
            self.high,
            self.rows,
            self.events,
            self.headers,
            self.refused,
        )

    @classmethod
    def of_fields(cls, fields: tuple[Any, ...]) -> _Prepared:
        parent, end_hash, low, high, rows, events, headers, refused = fields
        return cls(_Cursor(*parent), end_hash, low, high, rows, events, headers, refused)


@dataclass
class _Message:
    """What the reader says: a page, nothing new yet (idle), a reorg, or an error."""

    kind: Literal["page", "idle", "reorg", "error"]
    generation: int
    head: int = 0
    target: int = 0
    page: _Prepared | None = None
    error: BaseException | None = None


class _Retry(Exception):
    """The chain moved while a page was read: read it again."""


def next_span(span: int, events: int, blocks: int, max_span: int = MAX_SPAN) -> int:
    """The next page's block range after ``events`` events in ``blocks`` blocks with range ``span``:
    aimed at ``PAGE_EVENTS`` events from that density, at most doubling, at least halving."""
    if events <= 0:
        return min(max_span, span * 2)
    wanted = blocks * PAGE_EVENTS // events
    return max(1, min(max_span, span * 2, max(span // 2, wanted)))
