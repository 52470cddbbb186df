"""Issuing over HTTP: what the debtor signs is the invoice's fingerprint and a commitment to its number,
never the number. A client sends both computed itself, or the number and date for a server that holds the
consortium key; a look-alike number, a missing date or a server without a key is a 422 that says what to do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_utils import keccak

from ledger.domain.fingerprints import fingerprint, invoice_commitment
from tests.support.api_world import CONSORTIUM_KEY, World

DAY = 86_400
FACE = "900000000"
DATE = "2026-01-15"


def terms(world: World, **invoice: Any) -> dict[str, Any]:
    now = world.chain.timestamp()
    return {
        "debtor": world.account("core").address,
        "creditor": world.account("tier1").address,
        "faceValue": FACE,
        "maturity": str(now + 60 * DAY),
        "invoiceHash": "0x" + keccak(text="invoice HTTP-INV").hex(),
        "orderId": "0",
        "nonce": "1",
        "deadline": str(now + DAY),
        **invoice,
    }


def drafted(world: World, body: dict[str, Any]) -> dict[str, Any]:
    answer = world.client.post("/v1/receivables/typed-data", json=body, headers=world.sign_in("core"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def problem(world: World, body: dict[str, Any]) -> dict[str, Any]:
    """Both the draft and the submission refuse ``body`` with a 422; the problem of the draft."""
    headers = {**world.sign_in("core"), "Content-Type": "application/json"}
    answers = [
        world.client.post("/v1/receivables/typed-data", content=json.dumps(body), headers=headers),
        world.client.post(
            "/v1/receivables",
            content=json.dumps({"terms": body, "debtorSignature": "0x" + "11" * 65}),
            headers=headers,
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
    return dict(answers[0].json())


@pytest.mark.parametrize("typed", ["INV-0001", "\uff29\uff2e\uff36\uff0d\uff11", "INV\u200b-1", " inv 1 "])
def test_the_server_fingerprints_any_spelling_of_the_number_alike(world: World, typed: str) -> None:
    answer = drafted(world, terms(world, invoiceNumber=typed, invoiceDate=DATE))
    message = answer["typedData"]["message"]
    expected = fingerprint(
        CONSORTIUM_KEY,
        debtor=world.account("core").address,
        creditor=world.account("tier1").address,
        invoice_number="INV-1",
        amount=int(FACE),
        invoice_date=DATE,
    )
    assert message["fingerprint"] == "0x" + expected.hex()
    salt = bytes.fromhex(answer["invoiceSalt"][2:])
    assert message["invoiceCommitment"] == "0x" + invoice_commitment(salt, "inv1").hex()
    assert "invoiceNumber" not in message and "inv" not in json.dumps(message).lower().replace("invoice", "")
    # Drafted twice, the same terms: the server keeps nothing between the draft and the submission.
    assert drafted(world, terms(world, invoiceNumber=typed, invoiceDate=DATE)) == answer


def test_a_client_may_send_what_it_computed_and_the_server_signs_that(world: World) -> None:
    tag, commitment = "0x" + "ab" * 32, "0x" + "cd" * 32
    answer = drafted(world, terms(world, fingerprint=tag, invoiceCommitment=commitment))
    message = answer["typedData"]["message"]
    assert (message["fingerprint"], message["invoiceCommitment"], answer["invoiceSalt"]) == (tag, commitment, None)


def test_a_client_salt_and_the_amount_are_used(world: World) -> None:
    salt = "0x" + "11" * 32
    body = terms(world, invoiceNumber="INV-7", invoiceDate=DATE, invoiceSalt=salt, invoiceAmount="5")
    message = drafted(world, body)["typedData"]["message"]
    assert message["invoiceCommitment"] == "0x" + invoice_commitment(bytes.fromhex(salt[2:]), "INV-7").hex()
    other = drafted(world, {**body, "invoiceAmount": "6"})["typedData"]["message"]
    assert other["fingerprint"] != message["fingerprint"]


def test_without_a_key_the_server_says_to_send_a_fingerprint(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.settings, "fingerprint_key", None)
    refused = problem(world, terms(world, invoiceNumber="INV-1", invoiceDate=DATE))
    assert refused["field"] == "fingerprint", refused
    assert "scf fingerprint" in refused["detail"][0]["msg"] and "--fingerprint-key" in refused["detail"][0]["msg"]
    # What the client computed itself still goes through.
    drafted(world, terms(world, fingerprint="0x" + "ab" * 32, invoiceCommitment="0x" + "cd" * 32))


@pytest.mark.parametrize(
    ("invoice", "field", "named"),
    [
        ({"invoiceNumber": "\u0406NV-1", "invoiceDate": DATE}, "invoiceNumber", "U+0406"),
        ({"invoiceNumber": "INV\u20101", "invoiceDate": DATE}, "invoiceNumber", "U+2010"),
        ({"invoiceNumber": "INV@1", "invoiceDate": DATE}, "invoiceNumber", "0x40"),
        ({"invoiceNumber": "INV-1"}, "invoiceDate", "YYYY-MM-DD"),
        ({"invoiceNumber": "INV-1", "invoiceDate": "2026-02-30"}, "invoiceDate", "YYYY-MM-DD"),
        ({}, "fingerprint", "invoiceNumber"),
        ({"fingerprint": "0x" + "ab" * 32}, "invoiceCommitment", "invoiceNumber"),
        ({"fingerprint": "0x" + "00" * 32, "invoiceCommitment": "0x" + "cd" * 32}, "fingerprint", "zero"),
        (
            {
                "invoiceNumber": "INV-1",
                "invoiceDate": DATE,
                "invoiceSalt": "0x" + "11" * 32,
                "invoiceCommitment": "0x" + "cd" * 32,
            },
            "invoiceCommitment",
            "does not commit",
        ),
    ],
)
def test_what_cannot_be_fingerprinted_is_a_422_naming_the_field(
    world: World, invoice: dict[str, Any], field: str, named: str
) -> None:
    refused = problem(world, terms(world, **invoice))
    assert refused["field"] == field, refused
    assert named in refused["detail"][0]["msg"], refused
