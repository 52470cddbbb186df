"""A Safe-like 2-of-3 contract wallet for the tests of contract-wallet parties (ERC-1271).

The wallet's source is ``tests/contracts/wallets/MultisigWallet.sol``: test code, compiled here with
the project's pinned compiler (``ledger.toolchain.compiler.compile_sources``, the same standard-JSON
input and backend choice as ``contracts/``), never part of ``contracts/`` and so never deployed by
``scf deploy``. The artifact is cached on disk under ``build/test-wallets/`` by the hash of the
compiler input, so xdist workers compile it once between them.

The wallet signs a digest the way a Safe with its CompatibilityFallbackHandler does: each owner
signs the wallet's EIP-712 ``SafeMessage(bytes message)`` over ``abi.encode(digest)`` in the
wallet's own domain (chain id and address), and the signatures are concatenated in ascending order
of owner address. ``Multisig.sign`` produces exactly that; ``Multisig.sign_as`` concatenates
signatures in the order given (a duplicated owner, a wrong order) for the refusals.
``Multisig.execute`` has the wallet send a transaction of its own (join, approve, fund, issue) on two
owners' signatures of a ``SafeTx``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger import paths
from ledger.eth.artifacts import Artifact
from ledger.eth.calls import Call
from ledger.eth.chain import Chain
from ledger.eth.transactions import signing_key
from ledger.toolchain import compiler

SOURCE_PATH = Path(__file__).resolve().parents[1] / "contracts" / "wallets" / "MultisigWallet.sol"
#: The unit name the wallet compiles under (the compiler keeps artifacts of ``contracts/`` units only).
UNIT = compiler.PROJECT_PREFIX + "test-wallets/MultisigWallet.sol"
NAME = "MultisigWallet"
THRESHOLD = 2
MAGIC_VALUE = bytes.fromhex("1626ba7e")

_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
_SAFE_MESSAGE_TYPEHASH = keccak(text="SafeMessage(bytes message)")
_SAFE_TX_TYPEHASH = keccak(text="SafeTx(address to,uint256 value,bytes data,uint256 nonce)")


@cache
def wallet_artifact() -> Artifact:
    """The compiled wallet, from ``build/test-wallets/`` when this source was compiled before."""
    sources = {UNIT: SOURCE_PATH.read_text(encoding="utf-8")}
    digest = compiler.input_hash(compiler.standard_input(sources))
    cached = paths.build_dir() / "test-wallets" / f"{digest}.json"
    if cached.is_file():
        return Artifact.from_json(json.loads(cached.read_text()))
    _version, artifacts, _warnings = compiler.compile_sources(sources, compiler.choose_backend())
    artifact = artifacts[NAME]
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")  # parallel workers may write it at once
    tmp.write_text(json.dumps(artifact.to_json({}, digest)))
    tmp.replace(cached)
    return artifact


def _sign_digest(account: LocalAccount, digest: bytes) -> bytes:
    signature = signing_key(account).sign_recoverable(digest, hasher=None)
    return signature[:64] + bytes((signature[64] + 27,))


@dataclass(frozen=True)
class Multisig:
    """One deployed wallet: its address, its three owners (keys that never need ether), its chain."""

    chain: Chain
    address: str
    owners: tuple[LocalAccount, LocalAccount, LocalAccount]

    @property
    def contract(self) -> Contract:
        return self.chain.contract(wallet_artifact(), self.address)

    def domain_separator(self) -> bytes:
        return keccak(
            abi_encode(["bytes32", "uint256", "address"], [_DOMAIN_TYPEHASH, self.chain.chain_id, self.address])
        )

    def message_hash(self, digest: bytes) -> bytes:
        """What the owners sign for ``digest``: the wallet's EIP-712 ``SafeMessage`` over ``abi.encode(digest)``."""
        struct = keccak(abi_encode(["bytes32", "bytes32"], [_SAFE_MESSAGE_TYPEHASH, keccak(digest)]))
        return keccak(b"\x19\x01" + self.domain_separator() + struct)

    def transaction_hash(self, to: str, value: int, data: bytes, nonce: int) -> bytes:
        struct = keccak(
            abi_encode(
                ["bytes32", "address", "uint256", "bytes32", "uint256"],
                [_SAFE_TX_TYPEHASH, to_checksum_address(to), value, keccak(data), nonce],
            )
        )
        return keccak(b"\x19\x01" + self.domain_separator() + struct)

    def sign(self, digest: bytes, *owners: LocalAccount) -> bytes:
        """The wallet's signature of ``digest`` by ``owners`` (the first two by default), sorted by address."""
        chosen = owners or self.owners[:THRESHOLD]
        return self.sign_as(digest, sorted(chosen, key=lambda a: int(a.address, 16)))

    def sign_as(self, digest: bytes, signers: Sequence[LocalAccount]) -> bytes:
        """``signers``' signatures of the ``SafeMessage`` for ``digest``, concatenated in the order given."""
        hashed = self.message_hash(digest)
        return b"".join(_sign_digest(account, hashed) for account in signers)

    def nonce(self) -> int:
        return int(self.contract.functions.nonce().call())

    def execute(
        self, to: str, data: bytes, submitter: LocalAccount, *, value: int = 0, signers: Sequence[LocalAccount] = ()
    ) -> TxReceipt:
        """The wallet calls ``to`` with ``data``, on the signatures of ``signers`` (the first two owners by
        default, sorted by address) for the current nonce; ``submitter`` pays the gas. A revert of the
        inner call raises its decoded ``ContractReverted`` (the wallet passes its revert data on)."""
        chosen = sorted(signers or self.owners[:THRESHOLD], key=lambda a: int(a.address, 16))
        hashed = self.transaction_hash(to, value, data, self.nonce())
        signatures = b"".join(_sign_digest(account, hashed) for account in chosen)
        fn = self.contract.functions.execTransaction(to_checksum_address(to), value, data, signatures)
        return self.chain.transact(fn, submitter)

    def send(self, call: Call, submitter: LocalAccount) -> TxReceipt:
        """A ledger client's unsigned ``Call``, sent by the wallet itself (see ``execute``)."""
        return self.execute(call.to, call.data, submitter, value=call.value)

    def is_valid_signature(self, digest: bytes, signature: bytes) -> bytes:
        """The wallet's own answer (``ContractReverted`` with its error when it refuses)."""
        return bytes(self.chain.call(self.contract.functions.isValidSignature(digest, signature)))


def owner_keys(label: str) -> tuple[LocalAccount, LocalAccount, LocalAccount]:
    """Three deterministic keys (no dev accounts) to own the wallet called ``label``."""
    from eth_account import Account

    keys = [
        Account.from_key(hashlib.sha256(f"scf-ledger-tests:multisig:{label}:{i}".encode()).digest()) for i in range(3)
    ]
    return keys[0], keys[1], keys[2]


def deploy_multisig(
    chain: Chain, deployer: LocalAccount, owners: tuple[LocalAccount, LocalAccount, LocalAccount]
) -> Multisig:
    """Deploy a 2-of-3 wallet of ``owners`` from ``deployer``; its custom errors join the chain's decoder."""
    artifact = wallet_artifact()
    chain.errors.add_abi(artifact.name, artifact.abi)
    receipt = chain.deploy(artifact, [[o.address for o in owners]], deployer)
    address = receipt["contractAddress"]
    assert address is not None
    return Multisig(chain, to_checksum_address(address), owners)
