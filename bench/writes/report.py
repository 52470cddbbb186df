"""The write-path benchmark's report: the one JSON object a run prints as its last stdout line.

Its top-level ``value``, ``ceiling`` and ``ratio`` are the order lifecycles' (ops/s against the
ceiling's tx/s, both measured in the same run on the same anvil), or the receivables' with
``--only receivables``; ``baseline`` is plain web3.py's pace, for reference, and ``target`` the
goal. ``details`` says how each figure was measured, what the machine was doing, and holds the
receivables' own figures under ``details.receivables``.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from writes.plan import TARGET, log


def report(
    orders: dict[str, Any] | None, receivables: dict[str, Any] | None, baseline: dict[str, Any], total: float
) -> dict[str, Any]:
    """The JSON object of a run that started (``time.perf_counter()``) at ``total``; logs the figures."""
    environment = {
        "eth_hash_backend": os.environ.get("ETH_HASH_BACKEND"),
        "cpus": os.cpu_count(),
        "load_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "total_s": round(time.perf_counter() - total, 1),
    }
    if orders is not None:
        value, ceiling_value, ops = orders["value"], orders["ceiling"], orders["n"]
        log(f"value {value:.1f} ops/s, ceiling {ceiling_value:.1f} tx/s, baseline {baseline['ops_per_s']:.1f} ops/s")
        details = {
            **orders["details"],
            "baseline": "web3 contract.functions.f().transact() from anvil's unlocked accounts + "
            "wait_for_transaction_receipt (default polling), the same lifecycles one operation at a time, on a "
            "separate automining anvil",
            "baseline_run": {k: round(v, 2) if isinstance(v, float) else v for k, v in baseline.items()},
            "client": orders["client"],
            **environment,
        }
        if receivables is not None:
            details["receivables"] = receivables
        top = {"value": round(value, 1), "ceiling": round(ceiling_value, 1), "ratio": round(value / ceiling_value, 3)}
    else:
        assert receivables is not None
        top = {k: receivables[k] for k in ("value", "ceiling", "ratio")}
        ops = receivables["n"]
        details = {
            "only": "receivables: the top-level figures are the receivables'",
            "receivables": receivables,
            "baseline_run": baseline,
        }
        details.update(environment)
    if receivables is not None:
        log(
            f"receivables {receivables['value']:.1f} ops/s, ceiling {receivables['ceiling']:.1f} tx/s, "
            f"ratio {receivables['ratio']:.3f}"
        )
    return {
        "bench": "write_path",
        "unit": "ops/s",
        **top,
        "baseline": round(baseline["ops_per_s"], 1),
        "target": TARGET,
        "n": ops,
        "details": details,
    }
