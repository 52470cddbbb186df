"""Test-only crash points: ``SCF_FAULT=<point>`` makes the process kill itself (SIGKILL) at that point.

The recovery tests need a real ``scf serve`` to die exactly between two effects (a relayer
top-up and the broadcast it pays for; a stored document and the answer that names it), as a
kill -9 or a power cut would. The hook is inert unless the variable names the point, costs one
environment lookup when it does not, and is never set by anything in the project but those
tests. The points:

``after-top-up``
    ``relayer.Transactions.submit``: the top-up is mined and recorded; the party's transaction
    is recorded but not broadcast.
``after-document-store``
    ``routes/documents.upload``: the document is stored; no answer has been sent or recorded.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "SCF_FAULT"
POINTS = frozenset({"after-top-up", "after-document-store"})


def crash_point(point: str) -> None:
    """Die here, at once and without cleanup, if ``SCF_FAULT`` names ``point``."""
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}; known: {', '.join(sorted(POINTS))}")
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
