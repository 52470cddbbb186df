"""Sign-in with the party's own key, short-lived tokens, and the party every request acts as.

1. ``POST /v1/auth/challenge {address}``: the server draws a nonce and answers an EIP-4361
   ("Sign-In with Ethereum") message naming this service's domain and URI, the chain id, the
   nonce, when it was issued and when it expires. It keeps the message.
2. The party signs the message with EIP-191 ``personal_sign`` (eth-account's
   ``encode_defunct``, ethers' ``signMessage``, any wallet) and posts ``{nonce, signature}``.
3. The server rebuilds nothing from the client: it checks that the signature of the message it
   stored is the signature of the address the challenge was drawn for (``ledger.eth.signatures``:
   a key's ECDSA signature must recover to it; an address with code is a contract wallet, a
   Safe say, and its ERC-1271 ``isValidSignature`` decides over the message's EIP-191 digest,
   read from the chain: 503 if the node does not answer), reads the party's roles
   from Membership **on chain**, then burns the nonce (an UPDATE that only one request can
   win, so a replayed signature fails) and issues a token. Roles are read before the burn so
   that a node that is down (503) leaves the challenge usable for a retry.

A token is ``scf1.<payload>.<mac>``: the payload (address, role bits, issued-at, expiry, a
random 16-byte id) in unpadded base64url, and an HMAC-SHA256 of it under the server's secret.
Only the canonical spelling verifies (the encoder's own output: no padding, no ``+/``, no stray
trailing bits), so one token has one string, and a token whose lifetime exceeds ``token_ttl``
(15 minutes by default) or that claims to be issued in the future is refused even with a good
MAC: a leaked secret cannot mint a token that outlives the TTL, and shortening the TTL
shortens every token at once. A secret rotation signs everyone out.
Each process remembers the token strings it has verified (``Tokens.KEEP`` of them): one string
under one secret always verifies the same way, so a repeat costs a lookup and the clock checks
(expiry, issued-at), never less; the revocation lookup below still runs on every request.

What can end a token before its expiry:

* **logout** (``POST /v1/auth/logout``): its id goes into ``api_revoked_tokens`` in the store
  until the token would have expired; every check of a token is one primary-key lookup there,
  so all ``--workers`` (and hosts sharing the store) refuse it from the next request on;
* **Membership on chain** (``Standing``): every authenticated request checks that the party
  is still an ACTIVE member as of the latest block, and acts with the roles Membership gives
  it *now* (not the ones in the token). The head block number is re-read at most every
  ``membership_refresh`` seconds (1 s) and a party's ``memberOf`` once per new head, so a
  steady stream of requests costs about one ``eth_blockNumber`` a second plus one call per
  party per block, and a suspension stops the token within one block and a second. When the
  node does not answer, a request that acts on the ledger (anything but GET and HEAD) answers
  503: it cannot be allowed unchecked. A GET serves the index, so it is checked against the
  index: the party's Membership as indexed (the same block the answer is as of); a party
  suspended there is refused, a party the index does not know is refused.

Roles: supplier, core, bank, oracle, arbiter, auditor, admin (Membership's bits). An
*auditor* for reading purposes is a party with the AUDITOR or the ADMIN role on chain, or an
address in the configured ``auditors`` list.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from eth_utils import to_checksum_address
from fastapi import Request
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from web3.contract import Contract

from api.errors import Conflict, InvalidField, SignInRefused, Unauthenticated
from api.v1 import rawsql, store
from api.v1.read_answers import REVOKED
from ledger.clients.membership import MembershipClient
from ledger.errors import ChainUnavailable
from ledger.eth import signatures
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.index.sql.models import Party as Member
from ledger.toolchain.deploy import ROLE

TOKEN_PREFIX = "scf1"
ACTIVE = 1
#: Seconds a token's issued-at may lie ahead of this host's clock (a token of another host's worker).
CLOCK_SKEW = 5
#: Methods that only read the index: checked against the index's Membership when the node is silent.
READS = frozenset({"GET", "HEAD"})
_PAYLOAD = struct.Struct(">20sIqq16s")  # address, role bits, issued-at, expires-at, token id
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_STATUS = {0: "NONE", 1: "ACTIVE", 2: "SUSPENDED"}


def role_names(bits: int) -> list[str]:
    return [name for name, bit in ROLE.items() if bits & bit]


@dataclass(frozen=True)
class Party:
    """Who a request acts as: an address, its role bits (Membership's, as of the request), its token."""

    address: str
    roles: int
    expires_at: int
    configured_auditor: bool = False
    token_id: bytes = b""

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
    """Decode unpadded base64url, refusing every spelling but the one ``_b64`` writes."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # non-zero bits after the last whole byte: another string for the same bytes
        raise ValueError("not the canonical base64url of its bytes")
    return raw


class Revocations:
    """Token ids revoked before their expiry (logout), in the store every worker shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revoke(self, token_id: bytes, expires_at: int, now: int) -> None:
        with self.engine.begin() as connection:
            # A revoked token past its expiry is refused anyway: its row is only clutter.
            connection.execute(delete(store.revoked_tokens).where(store.revoked_tokens.c.expires_at < now))
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(store.revoked_tokens).values(token_id=token_id.hex(), expires_at=expires_at))
        except IntegrityError:
            pass  # revoked twice (a retried logout): once is enough

    def revoked(self, token_id: bytes) -> bool:
        # Every authenticated request asks: one prepared primary-key lookup on a pooled connection (api.v1.rawsql).
        with rawsql.snapshot(self.engine, statements=1) as reading:
            _compiled, found = reading.raw(REVOKED, token_id=token_id.hex())
        return bool(found)


class Tokens:
    """Issues and checks access tokens under one secret."""

    #: Verified token strings one process remembers (a bound: a full memory starts again empty).
    KEEP = 10_000

    def __init__(
        self,
        secret: bytes,
        ttl: int,
        auditors: frozenset[str] = frozenset(),
        *,
        revocations: Revocations | None = None,
    ) -> None:
        self._secret = secret
        self.ttl = ttl
        self._auditors = auditors
        self.revocations = revocations
        # Tokens whose spelling, MAC and lifetime bound verified, with their issued-at: the same string always
        # verifies the same way under one secret, so only the clock checks are made again (``read``).
        self._verified: dict[str, tuple[Party, int]] = {}

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, TOKEN_PREFIX.encode() + b"." + payload, hashlib.sha256).digest()

    def issue(self, address: str, roles: int, now: int) -> tuple[str, int]:
        expires = now + self.ttl
        payload = _PAYLOAD.pack(bytes.fromhex(address[2:]), roles, now, expires, secrets.token_bytes(16))
        return f"{TOKEN_PREFIX}.{_b64(payload)}.{_b64(self._mac(payload))}", expires

    def verify(self, token: str, now: int) -> Party:
        """The token's party, if its MAC, lifetime and spelling hold and it is not revoked (else 401)."""
        party = self.read(token, now)
        if self.revocations is not None and self.revocations.revoked(party.token_id):
            raise Unauthenticated("the bearer token was revoked (logged out); sign in again")
        return party

    def read(self, token: str, now: int) -> Party:
        """The token's party if its MAC, lifetime and spelling hold, without the revocation lookup: for
        keying a request (the Gate's idempotency records), never for letting one act."""
        known = self._verified.get(token)
        if known is not None:
            party, issued = known
            self._in_time(party.expires_at, issued, now)
            return party
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise Unauthenticated("the bearer token is not an scf-ledger access token")
        try:
            payload, mac = _unb64(parts[1]), _unb64(parts[2])
        except (ValueError, TypeError) as exc:
            raise Unauthenticated("the bearer token is not canonical unpadded base64url; send it as issued") from exc
        if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthenticated("the bearer token's signature does not verify")
        raw_address, roles, issued, expires, token_id = _PAYLOAD.unpack(payload)
        self._in_time(expires, issued, now)
        if expires - issued > self.ttl:
            raise Unauthenticated(f"the bearer token lives longer than this service's {self.ttl} s; sign in again")
        address = to_checksum_address(raw_address)
        party = Party(address, roles, expires, address in self._auditors, token_id)
        if len(self._verified) >= self.KEEP:
            self._verified.clear()
        self._verified[token] = (party, issued)
        return party

    @staticmethod
    def _in_time(expires: int, issued: int, now: int) -> None:
        if expires <= now:
            raise Unauthenticated("the bearer token has expired; sign in again")
        if issued > now + CLOCK_SKEW:
            raise Unauthenticated("the bearer token is issued in the future; sign in again")

    def revoke(self, party: Party, now: int) -> None:
        if self.revocations is None:
            raise RuntimeError("this Tokens has no revocation store")  # create_app always gives it one
        self.revocations.revoke(party.token_id, party.expires_at, now)


@dataclass(frozen=True)
class _Member:
    block: int  # the head it was read at, or the indexed block it was projected at
    roles: int
    status: str


class Standing:
    """Whether a token's party is still an active member, as of the latest block (see the module notes).

    The head is read under a lock: when it is stale, one thread reads it and the others wait for that
    answer (at most one RPC deadline) instead of asking the node too; a failure is remembered for the
    same ``refresh`` seconds, so a silent node costs one deadline per ``refresh``, not one per request.
    """

    #: Parties whose status one process keeps for the current head (a bound, not a working set).
    KEEP = 100_000

    def __init__(
        self,
        *,
        chain: Chain,
        membership: MembershipClient | Contract,
        index: Engine,
        refresh: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chain = chain
        self.membership = (
            membership if isinstance(membership, MembershipClient) else MembershipClient.of(chain, membership)
        )
        self.index = index
        self.refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._head = -1
        self._read_at = float("-inf")
        self._failure: ChainUnavailable | None = None
        self._members: dict[str, _Member] = {}

    async def check(self, party: Party, *, reading: bool) -> Party:
        """``party`` with its roles as of now; 401 if it is no longer an active member, 503 if unknowable."""
        cached = self._cached(party.address)
        if cached is None:
            try:
                cached = await anyio.to_thread.run_sync(self.member, party.address)
            except ChainUnavailable:
                if not reading:
                    raise
                cached = await anyio.to_thread.run_sync(self.indexed, party.address)
        if cached.status != "ACTIVE":
            where = (
                "not in the index" if cached.block < 0 else f"{cached.status} in Membership as of block {cached.block}"
            )
            raise Unauthenticated(
                f"{party.address} is no longer an active member of the ledger ({where}); this token no longer works"
            )
        return party if party.roles == cached.roles else dataclasses.replace(party, roles=cached.roles)

    def _cached(self, address: str) -> _Member | None:
        if self._failure is not None or self._clock() - self._read_at >= self.refresh:
            return None
        found = self._members.get(address)
        return found if found is not None and found.block == self._head else None

    def head(self) -> int:
        """The latest block number, re-read at most every ``refresh`` seconds (may block one RPC deadline)."""
        with self._lock:
            if self._clock() - self._read_at < self.refresh:
                if self._failure is not None:
                    raise self._failure
                return self._head
            try:
                head = self.chain.block_number
            except ChainUnavailable as exc:
                self._failure = exc
                raise
            finally:
                self._read_at = self._clock()
            self._failure = None
            if head != self._head:
                self._head = head
                if len(self._members) > self.KEEP:
                    self._members.clear()
            return head

    def member(self, address: str) -> _Member:
        """``address``'s Membership as of the head (read from the chain once per head)."""
        head = self.head()
        found = self._members.get(address)
        if found is not None and found.block == head:
            return found
        roles, _kind, status, _kyc, _admitted = self.membership.member_of(address)
        found = _Member(head, int(roles), _STATUS.get(int(status), str(status)))
        self._members[address] = found
        return found

    def indexed(self, address: str) -> _Member:
        """``address``'s Membership as the index last projected it (a stranger reads as NONE)."""
        with self.index.connect() as connection:
            row = connection.execute(
                select(Member.roles, Member.status, Member.updated_block).where(
                    Member.chain_id == self.chain.chain_id, Member.address == address
                )
            ).one_or_none()
        if row is None:
            return _Member(-1, 0, "NONE")
        return _Member(int(row.updated_block), int(row.roles), str(row.status))


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
        self.membership = MembershipClient(chain, build, membership)
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

    def challenged(self, nonce: str) -> str | None:
        """The address a challenge was drawn for (None for an unknown nonce)."""
        with self.engine.connect() as connection:
            found: str | None = connection.execute(
                select(store.challenges.c.address).where(store.challenges.c.nonce == nonce)
            ).scalar_one_or_none()
        return found

    def sign_in(self, nonce: str, signature: bytes, now: int | None = None) -> tuple[str, int, Party]:
        now = int(time.time()) if now is None else now
        with self.engine.connect() as connection:
            row = connection.execute(select(store.challenges).where(store.challenges.c.nonce == nonce)).one_or_none()
        if row is None:
            raise Unauthenticated("unknown challenge nonce; ask for a new challenge")
        # Before the burn, like the roles: a node that cannot answer a contract wallet's isValidSignature
        # (ChainUnavailable, 503) leaves the challenge usable.
        try:
            signatures.verify(self.chain, row.address, signatures.personal_digest(row.message), signature)
        except signatures.MalformedSignature as exc:
            raise InvalidField("signature", f"not a valid secp256k1 signature: {exc.reason}") from exc
        except signatures.WrongSigner as exc:
            raise Unauthenticated("the challenge was not signed by the address it was issued to") from exc
        except signatures.ContractSignatureRefused as exc:
            raise Unauthenticated(
                f"signature: {row.address} is a contract wallet and does not accept this signature of the challenge"
                f" (ERC-1271): {exc.reason}"
            ) from exc
        if row.expires_at <= now:
            raise Unauthenticated("the challenge has expired; ask for a new one")
        if row.used_at is not None:
            raise Conflict("challenge_used", "this challenge was already used to sign in; ask for a new one")
        # Before the burn: a node that does not answer (ChainUnavailable, 503) leaves the challenge usable.
        roles, _kind, status, _kyc, _admitted = self.membership.member_of(row.address)
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
        if burnt.rowcount != 1:  # another request with the same signature won the race
            raise Conflict("challenge_used", "this challenge was already used to sign in; ask for a new one")
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


async def token_party(request: Request) -> Party:
    """FastAPI dependency: the party of the request's bearer token, unrevoked, without the Membership check
    (what logging out needs: a suspended party, or one whose node is down, may still end its token)."""
    tokens: Tokens = request.app.state.tokens
    return tokens.verify(bearer(request), int(time.time()))


async def current_party(request: Request) -> Party:
    """FastAPI dependency: the party of the request's bearer token (401 without a valid one), still an active
    member (401 if not; 503 if the node cannot say and the request would act on the ledger).

    ``async``: the token check is a MAC and one indexed lookup, and a cached standing costs nothing; only a
    stale head or an unseen party goes to a worker thread."""
    party = await token_party(request)
    standing: Standing | None = getattr(request.app.state, "standing", None)
    if standing is None:
        return party
    return await standing.check(party, reading=request.method in READS)


def describe(party: Party) -> dict[str, Any]:
    return {"address": party.address, "roles": party.role_names, "auditor": party.auditor}
