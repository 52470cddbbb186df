"""Documents: stored encrypted, downloaded by entitled parties only, checked against their hash."""

from __future__ import annotations

import base64

from eth_account import Account
from eth_utils import keccak
from sqlalchemy import select, update

from api.v1 import store
from tests.api.v1.conftest import World


def upload(world: World, role: str, content: bytes, parties: list[str], kind: str = "invoice") -> dict[str, object]:
    body = {
        "kind": kind,
        "filename": "invoice.pdf",
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
        "parties": parties,
    }
    answer = world.client.post("/v1/documents", json=body, headers=world.sign_in(role))
    assert answer.status_code == 201, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_an_entitled_party_downloads_the_exact_bytes_with_their_hash(world: World) -> None:
    content = b"%PDF-1.7 invoice 4711 for 1000 units"
    document = upload(world, "core", content, [world.account("tier1").address])
    assert document["keccak256"] == "0x" + keccak(content).hex()
    assert document["parties"] == sorted([world.account("core").address, world.account("tier1").address])
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=world.sign_in("tier1"))
    assert answer.status_code == 200 and answer.content == content
    assert answer.headers["x-content-keccak256"] == document["keccak256"]
    assert answer.headers["content-type"] == "application/pdf"


def test_the_stored_row_holds_no_plaintext(world: World) -> None:
    content = b"bill of lading MAEU-123456789 container MSKU1234565"
    document = upload(world, "tier1", content, [], kind="bill_of_lading")
    with world.client.app.state.services.store.connect() as connection:  # type: ignore[attr-defined]
        row = connection.execute(select(store.documents).where(store.documents.c.id == document["id"])).one()
        keys = connection.execute(select(store.document_keys)).all()
    assert b"MAEU" not in row.ciphertext and len(row.ciphertext) == len(content) + 16
    assert all(len(k.wrapped_key) == 32 + 16 for k in keys)


def test_other_parties_get_404_and_auditors_metadata_only(world: World) -> None:
    document = upload(world, "core", b"confidential terms", [world.account("tier1").address], kind="terms")
    for path in (f"/v1/documents/{document['id']}", f"/v1/documents/{document['id']}/content"):
        assert world.client.get(path, headers=world.sign_in("tier2")).status_code == 404
    auditor = world.sign_in("auditor")
    assert world.client.get(f"/v1/documents/{document['id']}", headers=auditor).status_code == 200
    assert world.client.get(f"/v1/documents/{document['id']}/content", headers=auditor).status_code == 404


def test_the_owner_shares_a_document_and_only_the_owner_may(world: World) -> None:
    document = upload(world, "core", b"shared later", [world.account("tier1").address])
    path = f"/v1/documents/{document['id']}/parties"
    refused = world.client.post(path, json={"party": world.account("tier2").address}, headers=world.sign_in("tier1"))
    assert refused.status_code == 403
    shared = world.client.post(path, json={"party": world.account("tier2").address}, headers=world.sign_in("core"))
    assert shared.status_code == 200 and world.account("tier2").address in shared.json()["parties"]
    got = world.client.get(f"/v1/documents/{document['id']}/content", headers=world.sign_in("tier2"))
    assert got.content == b"shared later"


def test_tampered_bytes_or_hash_are_refused_with_409(world: World) -> None:
    engine = world.client.app.state.services.store  # type: ignore[attr-defined]
    document = upload(world, "core", b"will be tampered", [])
    with engine.begin() as connection:
        row = connection.execute(select(store.documents).where(store.documents.c.id == document["id"])).one()
        flipped = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
        connection.execute(
            update(store.documents).where(store.documents.c.id == document["id"]).values(ciphertext=flipped)
        )
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=world.sign_in("core"))
    assert answer.status_code == 409 and answer.json()["error"] == "document_corrupted"
    other = upload(world, "core", b"hash will be rewritten", [])
    with engine.begin() as connection:
        connection.execute(
            update(store.documents).where(store.documents.c.id == other["id"]).values(keccak256="0x" + "11" * 32)
        )
    answer = world.client.get(f"/v1/documents/{other['id']}/content", headers=world.sign_in("core"))
    assert answer.status_code == 409 and answer.json()["error"] == "document_integrity"


def test_a_documents_hash_is_found_where_it_is_anchored_on_chain(world: World) -> None:
    assert world.scenario is not None
    document = upload(world, "core", b"invoice document IDX-INV-1", [world.account("tier1").address])
    assert {"kind": "receivable", "id": world.scenario.roots["tree"]} in document["anchors"]  # type: ignore[operator]


def test_bad_uploads_are_422_naming_the_field(world: World) -> None:
    headers = world.sign_in("core")
    body = {"kind": "invoice", "filename": "a.pdf", "mediaType": "application/pdf", "contentBase64": "@@@"}
    answer = world.client.post("/v1/documents", json=body, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "contentBase64"]
    body = {**body, "contentBase64": "aGVsbG8=", "parties": [Account.create().address]}
    answer = world.client.post("/v1/documents", json=body, headers=headers)
    assert answer.status_code == 422 and answer.json()["field"] == "parties[0]"
    body = {**body, "parties": [], "kind": "passport"}
    assert world.client.post("/v1/documents", json=body, headers=headers).status_code == 422
