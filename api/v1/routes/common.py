"""Helpers the write routes share: typed data as JSON, signature checks, prepared transactions.

What they answer goes to wallets as it is: a typed-data ``message`` carries every integer as a
decimal string (``eth_signTypedData_v4``, ethers' ``TypedDataEncoder`` and eth-account all read
a decimal string for ``uint``/``int`` types, and none of them can be handed a JSON number above
2^53 without it being rounded first), and a prepared transaction has the field names and
formats of ethers' ``TransactionRequest`` (see ``api/v1/schemas.py``).
"""

from __future__ import annotations

import re
from typing import Any

from api.errors import InvalidField
from api.v1.deps import Services
from api.v1.schemas import PreparedOut, TransactionOut, TypedDataOut
from ledger.eth import eip712, signatures
from ledger.eth.calls import Call
from ledger.eth.chain import Chain

_INTEGER = re.compile(r"u?int(\d{1,3})?")


def jsonable(value: Any) -> Any:
    """Typed data with bytes as 0x hex (what eth_signTypedData_v4 and eth-account accept)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _wallet_value(types: dict[str, Any], kind: str, value: Any) -> Any:
    """``value`` of EIP-712 type ``kind`` as JSON: integers as decimal strings, structs and arrays walked by type."""
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        return [_wallet_value(types, inner, item) for item in value]
    if kind in types:
        return {field["name"]: _wallet_value(types, field["type"], value[field["name"]]) for field in types[kind]}
    if _INTEGER.fullmatch(kind) and not isinstance(value, bool):
        return str(int(value))
    return jsonable(value)


def wallet_typed_data(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as the JSON a wallet signs: the message by its types (integers as decimal strings); the
    domain as wallets compare it with their own chain: ``chainId`` a number (MetaMask accepts no chain id above
    4503599627370476, so every chain a wallet can sign for has one a JSON number holds)."""
    answer: dict[str, Any] = jsonable(document)
    answer["message"] = _wallet_value(document["types"], document["primaryType"], document["message"])
    return answer


def typed(document: dict[str, Any]) -> TypedDataOut:
    return TypedDataOut(typedData=wallet_typed_data(document), digest="0x" + eip712.digest(document).hex())


def require_signer(document: dict[str, Any], signature: str, expected: str, field: str, *, chain: Chain | None) -> None:
    """422 naming ``field`` unless ``signature`` is ``expected``'s signature of ``document`` as the contracts
    decide it (``ledger.eth.signatures``): a key's ECDSA signature that recovers to it, or, when ``expected``
    holds code on ``chain`` (a contract wallet), whatever its ERC-1271 ``isValidSignature`` accepts. A node
    that cannot say raises ``ChainUnavailable`` (503): unknown is not invalid. Without ``chain`` only a key's
    signature can pass (every route passes its chain)."""
    digest = eip712.typed_data_digest(document) or eip712.digest(document)
    raw = bytes.fromhex(signature[2:])
    try:
        if chain is not None:
            signatures.verify(chain, expected, digest, raw)
        elif (recovered := eip712.signer_of(digest, raw)) is None:
            raise signatures.MalformedSignature(expected, "not a 65-byte r||s||v signature the contracts take")
        elif recovered != expected:
            raise signatures.WrongSigner(expected, f"signed by {recovered}", recovered)
    except signatures.MalformedSignature as exc:
        raise InvalidField(field, f"not a valid signature: {exc.reason}") from exc
    except signatures.WrongSigner as exc:
        raise InvalidField(
            field, f"signed by {exc.recovered}, not by {expected} (check the typed data you signed)"
        ) from exc
    except signatures.ContractSignatureRefused as exc:
        raise InvalidField(
            field, f"{expected} is a contract wallet and does not accept this signature (ERC-1271): {exc.reason}"
        ) from exc


def prepared(svc: Services, action: str, call: Call, sender: str) -> PreparedOut:
    """``call`` (built by a contract client) as the unsigned transaction ``sender`` signs, once it simulates."""
    return PreparedOut(action=action, transaction=TransactionOut(**svc.tx.prepare(call, sender)))
