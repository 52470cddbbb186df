"""Helpers the write routes share: typed data as JSON, signature checks, prepared transactions."""

from __future__ import annotations

from typing import Any

from web3.contract.contract import ContractFunction

from api.errors import InvalidField
from api.v1.deps import Services
from api.v1.schemas import PreparedOut, TransactionOut, TypedDataOut
from ledger import typed_data


def jsonable(value: Any) -> Any:
    """Typed data with bytes as 0x hex (what eth_signTypedData_v4 and eth-account accept)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def typed(document: dict[str, Any]) -> TypedDataOut:
    return TypedDataOut(typedData=jsonable(document), digest="0x" + typed_data.digest(document).hex())


def require_signer(document: dict[str, Any], signature: str, expected: str, field: str) -> None:
    """422 naming ``field`` unless ``signature`` over ``document`` recovers to ``expected``."""
    try:
        signer = typed_data.recover(document, bytes.fromhex(signature[2:]))
    except Exception as exc:  # eth-keys refuses malformed r, s, v in several ways
        raise InvalidField(field, f"not a valid signature ({type(exc).__name__})") from exc
    if signer != expected:
        raise InvalidField(field, f"signed by {signer}, not by {expected} (check the typed data you signed)")


def prepared(svc: Services, action: str, fn: ContractFunction, sender: str) -> PreparedOut:
    return PreparedOut(action=action, transaction=TransactionOut(**svc.tx.prepare(fn, sender)))
