"""Reading a transaction's event logs, as ``BatchResult.logs`` and ``eth_getLogs`` give them.

The workloads take the ids they need next (orders, receivable pieces) from the logs of the
step before and check every outcome against them; a log that is missing fails the run
rather than being counted as an operation.
"""

from __future__ import annotations

from typing import Any

from eth_utils import event_abi_to_log_topic


def event_topics(contract: Any) -> dict[str, str]:
    return {
        item["name"]: "0x" + event_abi_to_log_topic(item).hex()
        for item in contract.abi
        if item["type"] == "event" and not item.get("anonymous")
    }


def one_log(logs: list[dict[str, Any]], topic: str, what: str) -> dict[str, Any]:
    """The item's log of ``topic``; a missing one fails the benchmark."""
    for entry in logs:
        if entry["topics"] and entry["topics"][0] == topic:
            return entry
    raise RuntimeError(f"{what}: the transaction left no such event (logs: {logs})")


def data_word(entry: dict[str, Any], index: int) -> int:
    data: str = entry["data"]
    return int(data[2 + 64 * index : 2 + 64 * (index + 1)], 16)
