"""Who opens a supplier's credit report to a bank: the supplier's signed consent or its open financing request.

On a chain of this module's own (``fresh``): limits the bank publishes (zero, live, revoked) grant
nothing; a consent the supplier signs with its key grants until it expires or is revoked; a
financing request grants while its piece could still be sold. Every signature is made on the
client side with eth-account from the typed data the API serves, as a wallet would. After each
test every consent still standing is revoked and every piece asked about is closed, so no grant
leaks from one test into the next.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.consents import MAX_TERM, ConsentBook
from api.v1.deps import Services
from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World
from tests.support.receivables import issue, issue_terms, receivables_of

HOUR = 3_600
DAY = 86_400
SUPPLIERS = ("tier1", "tier2", "tier3")


@dataclasses.dataclass
class Desk:
    world: World
    other_bank: LocalAccount  # an active bank with no consent and no request
    tokens: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def client(self) -> TestClient:
        return self.world.client

    @property
    def consents(self) -> ConsentBook:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services.credit.consents

    def address(self, role: str) -> str:
        return self.world.account(role).address

    def headers(self, who: str | LocalAccount) -> dict[str, str]:
        """Each party signs in once per module (sign-in is rate limited, and a token lasts the module)."""
        address = who.address if isinstance(who, LocalAccount) else self.address(who)
        if address not in self.tokens:
            self.tokens[address] = self.world.sign_in(who)
        return self.tokens[address]

    def report(self, who: str | LocalAccount, supplier: str) -> int:
        answer = self.client.get(f"/v1/credit/reports/{self.address(supplier)}", headers=self.headers(who))
        assert answer.status_code in (200, 404), answer.text
        if answer.status_code == 200:
            assert answer.json()["decision"]["party"] == self.address(supplier)
        return answer.status_code

    def terms(self, *, bank: str | None = None, expires_in: int = DAY, nonce: int = 1) -> dict[str, Any]:
        return {
            "bank": bank or self.address("bank"),
            "expiresAt": int(time.time()) + expires_in,
            "nonce": str(nonce),
        }

    def typed_data(self, supplier: str, terms: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post("/v1/credit/consents/typed-data", json=terms, headers=self.headers(supplier))
        assert answer.status_code == 200, answer.text
        typed: dict[str, Any] = answer.json()["typedData"]
        return typed

    def consent(
        self, supplier: str, terms: dict[str, Any], signer: LocalAccount | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Get the typed data as ``supplier``, sign it as served (by ``signer``, default the supplier), post it."""
        typed = self.typed_data(supplier, terms)
        signature = Account.sign_typed_data((signer or self.world.account(supplier)).key, full_message=typed).signature
        answer = self.client.post(
            "/v1/credit/consents", json={**terms, "signature": "0x" + signature.hex()}, headers=self.headers(supplier)
        )
        return answer.status_code, answer.json()

    def revoke(self, who: str | LocalAccount, consent_id: str) -> tuple[int, dict[str, Any]]:
        answer = self.client.post(f"/v1/credit/consents/{consent_id}/revoke", headers=self.headers(who))
        return answer.status_code, answer.json()

    def listed(self, who: str | LocalAccount, **params: object) -> list[dict[str, Any]]:
        answer = self.client.get("/v1/credit/consents", headers=self.headers(who), params=params)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def ask_financing(self, supplier: str, piece_id: int, bank: str) -> None:
        answer = self.client.post(
            f"/v1/receivables/pieces/{piece_id}/financing-requests", json={"bank": bank}, headers=self.headers(supplier)
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def desk(fresh: World) -> Iterator[Desk]:
    # Confirmations 0: every indexed block is final, so a change on chain shows in the next read.
    settings = dataclasses.replace(fresh.settings, score_confirmations=0, score_refresh=0)
    other = Account.from_key(keccak(text="scf consent tests: a second bank"))
    membership = fresh.chain.contract(fresh.deployed.build["Membership"], fresh.deployed.addresses["Membership"])
    admit = membership.functions.admit(other.address, ROLE["bank"], 0, keccak(text="kyc second bank"))
    fresh.chain.transact(admit, fresh.account("admin"))
    fresh.index()
    with TestClient(create_app(settings)) as client:
        yield Desk(dataclasses.replace(fresh, client=client), other)


@pytest.fixture(autouse=True)
def no_grant_left(desk: Desk) -> Iterator[None]:
    yield
    for supplier in SUPPLIERS:
        for item in desk.listed(supplier, includeInactive="true"):
            if item["revokedAt"] is None:
                assert desk.revoke(supplier, item["id"])[0] == 200


def issue_to_tier1(desk: Desk, invoice: str, nonce: int) -> int:
    """A receivable of the core enterprise held by tier 1 (issued on chain, then indexed): its piece id."""
    deployed = desk.world.deployed
    root_id, _ = issue(deployed, issue_terms(deployed, invoice=invoice, nonce=nonce))
    desk.world.index()
    return root_id


# -- limits grant nothing ---------------------------------------------------------------------------


def test_a_zero_limit_grants_no_report_but_the_decision_stays_readable(desk: Desk) -> None:
    registry = desk.world.deployed.registry
    registry.grant(desk.world.account("bank"), desk.address("tier2"), 0, desk.world.chain.timestamp() + 30 * DAY)
    desk.world.index()
    limits = desk.client.get("/v1/credit/limits", headers=desk.headers("bank")).json()
    assert [(row["party"], row["limit"]) for row in limits] == [(desk.address("tier2"), "0")]
    assert desk.report("bank", "tier2") == 404
    decision = desk.client.get(f"/v1/credit/decisions/{desk.address('tier2')}", headers=desk.headers("bank"))
    assert decision.status_code == 200 and decision.json()["party"] == desk.address("tier2")


def test_a_live_or_revoked_limit_grants_no_report(desk: Desk) -> None:
    registry = desk.world.deployed.registry
    bank, tier3 = desk.world.account("bank"), desk.address("tier3")
    registry.grant(bank, tier3, 5_000 * 10**6, desk.world.chain.timestamp() + 30 * DAY)
    desk.world.index()
    assert desk.report("bank", "tier3") == 404
    registry.revoke(tier3, bank)
    desk.world.index()
    revoked = desk.client.get("/v1/credit/limits?includeRevoked=true", headers=desk.headers("bank")).json()
    assert any(row["party"] == tier3 and row["revoked"] for row in revoked)
    assert desk.report("bank", "tier3") == 404


# -- consents ---------------------------------------------------------------------------------------


def test_a_signed_consent_lets_that_bank_and_no_other_read_the_report(desk: Desk) -> None:
    assert desk.report("bank", "tier1") == 404
    status, consent = desk.consent("tier1", desk.terms(nonce=1))
    assert status == 201, consent
    assert consent["state"] == "active" and consent["supplier"] == desk.address("tier1")
    assert consent["bank"] == desk.address("bank") and consent["nonce"] == "1"
    assert desk.report("bank", "tier1") == 200
    assert desk.report(desk.other_bank, "tier1") == 404
    assert desk.report("bank", "tier2") == 404  # a consent opens one supplier's report, not the bank's clients'
    # The supplier lists what it gave, the bank what it was given; the others do not see it.
    assert [c["id"] for c in desk.listed("tier1")] == [consent["id"]]
    assert [c["id"] for c in desk.listed("bank")] == [consent["id"]]
    assert desk.listed(desk.other_bank) == [] and desk.listed("tier2") == []
    path = f"/v1/credit/consents/{consent['id']}"
    assert desk.client.get(path, headers=desk.headers("bank")).json() == consent
    assert desk.client.get(path, headers=desk.headers(desk.other_bank)).status_code == 404


def test_the_typed_data_serves_the_uint256_nonce_as_a_decimal_string_that_signs_as_served(desk: Desk) -> None:
    nonce = 2**200 + 7  # far above 2**53, where a JSON number would be rounded
    typed = desk.typed_data("tier1", desk.terms(nonce=nonce))
    assert typed["primaryType"] == "CreditReportConsent"
    assert typed["message"]["nonce"] == str(nonce)
    assert typed["domain"]["verifyingContract"] == desk.world.deployed.addresses["CreditRegistry"]
    status, consent = desk.consent("tier1", desk.terms(nonce=nonce))
    assert status == 201 and consent["nonce"] == str(nonce)
    # Posting the same consent again answers the stored one.
    again = desk.consent("tier1", {**desk.terms(nonce=nonce), "expiresAt": consent["expiresAt"]})
    assert again == (201, consent)


def test_a_revoked_consent_stops_the_next_read_and_cannot_be_posted_again(desk: Desk) -> None:
    terms = desk.terms(nonce=2)
    typed = desk.typed_data("tier1", terms)
    signature = "0x" + Account.sign_typed_data(desk.world.account("tier1").key, full_message=typed).signature.hex()
    answer = desk.client.post(
        "/v1/credit/consents", json={**terms, "signature": signature}, headers=desk.headers("tier1")
    )
    assert answer.status_code == 201, answer.text
    consent = answer.json()
    assert desk.report("bank", "tier1") == 200
    # The bank it was given to sees it but may not revoke it; anyone else does not see it.
    status, refused = desk.revoke("bank", consent["id"])
    assert status == 403 and refused["action"] == "revoke this consent"
    assert desk.revoke("tier2", consent["id"])[0] == 404
    status, revoked = desk.revoke("tier1", consent["id"])
    assert status == 200 and revoked["state"] == "revoked" and revoked["revokedAt"] is not None
    assert desk.report("bank", "tier1") == 404
    assert desk.revoke("tier1", consent["id"]) == (200, revoked)  # a second revocation keeps the first
    # The bank holds the signature: posting it again does not bring the consent back.
    replay = desk.client.post(
        "/v1/credit/consents", json={**terms, "signature": signature}, headers=desk.headers("tier1")
    )
    assert replay.status_code == 422 and replay.json()["field"] == "nonce", replay.text
    assert desk.report("bank", "tier1") == 404
    assert desk.listed("bank") == []
    assert {c["id"]: c["state"] for c in desk.listed("bank", includeInactive="true")}[consent["id"]] == "revoked"


def test_an_expired_consent_grants_nothing(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    status, consent = desk.consent("tier1", desk.terms(expires_in=HOUR, nonce=3))
    assert status == 201, consent
    assert desk.report("bank", "tier1") == 200
    monkeypatch.setattr(desk.consents, "clock", lambda: consent["expiresAt"])  # the API's clock reaches the expiry
    assert desk.report("bank", "tier1") == 404
    assert desk.listed("bank") == []
    assert {c["id"]: c["state"] for c in desk.listed("tier1", includeInactive="true")}[consent["id"]] == "expired"


def test_a_consent_signed_by_someone_else_is_422_naming_signature_and_stores_nothing(desk: Desk) -> None:
    for signer in (desk.world.account("tier2"), desk.world.account("bank")):
        status, body = desk.consent("tier1", desk.terms(nonce=4), signer=signer)
        assert status == 422 and body["field"] == "signature", body
        assert signer.address in str(body["detail"])
    malformed = desk.client.post(
        "/v1/credit/consents",
        json={**desk.terms(nonce=4), "signature": "0x" + "00" * 65},
        headers=desk.headers("tier1"),
    )
    assert malformed.status_code == 422 and malformed.json()["field"] == "signature"
    assert "4" not in [c["nonce"] for c in desk.listed("tier1", includeInactive="true")]
    assert desk.report("bank", "tier1") == 404


def test_bad_consent_terms_are_refused_naming_the_field(desk: Desk) -> None:
    headers = desk.headers("tier1")

    def field_of(terms: dict[str, Any]) -> tuple[int, Any]:
        answer = desk.client.post("/v1/credit/consents/typed-data", json=terms, headers=headers)
        body = answer.json()
        return answer.status_code, body.get("field") or body["detail"][0]["loc"][-1]

    assert field_of(desk.terms(expires_in=-1)) == (422, "expiresAt")
    assert field_of(desk.terms(expires_in=MAX_TERM + HOUR)) == (422, "expiresAt")
    assert field_of(desk.terms(bank=desk.address("tier2"))) == (422, "bank")  # not a bank
    # A uint256 is a decimal string; a JSON integer only where no JavaScript client has rounded it yet.
    for nonce in (2**53, -1, 1.5, True, "-1", "1e3", str(2**256), "0x10", ""):
        assert field_of({**desk.terms(), "nonce": nonce}) == (422, "nonce"), nonce
    assert field_of({**desk.terms(), "supplier": desk.address("tier2")}) == (422, "supplier")  # not the client's
    # A bank has no report to share.
    answer = desk.client.post(
        "/v1/credit/consents/typed-data", json=desk.terms(bank=desk.other_bank.address), headers=desk.headers("bank")
    )
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden", answer.text


# -- financing requests -----------------------------------------------------------------------------


def test_an_open_financing_request_grants_and_a_closed_one_does_not(desk: Desk) -> None:
    piece = issue_to_tier1(desk, "CONSENT-INV-1", 101)
    assert desk.report("bank", "tier1") == 404
    desk.ask_financing("tier1", piece, desk.address("bank"))
    assert desk.report("bank", "tier1") == 200  # the request is how a supplier applies to a bank
    assert desk.report(desk.other_bank, "tier1") == 404  # asked nothing
    # The supplier moves the piece to another holder: the request can no longer be met, and grants nothing.
    receivables_of(desk.world.deployed).transfer(piece, desk.address("tier2"), desk.world.account("tier1"))
    desk.world.index()
    assert desk.report("bank", "tier1") == 404


def test_an_auditor_reads_every_report_and_consent_but_revokes_none(desk: Desk) -> None:
    for supplier in SUPPLIERS:
        assert desk.report("auditor", supplier) == 200
    status, consent = desk.consent("tier2", desk.terms(nonce=6))
    assert status == 201, consent
    assert consent["id"] in [c["id"] for c in desk.listed("auditor")]
    assert desk.revoke("auditor", consent["id"])[0] == 403


def test_a_financing_request_for_a_matured_receivable_grants_nothing(desk: Desk) -> None:
    """Last in the module: it moves this chain's clock past the receivable's maturity."""
    piece = issue_to_tier1(desk, "CONSENT-INV-2", 102)
    desk.ask_financing("tier1", piece, desk.address("bank"))
    assert desk.report("bank", "tier1") == 200
    maturity = receivables_of(desk.world.deployed).root(piece).maturity
    desk.world.chain.advance_time(maturity - desk.world.chain.timestamp())
    desk.world.index()
    assert desk.report("bank", "tier1") == 404


def test_a_page_after_any_cursor_below_2_63_is_answered(desk: Desk) -> None:
    """The cursor is a 64-bit key on every database (PostgreSQL's INTEGER is 32 bits: ``after`` 2^31 was a 500)."""
    for after in (2**31 - 1, 2**31, 2**63 - 1):
        assert desk.listed("tier1", after=after) == []
    answer = desk.client.get("/v1/credit/consents", headers=desk.headers("tier1"), params={"after": 2**63})
    assert answer.status_code == 422 and answer.json()["field"] == "after", answer.text
