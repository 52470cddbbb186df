"""Automatic garbage collection paused around bulk work: the indexer's pages, the audit's replay, its SQL
comparison.

These make tens of thousands of short-lived objects (rows, decoded logs, model records) that die by
reference count, or live to the end of the run; the collector's passes over them, set off by every
700 allocations, cost as much as the work itself (a fifth of the replay's CPU, measured). A caller
that keeps objects in cycles collects them itself between batches (the indexer does, every 16 pages).
The collector is switched back on afterwards only if it was on before: a paused region inside
another leaves it off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection inside the ``with`` block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
