"""``ledger.eth.signatures``: a key's signature by ECDSA as the contracts take it, a contract's by its own
``isValidSignature`` (ERC-1271), where a revert, a short answer or any other word is a refusal.

One in-process chain for the module: the answers do not depend on the backend (the contract tests run the
same wallet on both, ``tests/contracts/test_contract_wallets.py``)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from ledger.eth import signatures
from ledger.eth.artifacts import Artifact
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.eth.signatures import ContractSignatureRefused, MalformedSignature, WrongSigner
from tests.support.escrow import high_s
from tests.support.multisig import Multisig, deploy_multisig, owner_keys

DIGEST = keccak(text="a digest to sign")


def _answering(runtime: bytes) -> Artifact:
    """A contract whose every call returns what ``runtime`` returns: init code that copies it out."""
    assert len(runtime) < 256
    init = bytes([0x60, len(runtime), 0x80, 0x60, 11, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3])
    return Artifact("Answering", "", [], (init + runtime).hex(), runtime.hex(), {}, "", "")


def _returns_word(word: bytes) -> bytes:
    """PUSH32 word, MSTORE at 0, RETURN 32 bytes."""
    return b"\x7f" + word + bytes([0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3])


def _returns_bytes4_only(value: bytes) -> bytes:
    """The magic value as 4 bytes, not an ABI word (a contract with a hand-rolled return)."""
    return b"\x7f" + value.ljust(32, b"\x00") + bytes([0x60, 0x00, 0x52, 0x60, 0x04, 0x60, 0x00, 0xF3])


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.embedded(errors=ErrorDecoder())


@pytest.fixture(scope="module")
def wallet(chain: Chain) -> Multisig:
    assert chain.accounts is not None
    return deploy_multisig(chain, chain.accounts["admin"], owner_keys("verifier"))


def _deploy(chain: Chain, runtime: bytes) -> str:
    assert chain.accounts is not None
    address = chain.deploy(_answering(runtime), [], chain.accounts["admin"])["contractAddress"]
    assert address is not None
    return str(address)


def test_a_keys_signature_is_checked_as_ecdsa_try_recover_checks_it(chain: Chain) -> None:
    key, other = Account.from_key(keccak(text="verifier key")), Account.from_key(keccak(text="verifier other"))
    good = bytes(Account.unsafe_sign_hash(DIGEST, key.key).signature)
    signatures.verify(chain, key.address, DIGEST, good)
    with pytest.raises(WrongSigner) as wrong:
        signatures.verify(chain, other.address, DIGEST, good)
    assert wrong.value.recovered == key.address
    for malformed in (high_s(good), good[:64], good[:64] + b"\x01"):
        with pytest.raises(MalformedSignature):
            signatures.verify(chain, key.address, DIGEST, malformed)


def test_a_personal_sign_digest_is_eip191s(chain: Chain) -> None:
    key = Account.from_key(keccak(text="verifier key"))
    signed = Account.sign_message(encode_defunct(text="sign in"), key.key)
    assert signatures.personal_digest("sign in") == bytes(signed.message_hash)
    signatures.verify(chain, key.address, signatures.personal_digest("sign in"), bytes(signed.signature))


def test_a_wallet_decides_its_own_signatures(chain: Chain, wallet: Multisig) -> None:
    assert signatures.has_code(chain, wallet.address)
    assert signatures.is_valid_signature(chain, wallet.address, DIGEST, wallet.sign(DIGEST))
    with pytest.raises(ContractSignatureRefused) as one:
        signatures.verify(chain, wallet.address, DIGEST, wallet.sign(DIGEST, wallet.owners[0]))
    assert "MultisigWalletTooFewSignatures" in one.value.reason
    # An owner's own ECDSA signature of the digest is not the wallet's signature.
    owner_sig = bytes(Account.unsafe_sign_hash(DIGEST, wallet.owners[0].key).signature)
    assert not signatures.is_valid_signature(chain, wallet.address, DIGEST, owner_sig)


@pytest.mark.parametrize(
    ("runtime", "valid"),
    [
        (_returns_word(signatures.MAGIC_VALUE.ljust(32, b"\x00")), True),  # says yes to anything: its call
        (_returns_word(b"\xff" * 32), False),
        (_returns_word(b"\x00" * 28 + signatures.MAGIC_VALUE), False),  # right-aligned: not a bytes4
        (_returns_bytes4_only(signatures.MAGIC_VALUE), False),  # not a whole ABI word
        (bytes([0x60, 0x00, 0x80, 0xFD]), False),  # REVERT(0, 0)
        (bytes([0xFE]), False),  # INVALID: all the gas the call was given, then a failure
    ],
    ids=["magic", "another word", "right-aligned", "four bytes", "revert", "invalid opcode"],
)
def test_a_contracts_answer_counts_only_as_the_erc1271_magic_word(chain: Chain, runtime: bytes, valid: bool) -> None:
    address = _deploy(chain, runtime)
    assert signatures.is_valid_signature(chain, address, DIGEST, b"\x01" * 65) is valid
