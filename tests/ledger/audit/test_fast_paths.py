"""The replay's shortcuts answer as the plain paths do: the calldata decoder's unchecked reads of
head words, the memoised addresses, the direct recovery of signers."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger.eth import eip712
from ledger.eth.calldata import CalldataError, tuple_decoder
from ledger.eth.eip712 import recover_signer, signer_of

PARAMS: list[dict[str, Any]] = [
    {"name": "who", "type": "address"},
    {"name": "amount", "type": "uint96"},
    {"name": "memo", "type": "bytes"},
    {
        "name": "terms",
        "type": "tuple",
        "components": [
            {"name": "buyer", "type": "address"},
            {"name": "due", "type": "uint64"},
            {"name": "open", "type": "bool"},
            {"name": "hash", "type": "bytes32"},
            {"name": "delta", "type": "int32"},
        ],
    },
    {"name": "signatures", "type": "bytes[]"},
    {"name": "pair", "type": "uint8[2]"},
    {"name": "label", "type": "string"},
]
TYPES = ["address", "uint96", "bytes", "(address,uint64,bool,bytes32,int32)", "bytes[]", "uint8[2]", "string"]
BUYER, WHO = "0x" + "ab" * 20, "0x" + "1f" * 20
VALUES = (WHO, 7, b"\x01\x02", (BUYER, 9, True, keccak(b"h"), -3), [b"s" * 65, b"t" * 65], [1, 2], "ok")


def _outcome(decode: Any, data: bytes) -> Any:
    try:
        return decode(data, 0)
    except CalldataError as exc:
        return f"CalldataError: {exc}"


def test_the_decoder_reads_well_formed_calldata_as_eth_abi_encodes_it() -> None:
    decoded = tuple_decoder(PARAMS).decode(encode(TYPES, VALUES), 0)
    assert decoded == (
        to_checksum_address(WHO),
        7,
        b"\x01\x02",
        (to_checksum_address(BUYER), 9, True, keccak(b"h"), -3),
        (b"s" * 65, b"t" * 65),
        (1, 2),
        "ok",
    )


def test_short_calldata_fails_with_the_same_error_as_the_word_by_word_path_at_every_length() -> None:
    decoder = tuple_decoder(PARAMS)
    data = encode(TYPES, VALUES)
    for length in range(len(data) + 1):
        assert _outcome(decoder.decode, data[:length]) == _outcome(decoder.checked, data[:length]), length


def test_bad_words_fail_alike_on_both_paths_every_time() -> None:
    decoder = tuple_decoder(PARAMS)
    data = bytearray(encode(TYPES, VALUES))
    decoder.decode(bytes(data), 0)  # the clean address word is memoised
    data[0] = 1  # the address's upper bits
    assert _outcome(decoder.decode, bytes(data)) == _outcome(decoder.checked, bytes(data))
    assert "dirty upper bits" in _outcome(decoder.decode, bytes(data))
    assert "dirty upper bits" in _outcome(decoder.decode, bytes(data))  # a refusal is not memoised
    data[0] = 0
    data[32 + 19] = 1  # amount past uint96
    assert _outcome(decoder.decode, bytes(data)) == _outcome(decoder.checked, bytes(data))
    assert "does not fit uint96" in _outcome(decoder.decode, bytes(data))


@pytest.mark.parametrize("seed", range(20))
def test_recover_signer_answers_as_signer_of_for_good_and_bad_signatures(seed: int) -> None:
    account = Account.create()
    hashed = keccak(os.urandom(32) + bytes([seed]))
    signature = bytes(Account.unsafe_sign_hash(hashed, account.key).signature)
    s = int.from_bytes(signature[32:64], "big")
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = signature[:32] + (n - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    candidates = [
        signature,
        high_s,
        flipped,
        signature[:64] + b"\x05",
        signature[:64] + b"\x00",
        signature[:64],
        bytes(65),
        b"\xff" * 32 + signature[32:],
    ]
    assert recover_signer(hashed, signature) == signer_of(hashed, signature) == account.address
    for candidate in candidates:
        assert recover_signer(hashed, candidate) == signer_of(hashed, candidate)
    assert recover_signer(hashed[:31], signature) == signer_of(hashed[:31], signature)


def test_recover_signer_falls_back_to_signer_of_without_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    account = Account.create()
    hashed = keccak(b"fallback")
    signature = bytes(Account.unsafe_sign_hash(hashed, account.key).signature)
    monkeypatch.setattr(eip712, "_SECP256K1", None)
    assert recover_signer(hashed, signature) == account.address
    assert recover_signer(hashed, bytes(65)) is None
