"""Sign-in with the party's own key, short-lived tokens, and the party every request acts as.

1. ``POST /v1/auth/challenge {address}``: the server draws a nonce and answers an EIP-4361
   ("Sign-In with Ethereum") message naming this service's domain and URI, the chain id, the
   nonce, when it was issued and when it expires. It keeps the message.
2. The party signs the message with EIP-191 ``personal_sign`` (eth-account's
   ``encode_defunct``, ethers' ``signMessage``, any wallet) and posts ``{nonce, signature}``.
3. The server rebuilds nothing from the client: it recovers the signer of the message it
   stored, requires it to be the address the challenge was drawn for, burns the nonce (an
   UPDATE that only one request can win, so a replayed signature fails), reads the party's
   roles from Membership **on chain**, and issues a token.

A token is ``scf1.<payload>.<mac>``: the payload (address, role bits, issued-at, expiry, a
random id) in base64url, and an HMAC-SHA256 of it under the server's secret. It lives
``token_ttl`` seconds (15 minutes by default): roles are read at sign-in only, so a party
suspended on chain keeps its token at most that long. Nothing is stored per token; a
secret rotation signs everyone out.

Roles: supplier, core, bank, oracle, arbiter, auditor, admin (Membership's bits). An
*auditor* for reading purposes is a party with the AUDITOR or the ADMIN role on chain, or an
address in the configured ``auditors`` list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from fastapi import Request
from sqlalchemy import Engine, delete, insert, select, update

from api.errors import Conflict, InvalidField, SignInRefused, Unauthenticated
from api.v1 import store
from ledger.chain import Chain
from ledger.compiler import BuildResult
from ledger.deploy import ROLE

TOKEN_PREFIX = "scf1"
ACTIVE = 1
_PAYLOAD = struct.Struct(">20sIqq16s")  # address, role bits, issued-at, expires-at, token id


def role_names(bits: int) -> list[str]:
    return [name for name, bit in ROLE.items() if bits & bit]


@dataclass(frozen=True)
class Party:
    """Who a request acts as: an address and the role bits Membership gave it at sign-in."""

    address: str
    roles: int
    expires_at: int
    configured_auditor: bool = False

    def has(self, role: str) -> bool:
        return bool(self.roles & ROLE[role])

    @property
    def auditor(self) -> bool:
        """Reads everything (read-only): AUDITOR or ADMIN on chain, or a configured auditor."""
        return self.configured_auditor or self.has("auditor") or self.has("admin")

    @property
    def role_names(self) -> list[str]:
        return role_names(self.roles)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    """Issues and checks access tokens under one secret."""

    def __init__(self, secret: bytes, ttl: int, auditors: frozenset[str] = frozenset()) -> None:
        self._secret = secret
        self.ttl = ttl
        self._auditors = auditors

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, TOKEN_PREFIX.encode() + b"." + payload, hashlib.sha256).digest()

    def issue(self, address: str, roles: int, now: int) -> tuple[str, int]:
        expires = now + self.ttl
        payload = _PAYLOAD.pack(bytes.fromhex(address[2:]), roles, now, expires, secrets.token_bytes(16))
        return f"{TOKEN_PREFIX}.{_b64(payload)}.{_b64(self._mac(payload))}", expires

    def verify(self, token: str, now: int) -> Party:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise Unauthenticated("the bearer token is not an scf-ledger access token")
        try:
            payload, mac = _unb64(parts[1]), _unb64(parts[2])
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("the bearer token is not valid base64url") from exc
        if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthenticated("the bearer token's signature does not verify")
        raw_address, roles, _issued, expires, _token_id = _PAYLOAD.unpack(payload)
        if expires <= now:
            raise Unauthenticated("the bearer token has expired; sign in again")
        address = to_checksum_address(raw_address)
        return Party(address, roles, expires, address in self._auditors)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def siwe_message(domain: str, uri: str, address: str, chain_id: int, nonce: str, issued: int, expires: int) -> str:
    """An EIP-4361 message (the fields this service checks; no resources)."""
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
        "Sign in to scf-ledger. Signing proves you hold this key; it sends no transaction and costs nothing.\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {_iso(issued)}\nExpiration Time: {_iso(expires)}"
    )


@dataclass(frozen=True)
class Challenge:
    nonce: str
    message: str
    issued_at: int
    expires_at: int


class Authenticator:
    """Challenges, sign-in against Membership on chain, and tokens."""

    def __init__(
        self,
        chain: Chain,
        build: BuildResult,
        membership: str,
        engine: Engine,
        tokens: Tokens,
        *,
        domain: str,
        uri: str,
        challenge_ttl: int,
    ) -> None:
        self.chain = chain
        self.membership = chain.contract(build["Membership"], membership)
        self.engine = engine
        self.tokens = tokens
        self.domain = domain
        self.uri = uri
        self.challenge_ttl = challenge_ttl

    def challenge(self, address: str, now: int | None = None) -> Challenge:
        now = int(time.time()) if now is None else now
        nonce = secrets.token_hex(16)
        expires = now + self.challenge_ttl
        address = to_checksum_address(address)
        message = siwe_message(self.domain, self.uri, address, self.chain.chain_id, nonce, now, expires)
        with self.engine.begin() as connection:
            # Challenges are worthless once expired; a day later they are only clutter.
            connection.execute(delete(store.challenges).where(store.challenges.c.expires_at < now - 86_400))
            connection.execute(
                insert(store.challenges).values(
                    nonce=nonce, address=address, message=message, issued_at=now, expires_at=expires
                )
            )
        return Challenge(nonce, message, now, expires)

    def sign_in(self, nonce: str, signature: bytes, now: int | None = None) -> tuple[str, int, Party]:
        now = int(time.time()) if now is None else now
        with self.engine.connect() as connection:
            row = connection.execute(select(store.challenges).where(store.challenges.c.nonce == nonce)).one_or_none()
        if row is None:
            raise Unauthenticated("unknown challenge nonce; ask for a new challenge")
        try:
            signer = Account.recover_message(encode_defunct(text=row.message), signature=signature)
        except Exception as exc:  # eth-keys refuses malformed r, s, v in several ways
            raise InvalidField("signature", f"not a valid secp256k1 signature ({type(exc).__name__})") from exc
        if signer != row.address:
            raise Unauthenticated("the challenge was not signed by the address it was issued to")
        with self.engine.begin() as connection:
            burnt = connection.execute(
                update(store.challenges)
                .where(
                    store.challenges.c.nonce == nonce,
                    store.challenges.c.used_at.is_(None),
                    store.challenges.c.expires_at > now,
                )
                .values(used_at=now)
            )
        if burnt.rowcount != 1:
            if row.expires_at <= now:
                raise Unauthenticated("the challenge has expired; ask for a new one")
            raise Conflict("challenge_used", "this challenge was already used to sign in; ask for a new one")
        roles, _kind, status, _kyc, _admitted = self.chain.call(self.membership.functions.memberOf(row.address))
        if status != ACTIVE:
            raise SignInRefused(row.address, "not an active member of the ledger (Membership on chain)")
        token, expires = self.tokens.issue(row.address, int(roles), now)
        return token, expires, self.tokens.verify(token, now)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("send an access token: Authorization: Bearer <token> (POST /v1/auth/challenge)")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return value.strip()


async def current_party(request: Request) -> Party:
    """FastAPI dependency: the party of the request's bearer token (401 without a valid one).

    ``async`` because it never blocks: a sync dependency would cost a thread-pool hop per request."""
    tokens: Tokens = request.app.state.tokens
    return tokens.verify(bearer(request), int(time.time()))


def describe(party: Party) -> dict[str, Any]:
    return {"address": party.address, "roles": party.role_names, "auditor": party.auditor}
