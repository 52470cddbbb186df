"""Decoding a contract's events from a receipt, the same way for every client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.contract import Contract
from web3.contract.contract import ContractEvent
from web3.types import TxReceipt


@dataclass(frozen=True)
class LedgerEvent:
    """One decoded event, as the indexer and the auditor will see it."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str
    log_index: int


class EventDecoder:
    """Decodes ``contract``'s logs by their first topic: one lookup per log, no trial decoding."""

    def __init__(self, contract: Contract) -> None:
        self.address = contract.address
        self._by_topic: dict[bytes, ContractEvent] = {}
        for item in contract.abi:
            if item["type"] == "event" and not item.get("anonymous"):
                event = contract.events[item["name"]]()
                self._by_topic[bytes(HexBytes(event.topic))] = event

    def decode(self, receipt: TxReceipt) -> list[LedgerEvent]:
        """Every event of the contract in ``receipt``, in log order."""
        found = []
        for log in receipt["logs"]:
            if log["address"] != self.address or not log["topics"]:
                continue
            event = self._by_topic.get(bytes(log["topics"][0]))
            if event is None:
                continue
            decoded = event.process_log(log)
            found.append(
                LedgerEvent(
                    decoded["event"],
                    dict(decoded["args"]),
                    int(decoded["blockNumber"]),
                    HexBytes(decoded["transactionHash"]).to_0x_hex(),
                    int(decoded["logIndex"]),
                )
            )
        return found
