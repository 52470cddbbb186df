"""``/v1/banks``: a bank's own exposure, financed and still offered, by obligor and by seller, read from the index.

On a ``fresh`` ledger: the dev bank buys one piece of a core's receivable and offers on another through
the API; its exposure counts the price paid until the receivable is repaid, and the open offer until
it is taken or lapses. Only a bank reads it.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account

from ledger.clients.token import TokenClient
from tests.support.api_world import World
from tests.support.receivables import finance, issue, issue_terms, offer_of, repay

UNIT = 10**6
MAX_UINT256 = 2**256 - 1


def _exposure(world: World, role: str, **params: str) -> Any:
    return world.client.get("/v1/banks/me/exposure", params=params, headers=world.sign_in(role))


def test_a_banks_exposure_counts_what_it_financed_until_repaid_and_what_it_offered_until_taken(fresh: World) -> None:
    deployed, bank = fresh.deployed, fresh.account("bank")
    tokens = TokenClient(fresh.chain, deployed.build, deployed.addresses["SettlementToken"])
    tokens.mint(bank.address, 1_000_000 * UNIT, bank)
    tokens.mint(fresh.account("core").address, 1_000_000 * UNIT, bank)
    tokens.approve(deployed.addresses["Receivables"], MAX_UINT256, bank)
    tokens.approve(deployed.addresses["Receivables"], MAX_UINT256, fresh.account("core"))
    bought, _ = issue(deployed, issue_terms(deployed, face=100_000 * UNIT, invoice="DESK-1", nonce=11))
    asked, _ = issue(deployed, issue_terms(deployed, face=50_000 * UNIT, invoice="DESK-2", nonce=12))
    finance(deployed, offer_of(deployed, bought, price=98_000 * UNIT, nonce=101), "tier1")

    # An offer through the API on the second piece, which tier1 asked the bank to finance.
    fresh.index()
    seller = fresh.sign_in("tier1")
    request = fresh.client.post(
        f"/v1/receivables/pieces/{asked}/financing-requests", json={"bank": bank.address}, headers=seller
    )
    assert request.status_code == 201, request.text
    headers = fresh.sign_in("bank")
    terms = {"price": str(45_000 * UNIT), "deadline": str(fresh.chain.timestamp() + 86_400), "nonce": "102"}
    typed = fresh.client.post(f"/v1/receivables/pieces/{asked}/offers/typed-data", json=terms, headers=headers)
    signature = Account.sign_typed_data(bank.key, full_message=typed.json()["typedData"]).signature
    posted = fresh.client.post(
        f"/v1/receivables/pieces/{asked}/offers", json={**terms, "signature": "0x" + signature.hex()}, headers=headers
    )
    assert posted.status_code == 201, posted.text

    core, tier1 = fresh.account("core").address, fresh.account("tier1").address
    answer = _exposure(fresh, "bank", obligor=core, seller=tier1)
    assert answer.status_code == 200, answer.text
    exposure = answer.json()
    assert exposure["bank"] == bank.address and exposure["now"] >= fresh.chain.timestamp()
    both = {"financed": str(98_000 * UNIT), "offered": str(45_000 * UNIT), "outstanding": str(143_000 * UNIT)}
    assert exposure["obligor"] == {"address": core, **both}
    assert exposure["seller"] == {"address": tier1, **both}
    assert exposure["total"] == both
    other = _exposure(fresh, "bank", obligor=tier1, seller=core).json()
    assert other["obligor"]["outstanding"] == other["seller"]["outstanding"] == "0"

    # Repaid: the money waits in the contract for the bank to claim; no exposure left on that piece.
    repay(deployed, bought, 100_000 * UNIT)
    fresh.index()
    after = _exposure(fresh, "bank", obligor=core).json()
    assert after["obligor"]["financed"] == "0" and after["obligor"]["offered"] == str(45_000 * UNIT)
    assert after["seller"] is None


def test_only_a_bank_reads_its_exposure(fresh: World) -> None:
    answer = _exposure(fresh, "tier1")
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
