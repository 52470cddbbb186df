"""What passes between the indexer's reader and its writer: cursors, pages, the reader's messages.

A cursor (``_Cursor``) is where the database stands: the last block written (number and hash),
the rolling history digest after it and the event count. A page (``_Prepared``) goes from one
cursor (``parent``) to the next (``end``), and the writer applies it only on the cursor it
follows. The reader says what it found as a ``_Message``: a page, nothing new yet, a reorg or
an error, under the generation of the start it answers (the writer skips what was read before
it rolled back). All of it is picklable: a reader process sends it through a pipe.

How many blocks a page spans is decided here too (``next_span``): the reader applies it between
the pages it reads ahead, ``Indexer.step`` between the pages it reads itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.eth.history import MAX_SPAN
from ledger.index.projections import Event

#: Events per page the range adapts to; the first page spans ``START_SPAN`` blocks.
PAGE_EVENTS = 5_000
START_SPAN = 16


@dataclass(frozen=True)
class _Cursor:
    number: int
    hash: str
    digest: str
    count: int


@dataclass
class _Prepared:
    """A page read, checked and made ready to write (all of it picklable)."""

    parent: _Cursor  # the cursor it follows
    end: _Cursor  # the cursor after it
    low: int
    high: int
    rows: list[tuple[Any, ...]]  # events rows, in ``_EVENT_COLUMNS`` order, args as JSON text
    events: list[Event]  # the events projections handle, in chain order
    blocks: list[dict[str, Any]]  # the kept blocks' rows: hashes, and the digest and count after each
    refused: list[dict[str, Any]] = field(default_factory=list)  # refused_calls rows: reverted calls of the ledger


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
