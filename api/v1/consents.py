"""Credit-report consents: a supplier's signed, expiring, revocable permission for one bank to read its report.

**Why a consent.** A credit report is the supplier's underwriting file (volumes, counterparties,
delays). Nothing a bank does on its own may open it: a limit a bank publishes, even a zero one,
is the bank's act, not the supplier's. So a bank reads a supplier's report only with that
supplier's consent, or while the supplier is asking it for money (an open financing request,
see ``api.v1.credit``).

**Signed.** The supplier signs EIP-712 typed data with its own key,
``CreditReportConsent{supplier, bank, expiresAt, nonce}``, under the domain
``{name: "scf-ledger credit consent", version: "1", chainId, verifyingContract: CreditRegistry}``.
No contract checks it (the API does, before storing it); the registry's address binds the
consent to one deployment's ledger, so a signature shown to an auditor says which ledger's
report the supplier opened, to whom and until when. The API serves the typed data
(``POST /v1/credit/consents/typed-data``) so the wallet shows exactly what is signed; ``nonce``
is a uint256, a decimal string in JSON like every uint256.

**Expiring.** ``expiresAt`` is UTC seconds by the API's clock (a consent lives off chain), in
the future when posted and at most ``MAX_TERM`` away: consent to read a credit file is given for
a purpose and a time, never for ever.

**Revocable, at once.** Revoking sets ``revoked_at`` on the row; every report read checks the
table, so the next read after the revocation is refused, in every worker process. The row is
kept, and ``(chain, supplier, nonce)`` is unique, so a revoked consent cannot come back: the bank
holds a copy of the signature, and posting it again is refused (a new consent needs a new nonce).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import Forbidden, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from ledger.domain import typed_data
from ledger.domain.typed_data import Domain
from ledger.eth import eip712, signatures
from ledger.eth.chain import Chain

MAX_TERM = 366 * 86_400  # a year (and a leap day)
PRIMARY = "CreditReportConsent"
FIELDS = [
    {"name": "supplier", "type": "address"},
    {"name": "bank", "type": "address"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]

State = Literal["active", "revoked", "expired"]


def consent_domain(chain_id: int, registry: str) -> Domain:
    return Domain("scf-ledger credit consent", "1", chain_id, registry)


@dataclass(frozen=True)
class ConsentTerms:
    supplier: str
    bank: str
    expires_at: int
    nonce: int

    def document(self, domain: Domain) -> dict[str, Any]:
        """The typed data the supplier signs (integers as integers: what the digest is computed from)."""
        message = {"supplier": self.supplier, "bank": self.bank, "expiresAt": self.expires_at, "nonce": self.nonce}
        return typed_data.full_message(domain, PRIMARY, FIELDS, message)


class ConsentBook:
    """The consents table: give (verified), find, list, revoke, and whether a bank may read a supplier's report."""

    def __init__(self, *, store: Engine, chain_id: int, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.chain_id = chain_id
        self.clock = clock  # wall-clock seconds; tests move it to see a consent expire

    def now(self) -> int:
        return int(self.clock())

    # -- giving --------------------------------------------------------------------------------

    def check_terms(self, party: Party, terms: ConsentTerms) -> None:
        """403 unless ``party`` (the supplier: who signs) has a report to share; 422 naming a bad term."""
        if not (party.has("supplier") or party.has("core")):
            raise Forbidden(
                party.address, "consent to a credit report", "only a supplier or core enterprise has a report to share"
            )
        now = self.now()
        if terms.expires_at <= now:
            raise InvalidField("expiresAt", f"{terms.expires_at} is not in the future (now is {now})")
        if terms.expires_at > now + MAX_TERM:
            raise InvalidField(
                "expiresAt", f"a consent lasts at most {MAX_TERM} s: choose an expiry before {now + MAX_TERM}"
            )

    def give(self, party: Party, terms: ConsentTerms, signature: str, domain: Domain, chain: Chain) -> dict[str, Any]:
        """Store the consent if ``signature`` is the supplier's over ``terms``; the same consent twice is one row.

        The supplier's signature is checked as the contracts check one (``ledger.eth.signatures``): a key's must
        recover to it, a contract wallet's (ERC-1271) must be accepted by the wallet, asked on ``chain``."""
        self.check_terms(party, terms)
        document = terms.document(domain)
        digest = eip712.typed_data_digest(document) or eip712.digest(document)
        try:
            signatures.verify(chain, terms.supplier, digest, bytes.fromhex(signature[2:]))
        except signatures.MalformedSignature as exc:
            raise InvalidField("signature", f"not a valid signature: {exc.reason}") from exc
        except signatures.WrongSigner as exc:
            raise InvalidField(
                "signature",
                f"signed by {exc.recovered}, not by {terms.supplier} (sign the typed data served for these terms)",
            ) from exc
        except signatures.ContractSignatureRefused as exc:
            raise InvalidField(
                "signature", f"{terms.supplier} is a contract wallet and does not accept this signature: {exc.reason}"
            ) from exc
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "chain_id": self.chain_id,
            "supplier": terms.supplier,
            "bank": terms.bank,
            "expires_at": terms.expires_at,
            "nonce": terms.nonce,
            "signature": signature.lower(),
            "created_at": self.now(),
            "revoked_at": None,
        }
        table = store.credit_consents
        try:
            with self.store.begin() as connection:
                connection.execute(insert(table).values(**row))
        except IntegrityError as exc:
            with self.store.connect() as connection:
                found = connection.execute(
                    select(table).where(
                        table.c.chain_id == self.chain_id,
                        table.c.supplier == terms.supplier,
                        table.c.nonce == terms.nonce,
                    )
                ).one_or_none()
            if found is None:  # not the nonce: let the unexpected surface
                raise
            existing = dict(found._mapping)
            if existing["signature"] == row["signature"] and existing["revoked_at"] is None:
                return existing  # a retry of the same consent
            why = "a revoked consent" if existing["revoked_at"] is not None else "another consent"
            raise InvalidField(
                "nonce", f"nonce {terms.nonce} was used by {why} ({existing['id']}); sign new terms with a fresh nonce"
            ) from exc
        return row

    # -- reading -------------------------------------------------------------------------------

    def state(self, row: Any) -> State:
        if row["revoked_at"] is not None:
            return "revoked"
        return "expired" if row["expires_at"] <= self.now() else "active"

    def _visible(self, party: Party) -> Any:
        table = store.credit_consents
        return or_(table.c.supplier == party.address, table.c.bank == party.address)

    def find(self, party: Party, consent_id: str) -> dict[str, Any]:
        """The consent if ``party`` gave it, received it or audits; 404 otherwise (as if it did not exist)."""
        table = store.credit_consents
        query = select(table).where(table.c.chain_id == self.chain_id, table.c.id == consent_id)
        if not party.auditor:
            query = query.where(self._visible(party))
        with self.store.connect() as connection:
            found = connection.execute(query).one_or_none()
        if found is None:
            raise NotFound("consent", consent_id)
        return dict(found._mapping)

    def page(
        self, party: Party, after: int, limit: int, include_inactive: bool
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Consents the party gave (a supplier) or received (a bank), oldest first; an auditor's: all."""
        table = store.credit_consents
        query = select(table).where(table.c.chain_id == self.chain_id, table.c.seq > after)
        if not party.auditor:
            query = query.where(self._visible(party))
        if not include_inactive:
            query = query.where(table.c.revoked_at.is_(None), table.c.expires_at > self.now())
        with self.store.connect() as connection:
            rows = connection.execute(query.order_by(table.c.seq).limit(limit + 1)).all()
        items = [dict(r._mapping) for r in rows[:limit]]
        return items, (items[-1]["seq"] if len(rows) > limit else None)

    def grants(self, bank: str, supplier: str) -> bool:
        """Whether an active consent of ``supplier`` lets ``bank`` read its report now."""
        table = store.credit_consents
        active = exists().where(
            table.c.chain_id == self.chain_id,
            table.c.supplier == supplier,
            table.c.bank == bank,
            table.c.revoked_at.is_(None),
            table.c.expires_at > self.now(),
        )
        with self.store.connect() as connection:
            return bool(connection.execute(select(active)).scalar())

    # -- revoking ------------------------------------------------------------------------------

    def revoke(self, party: Party, consent_id: str) -> dict[str, Any]:
        """Revoke at once (a second revocation keeps the first time); only the supplier that gave it may."""
        row = self.find(party, consent_id)
        if row["supplier"] != party.address:
            raise Forbidden(party.address, "revoke this consent", f"only {row['supplier']}, who gave it, may")
        table = store.credit_consents
        with self.store.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.id == consent_id, table.c.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
        return self.find(party, consent_id)
