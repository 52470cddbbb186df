"""Keccak-256 on the hot paths: pysha3 where installed (3 us), eth-hash's choice otherwise."""

from __future__ import annotations

from eth_hash.auto import keccak as _eth_hash_keccak

try:
    # safe-pysha3 (eth-tester's dependency) hashes in 3 us; eth-hash picks pycryptodome
    # first, 13 us, and a batch hashes four times per item.
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return bytes(_keccak_256(data).digest())

except ImportError:  # pragma: no cover - without pysha3, eth-hash's choice

    def keccak(data: bytes) -> bytes:
        return _eth_hash_keccak(data)
