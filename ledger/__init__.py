"""Everything that talks to the chain: compile, deploy, clients, batches, indexer, replay."""

import importlib.util
import os

# eth-hash picks pycryptodome when nothing says otherwise; pysha3 (installed with py-evm)
# hashes about four times faster, and keccak is on every hot path of the clients.
if importlib.util.find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
