"""Signing what the API prepares with eth-account, as a Python wallet does.

The API's prepared transaction is in ethers' terms (``gasLimit``, integers as decimal strings,
``from``); eth-account, like web3.py, names the gas limit ``gas``, wants integers and refuses
``from``. This is the whole mapping a Python client needs; JavaScript clients need none
(``tests/api/v1/test_js_client.py``).
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

_INTEGERS = ("chainId", "value", "nonce", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas")


def eth_account_transaction(transaction: dict[str, Any]) -> dict[str, Any]:
    """The API's ``transaction`` as eth-account's ``sign_transaction`` takes it."""
    tx = {key: int(value) if key in _INTEGERS else value for key, value in transaction.items() if key != "from"}
    tx["gas"] = tx.pop("gasLimit")
    return tx


def sign_prepared(account: LocalAccount, prepared: dict[str, Any]) -> str:
    """The raw signed transaction (0x hex) of a ``PreparedOut`` answer, signed by ``account`` (its ``from``)."""
    transaction = prepared["transaction"]
    assert transaction["from"] == account.address, f"prepared for {transaction['from']}, not {account.address}"
    return "0x" + account.sign_transaction(eth_account_transaction(transaction)).raw_transaction.hex()
