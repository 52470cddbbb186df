"""Whether a party signed a digest: one check for keys (ECDSA) and contract wallets (ERC-1271).

The contracts decide who signed as OpenZeppelin's ``SignatureChecker`` does: an address **without
code** is a key, and its signature must be a 65-byte r‖s‖v that ``ECDSA.tryRecover`` takes (v 27 or
28, s in the lower half) and that recovers to it; an address **with code** is a contract wallet (a
Safe, a smart account), and it alone says whether ``signature`` is its signature of ``digest``:
``isValidSignature(bytes32,bytes)`` must answer the ERC-1271 magic value ``0x1626ba7e``. A wallet
that reverts, answers anything else, or answers garbage has refused the signature.

``verify`` makes the same decision off chain, so what the API accepts is what the chain will accept
(EIP-712 documents, whose digest the contracts compute) and so that a contract wallet can sign in
(the EIP-191 digest of the challenge, ``personal_digest``). It reads the chain: ``eth_getCode`` for
the signer, then one ``eth_call`` of ``isValidSignature`` when there is code, both at the latest
block (a wallet's answer can change: owners change, a message gets revoked). A node that does not
answer raises ``ledger.errors.ChainUnavailable`` (the API's 503), never a refusal: whether the
signature is good is then unknown, not false.

Errors: ``SignatureInvalid`` (a ``LedgerError``) and its kinds, which keep the signer and, for a
key, whom the signature recovers to.
"""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import Web3RPCError
from web3.types import TxParams

from ledger.errors import LedgerError
from ledger.eth import eip712
from ledger.eth.chain import REVERTS, Chain, revert_data
from ledger.eth.keccak import keccak

#: ``bytes4(keccak256("isValidSignature(bytes32,bytes)"))``: the selector, and what a wallet answers for yes.
MAGIC_VALUE = bytes.fromhex("1626ba7e")
#: Gas for one ``isValidSignature`` call: a Safe checks a few owners' signatures with tens of thousands;
#: the bound keeps a wallet that loops from costing the node a block's worth of gas per sign-in.
CALL_GAS = 1_000_000


class SignatureInvalid(LedgerError):
    """``signature`` is not ``signer``'s signature of the digest; ``reason`` says why."""

    def __init__(self, signer: str, reason: str, recovered: str | None = None) -> None:
        self.signer = signer
        self.reason = reason
        self.recovered = recovered
        super().__init__(f"not a signature of {signer}: {reason}")


class MalformedSignature(SignatureInvalid):
    """A key's signature that the contracts' ``ECDSA.tryRecover`` refuses: not 65 bytes, v not 27/28,
    s in the upper half of the curve order (a malleable copy), or no point."""


class WrongSigner(SignatureInvalid):
    """A key's well-formed signature that recovers to ``recovered``, not to ``signer``."""


class ContractSignatureRefused(SignatureInvalid):
    """``signer`` is a contract, and its ``isValidSignature`` reverted or did not answer the magic value."""


def personal_digest(text: str) -> bytes:
    """The EIP-191 (``personal_sign``) digest of ``text``: what a wallet signs for a sign-in message."""
    signable = encode_defunct(text=text)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def has_code(chain: Chain, address: str) -> bool:
    """Whether ``address`` holds code at the latest block (a contract wallet, not a key)."""
    return len(chain.w3.eth.get_code(to_checksum_address(address))) > 0


def verify(chain: Chain, signer: str, digest: bytes, signature: bytes) -> None:
    """Return if ``signature`` is ``signer``'s signature of ``digest`` as the contracts decide it (see the
    module notes); raise ``SignatureInvalid`` if not, ``ChainUnavailable`` if the node cannot say."""
    signer = to_checksum_address(signer)
    if has_code(chain, signer):
        _verify_contract(chain, signer, digest, signature)
        return
    recovered = eip712.signer_of(digest, signature)
    if recovered is None:
        raise MalformedSignature(
            signer, "not a 65-byte r||s||v signature with v 27 or 28 and a low s that recovers to a key"
        )
    if recovered != signer:
        raise WrongSigner(signer, f"signed by {recovered}", recovered)


def is_valid_signature(chain: Chain, signer: str, digest: bytes, signature: bytes) -> bool:
    """``verify`` as a yes or no (``ChainUnavailable`` still raises: unknown is not no)."""
    try:
        verify(chain, signer, digest, signature)
    except SignatureInvalid:
        return False
    return True


def _verify_contract(chain: Chain, wallet: str, digest: bytes, signature: bytes) -> None:
    data = MAGIC_VALUE + abi_encode(["bytes32", "bytes"], [digest, signature])
    params: TxParams = {"to": wallet, "data": HexBytes(data), "gas": CALL_GAS}
    try:
        answer = bytes(chain.w3.eth.call(params, "latest"))
    except REVERTS as exc:
        raise ContractSignatureRefused(wallet, f"its isValidSignature reverted ({_revert_text(chain, exc)})") from exc
    except Web3RPCError as exc:
        # The node answered, with an error about the call (out of gas, invalid opcode): the wallet's doing.
        raise ContractSignatureRefused(wallet, f"its isValidSignature failed ({exc})") from exc
    # What SignatureChecker reads: the first word, as a bytes32, equal to the selector left-aligned.
    if answer[:32] != MAGIC_VALUE.ljust(32, b"\x00"):
        raise ContractSignatureRefused(
            wallet, f"its isValidSignature answered 0x{answer[:32].hex()}, not the ERC-1271 magic value"
        )


def _revert_text(chain: Chain, exc: BaseException) -> str:
    return str(chain.errors.decode(revert_data(exc)))
