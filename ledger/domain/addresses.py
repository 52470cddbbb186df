"""Addresses as the ledger stores and compares them: EIP-55 checksummed strings."""

from __future__ import annotations

from functools import lru_cache

from eth_utils import to_checksum_address


@lru_cache(maxsize=4096)
def address(value: str) -> str:
    """The EIP-55 form of ``value``: how the models, the audit and the wire decoders store and compare every address."""
    return str(to_checksum_address(value))
