"""The interpreter's recursion limit, held where C code that recurses stays within its stack.

``py_ecc`` (imported by eth-account, so by every service) raises the limit to 100,000, and
py-evm (the embedded chain) to 12,288; past roughly 80,000 levels the C JSON decoder overflows
the stack and the process dies with a segfault (see ``api.json_input``). ``api.errors.install``
calls :func:`sane_recursion_limit` for every service's app, after those imports have run.
"""

from __future__ import annotations

import sys

#: The recursion limit the services run with. Python's default is 1,000; this leaves room for
#: py-evm's nested EVM calls on the embedded chain and Hypothesis's own stack guard in tests,
#: while C code that recurses this deep (the JSON decoder takes ~100 bytes of stack a level,
#: ``repr`` a few hundred) stays within a megabyte or two of the 8 MB main and worker stacks.
RECURSION_LIMIT = 4000


def sane_recursion_limit() -> int:
    """Lower the interpreter's recursion limit to :data:`RECURSION_LIMIT` if an import raised it
    (never raise it); returns the limit now in force."""
    if sys.getrecursionlimit() > RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    return sys.getrecursionlimit()
