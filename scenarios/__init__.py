"""A synthetic multi-tier supply-chain world, played through the real ledger (contracts, oracles, signatures)."""
