"""Wire code: ABI encoding, RLP and signing, EIP-712, JSON-RPC, calldata and revert decoding,
the chain connection, calls, event and history reads, storage proofs.

It knows Ethereum, not the ledger's contracts: contract clients (``ledger.clients``) and
the toolchain build on it.
"""
