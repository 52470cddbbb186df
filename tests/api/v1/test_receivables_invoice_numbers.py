"""Issuing over HTTP: the invoice number is folded to ASCII before the debtor signs it, and a
look-alike is a 422 naming ``invoiceNumber``, never a second invoice key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_utils import keccak

from tests.support.api_world import World

DAY = 86_400


def terms(world: World, invoice_number: str) -> dict[str, Any]:
    now = world.chain.timestamp()
    return {
        "debtor": world.account("core").address,
        "creditor": world.account("tier1").address,
        "faceValue": "900000000",
        "maturity": str(now + 60 * DAY),
        "invoiceHash": "0x" + keccak(text="invoice HTTP-INV").hex(),
        "invoiceNumber": invoice_number,
        "orderId": "0",
        "nonce": "1",
        "deadline": str(now + DAY),
    }


@pytest.mark.parametrize(
    ("typed", "signed"),
    [("\uff29\uff2e\uff36\uff0d\uff11", "INV-1"), ("INV\u200b-1", "INV-1"), ("INV\u00a01", "INV 1")],
)
def test_the_debtor_signs_the_ascii_folding_of_the_number(world: World, typed: str, signed: str) -> None:
    answer = world.client.post("/v1/receivables/typed-data", json=terms(world, typed), headers=world.sign_in("core"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["typedData"]["message"]["invoiceNumber"] == signed


@pytest.mark.parametrize(
    ("typed", "named"),
    [("\u0406NV-1", "U+0406"), ("INV\u20101", "U+2010"), ("INV@1", "0x40")],
)
def test_a_number_the_contract_would_refuse_is_a_422_naming_the_field(world: World, typed: str, named: str) -> None:
    headers = {**world.sign_in("core"), "Content-Type": "application/json"}
    for path, body in (
        ("/v1/receivables/typed-data", terms(world, typed)),
        ("/v1/receivables", {"terms": terms(world, typed), "debtorSignature": "0x" + "11" * 65}),
    ):
        # ASCII JSON with \u escapes, as most clients send non-ASCII text.
        answer = world.client.post(path, content=json.dumps(body), headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        problem = answer.json()
        assert problem["field"] == "invoiceNumber", problem
        assert named in problem["detail"][0]["msg"], problem
