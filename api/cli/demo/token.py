"""``scf demo token PARTY``: sign the API's sign-in challenge as a demo party and print the bearer token.

A devnet convenience: the demo parties' keys are derived from the world's seed (``scenarios.world``);
real parties sign in with their own keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from api.cli.demo.base import DemoError
from api.cli.demo.cast import read_cast, world_config
from scenarios.world import generate


def sign_in(api: str, account: LocalAccount, timeout: float = 30.0) -> dict[str, Any]:
    """Sign the API's EIP-4361 challenge with ``account`` (EIP-191) and return its token answer."""
    import httpx

    base = api.rstrip("/")
    try:
        challenge = httpx.post(f"{base}/v1/auth/challenge", json={"address": account.address}, timeout=timeout)
        if challenge.status_code != 200:
            raise DemoError(f"the API refused the challenge ({challenge.status_code}): {challenge.text[:300]}")
        body = challenge.json()
        if f"\n{account.address}\n" not in body["message"]:
            raise DemoError("the API's challenge names another account: not signed")
        signature = Account.sign_message(encode_defunct(text=body["message"]), account.key).signature
        answer = httpx.post(
            f"{base}/v1/auth/token",
            json={"nonce": body["nonce"], "signature": "0x" + signature.hex()},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api} did not answer: {exc}") from exc
    if answer.status_code != 200:
        raise DemoError(f"the API refused the sign-in ({answer.status_code}): {answer.text[:300]}")
    token: dict[str, Any] = answer.json()
    return token


def demo_account(out: Path, party: str, accounts: Any = None) -> LocalAccount:
    """The key of a demo party: a label of ``demo-parties.json`` or an address of the world or a dev account."""
    from ledger.eth.accounts import dev_accounts

    address = party
    if not party.startswith("0x"):
        cast = read_cast(out)
        if party not in cast or not isinstance(cast[party], dict):
            labels = ", ".join(k for k, v in cast.items() if isinstance(v, dict))
            raise DemoError(f"no demo party {party!r}; known: {labels}, or an address of the world")
        address = cast[party]["address"]
    keys = {p.address.lower(): p.account for p in generate(world_config(out)).parties}
    for _, account in accounts or dev_accounts():
        keys.setdefault(account.address.lower(), account)
    found = keys.get(address.lower())
    if found is None:
        raise DemoError(f"{address} is neither a party of the demo world nor a dev account: no key to sign with")
    return found
