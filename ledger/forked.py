"""What a forked reader process does first, and how its errors cross the pipe (the indexer's and the audit's).

Both readers are forked from the process that writes (the indexer) or replays (the audit), which may be an
API worker with threads, pooled database connections and HTTP sessions. The child keeps none of them:
``leave_inherited`` closes every descriptor but the standard ones and its pipe, so that nothing of the
parent outlives it or is shared with it, and freezes the objects it inherited out of the garbage
collector's reach (their finalisers would close descriptors that are no longer theirs). An exception the
reader meets is pickled to the parent; ``portable`` keeps it as it is when it survives that, else gives
the parent an error of its own package that names it.
"""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Callable


def leave_inherited(pipe: int) -> None:
    """In a forked child: close every inherited descriptor but 0, 1, 2 and ``pipe``; freeze what it inherited."""
    gc.freeze()
    low = 0
    for fd in [*sorted({0, 1, 2, pipe}), 1 << 20]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1


def portable(exc: BaseException, wrap: Callable[[str], Exception]) -> BaseException:
    """``exc`` if it survives pickling, else ``wrap`` of a sentence naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return wrap(f"{type(exc).__name__}: {exc}")
    return exc
