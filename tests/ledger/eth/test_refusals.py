"""Decoding refused calls: the call's arguments and the revert's error, in the JSON form of events.args."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from ledger.domain.receivables import FinanceOffer
from ledger.eth.artifacts import BuildResult
from ledger.eth.refusals import RefusalDecoder, abi_json
from ledger.eth.rpc import Tx

ADDRESSES = {
    "Membership": to_checksum_address("0x" + "01" * 20),
    "SettlementToken": to_checksum_address("0x" + "02" * 20),
    "CreditRegistry": to_checksum_address("0x" + "03" * 20),
    "TradeEscrow": to_checksum_address("0x" + "04" * 20),
    "Receivables": to_checksum_address("0x" + "05" * 20),
}
SENDER = to_checksum_address("0x" + "aa" * 20)


def decoder(build: BuildResult) -> RefusalDecoder:
    return RefusalDecoder(ADDRESSES, {name: build[name].abi for name in ADDRESSES})


def tx(to: str | None, data: bytes, output: str | None) -> Tx:
    return Tx("0x" + "11" * 32, 9, "0x" + "22" * 32, 3, SENDER, to, data, True, output)


def error_data(signature: str, types: list[str], values: list[object]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, values)).hex()


def test_wide_integers_are_decimal_strings_narrow_ones_numbers_bytes_hex_structs_objects() -> None:
    param = {
        "type": "tuple",
        "components": [
            {"name": "amount", "type": "uint256"},
            {"name": "maturity", "type": "uint64"},
            {"name": "ref", "type": "bytes32"},
            {"name": "ok", "type": "bool"},
            {"name": "ids", "type": "uint256[]"},
        ],
    }
    assert abi_json(param, (2**200, 7, b"\x01" * 32, True, (1, 2))) == {
        "amount": str(2**200),
        "maturity": 7,
        "ref": "0x" + "01" * 32,
        "ok": True,
        "ids": ["1", "2"],
    }


def test_a_refused_finance_is_decoded_with_its_offer_and_the_contracts_error(build: BuildResult) -> None:
    found = decoder(build)
    offer = FinanceOffer(5, to_checksum_address("0x" + "bb" * 20), 900, 1_700_000_000, 3)
    fn = found.calls.function(ADDRESSES["Receivables"], function_signature_to_4byte_selector(
        "finance((uint256,address,uint256,uint64,uint256),bytes)"))  # fmt: skip
    assert fn is not None
    data = function_signature_to_4byte_selector(fn.signature) + encode(
        ["(uint256,address,uint256,uint64,uint256)", "bytes"], [offer.as_tuple(), b"\x07" * 65]
    )
    output = error_data("ReceivablesAlreadyFinanced(uint256)", ["uint256"], [5])
    refusal = found.refusal(tx(ADDRESSES["Receivables"], data, output))
    assert refusal is not None
    assert (refusal.contract, refusal.function, refusal.sender) == ("Receivables", "finance", SENDER)
    assert refusal.error == "ReceivablesAlreadyFinanced" and refusal.error_args == {"pieceId": "5"}
    assert refusal.args == {
        "offer": {"pieceId": "5", "bank": offer.bank, "price": "900", "deadline": 1_700_000_000, "nonce": "3"},
        "bankSignature": "0x" + "07" * 65,
    }
    row = refusal.row(31337)
    assert row["chain_id"] == 31337 and row["tx_index"] == 3 and row["block_number"] == 9


def test_standard_errors_unknown_errors_and_no_revert_data(build: BuildResult) -> None:
    found = decoder(build)
    assert found.error(error_data("Error(string)", ["string"], ["no"])) == ("Error", {"message": "no"})
    assert found.error(error_data("Panic(uint256)", ["uint256"], [0x11])) == ("Panic", {"code": "17"})
    assert found.error("0x" + keccak(text="Nobody(uint256)")[:4].hex() + "00" * 32) == (None, None)
    assert found.error("0x") == (None, None) and found.error(None) == (None, None)
    # A known error whose data is cut short: named, its arguments unknown.
    assert found.error(error_data("ReceivablesAlreadyFinanced(uint256)", ["uint256"], [5])[:20]) == (
        "ReceivablesAlreadyFinanced",
        None,
    )


def test_calls_outside_the_ledger_are_not_refusals_and_bad_calldata_keeps_the_function(build: BuildResult) -> None:
    found = decoder(build)
    assert found.refusal(tx(to_checksum_address("0x" + "99" * 20), b"\x00" * 4, None)) is None
    assert found.refusal(tx(None, b"\x60\x80", None)) is None
    cut = function_signature_to_4byte_selector("repay(uint256,uint256)") + b"\x00" * 10
    refusal = found.refusal(tx(ADDRESSES["Receivables"], cut, None))
    assert refusal is not None and (refusal.function, refusal.args, refusal.error) == ("repay", None, None)
    unknown = found.refusal(tx(ADDRESSES["Receivables"], b"\xde\xad\xbe\xef", None))
    assert unknown is not None and unknown.function == "0xdeadbeef" and unknown.args is None
