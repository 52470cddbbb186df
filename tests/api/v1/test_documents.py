"""Documents sealed by their parties: the server stores ciphertext and wraps it cannot open; each entitled party can.

The parties act through ``api.cli.documents.DocumentClient`` (what ``scf documents`` runs) against the app.
Nothing the server holds opens a document: every value in every row of its store and every secret in its
settings and environment is tried as a document key and as a private key; a wrap moved to another row or
party does not open. The buyer, the seller and (once the owner shares) a bank each open it; a stranger gets
no wrap, an auditor metadata only. Bad input is a 4xx naming the field. An upload killed right after the store
(a real ``scf serve`` with ``SCF_FAULT=after-document-store``) and retried with its Idempotency-Key on a new
process answers the stored document, once.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from sqlalchemy import func, select, update
from werkzeug.http import parse_options_header

from api.cli.documents import DocumentClient, DocumentsError
from api.v1 import store
from api.v1.documents import document_public_keys, document_wraps, sealed_documents
from api.v1.routes.documents import content_disposition
from ledger.eth import ecies, eip712
from tests.support import serve
from tests.support.api_world import World
from tests.support.documents import sealed_body

_CLIENTS: dict[tuple[int, str], DocumentClient] = {}


def party(world: World, role: str) -> DocumentClient:
    """One signed-in client per party and app (sign-in is rate-limited; a token is not), its key registered."""
    key = (id(world.client), role)
    if key not in _CLIENTS:
        client = DocumentClient(world.client, world.account(role))
        client.sign_in()
        client.ensure_key()
        _CLIENTS[key] = client
    return _CLIENTS[key]


def engine(world: World) -> Any:
    return world.client.app.state.services.store  # type: ignore[attr-defined]


def upload(world: World, role: str, content: bytes, parties: list[str], **options: Any) -> dict[str, Any]:
    """``role`` seals and uploads ``content`` for itself and ``parties``, each signed in once (so its key is known)."""
    roles = {str(account.address): name for name, account in world.deployed.accounts.by_role.items()}
    for address in parties:
        party(world, roles[address])
    return party(world, role).upload(content, options.pop("filename", "invoice.pdf"), parties=parties, **options)


def test_the_buyer_and_the_seller_each_open_the_exact_bytes_checked_against_their_hash(world: World) -> None:
    content = b"%PDF-1.7 invoice 4711 for 1000 units"
    document = upload(world, "core", content, [world.account("tier1").address], media_type="application/pdf")
    assert document["keccak256"] == "0x" + keccak(content).hex() and document["size"] == len(content)
    assert document["parties"] == sorted([world.account("core").address, world.account("tier1").address])
    for role in ("core", "tier1"):
        opened = party(world, role).download(document["id"], expect_hash=document["keccak256"])
        assert opened.plaintext == content and opened.document["mediaType"] == "application/pdf"


def test_a_bank_opens_a_document_once_the_owner_shares_it_and_only_the_owner_may(world: World) -> None:
    document = upload(world, "core", b"shared later", [world.account("tier1").address])
    bank = party(world, "bank")
    assert world.client.get(f"/v1/documents/{document['id']}/key", headers=bank.headers).status_code == 404
    with pytest.raises(DocumentsError, match="403"):
        party(world, "tier1").share(document["id"], world.account("bank").address)
    shared = party(world, "core").share(document["id"], world.account("bank").address)
    assert world.account("bank").address in shared["parties"]
    assert bank.download(document["id"]).plaintext == b"shared later"


def test_a_stranger_gets_no_wrap_no_bytes_and_an_auditor_metadata_only(world: World) -> None:
    document = upload(world, "core", b"confidential terms", [world.account("tier1").address], kind="terms")
    stranger, auditor = party(world, "tier2").headers, party(world, "auditor").headers
    for tail in ("", "/content", "/key"):
        assert world.client.get(f"/v1/documents/{document['id']}{tail}", headers=stranger).status_code == 404
    assert world.client.get(f"/v1/documents/{document['id']}", headers=auditor).status_code == 200
    for tail in ("/content", "/key"):
        assert world.client.get(f"/v1/documents/{document['id']}{tail}", headers=auditor).status_code == 404
    own = world.client.get(f"/v1/documents/{document['id']}/key", headers=party(world, "tier1").headers).json()
    assert own["party"] == world.account("tier1").address  # its own wrap, nobody else's


def _values(row: Any) -> list[bytes]:
    """Every value of a row as bytes: raw, and decoded from hex or base64 where it reads as either."""
    found: list[bytes] = []
    for value in row:
        if isinstance(value, bytes | bytearray | memoryview):
            found.append(bytes(value))
        elif isinstance(value, str):
            found.append(value.encode())
            text = value.removeprefix("0x")
            if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
                found.append(bytes.fromhex(text))
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(value, validate=True))
        elif isinstance(value, int):
            found.append(value.to_bytes(32, "big") if 0 <= value < 2**256 else b"")
    return found


def _candidates(world: World) -> set[bytes]:
    """Every 32-byte value the server holds: in any row of any of its tables, its settings, its environment."""
    values: list[bytes] = [world.settings.token_secret, world.settings.webhook_key]
    binary: list[bytes] = []
    for name, value in os.environ.items():
        if name.startswith("SCF_"):
            values += _values([value])
    with engine(world).connect() as connection:
        for table in store.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                values += _values(row)
                binary += [bytes(v) for v in row if isinstance(v, bytes | memoryview)]
    keys = {v for v in values if len(v) == 32}
    # Any 32 bytes inside a short binary value (a wrap, a public key): where a key would hide if one were kept.
    keys |= {v[i : i + 32] for v in binary if 32 < len(v) <= 128 for i in range(len(v) - 31)}
    return keys


def test_nothing_the_server_holds_opens_a_document_or_a_wrap(world: World) -> None:
    content = b"bill of lading MAEU-123456789 container MSKU1234565"
    document = upload(world, "tier1", content, [world.account("core").address], kind="bill_of_lading")
    with engine(world).connect() as connection:
        row = connection.execute(select(sealed_documents).where(sealed_documents.c.id == document["id"])).one()
        wraps = connection.execute(select(document_wraps).where(document_wraps.c.document_id == document["id"])).all()
        stored = [
            bytes(v) for t in store.metadata.sorted_tables for r in connection.execute(select(t)) for v in _values(r)
        ]
    assert not any(b"MAEU" in v for v in stored)  # no plaintext anywhere in the store
    assert len(row.sealed) == len(content) + 28 and len(wraps) == 2
    assert all(len(w.wrapped_key) == ecies.WRAP_SIZE for w in wraps)
    candidates = _candidates(world)
    assert world.settings.webhook_key in candidates and len(candidates) > 100
    nonce, sealed = row.sealed[:12], row.sealed[12:]
    for key in candidates:
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(nonce, sealed, document["id"].encode())
        if 0 < int.from_bytes(key, "big") < ecies.N:
            for w in wraps:
                with pytest.raises(ecies.UnwrapFailed):
                    ecies.unwrap(key, w.wrapped_key, ecies.wrap_context(document["id"], w.party))
    # ... while each party's own key does.
    assert party(world, "core").download(document["id"]).plaintext == content


def test_a_wrap_moved_to_another_document_or_party_does_not_open(world: World) -> None:
    core, tier1 = world.account("core").address, world.account("tier1").address
    first = upload(world, "core", b"first document", [tier1])
    second = upload(world, "core", b"second document", [tier1])
    with engine(world).begin() as connection:
        theirs = connection.execute(
            select(document_wraps.c.wrapped_key).where(
                document_wraps.c.document_id == first["id"], document_wraps.c.party == tier1
            )
        ).scalar_one()
        connection.execute(  # tier1's wrap of the first document, put on the second's row
            update(document_wraps)
            .where(document_wraps.c.document_id == second["id"], document_wraps.c.party == tier1)
            .values(wrapped_key=theirs)
        )
        mine = connection.execute(
            select(document_wraps.c.wrapped_key).where(
                document_wraps.c.document_id == first["id"], document_wraps.c.party == core
            )
        ).scalar_one()
        connection.execute(  # core's wrap, handed to tier1 as its own
            update(document_wraps)
            .where(document_wraps.c.document_id == first["id"], document_wraps.c.party == tier1)
            .values(wrapped_key=mine)
        )
    for document in (first, second):
        with pytest.raises(DocumentsError, match="does not open"):
            party(world, "tier1").download(document["id"])
    assert party(world, "core").download(first["id"]).plaintext == b"first document"


def test_altered_bytes_or_a_rewritten_hash_are_refused_by_the_reader(world: World) -> None:
    document = upload(world, "core", b"will be tampered", [])
    with engine(world).begin() as connection:
        sealed = connection.execute(
            select(sealed_documents.c.sealed).where(sealed_documents.c.id == document["id"])
        ).scalar_one()
        connection.execute(
            update(sealed_documents)
            .where(sealed_documents.c.id == document["id"])
            .values(sealed=sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:])
        )
    with pytest.raises(DocumentsError, match="fails authentication"):
        party(world, "core").download(document["id"])
    other = upload(world, "core", b"hash will be rewritten", [])
    with engine(world).begin() as connection:
        connection.execute(
            update(sealed_documents).where(sealed_documents.c.id == other["id"]).values(keccak256="0x" + "11" * 32)
        )
    with pytest.raises(DocumentsError, match="does not hash"):
        party(world, "core").download(other["id"])
    with pytest.raises(DocumentsError, match="not the 0x"):  # the hash read on chain is not the one claimed
        party(world, "core").download(document["id"], expect_hash="0x" + "22" * 32)


def test_a_browser_wallets_derived_key_is_registered_with_its_signature_and_opens(world: World) -> None:
    tier3 = world.account("tier3")
    client = DocumentClient(world.client, tier3)
    client.sign_in()
    signature = Account.sign_message(encode_defunct(text=ecies.document_key_message(tier3.address)), tier3.key)
    derived = ecies.public_key_of(ecies.derived_key(signature.signature))
    served = world.client.post(
        "/v1/documents/keys/typed-data", json={"publicKey": "0x" + derived.hex()}, headers=client.headers
    )
    assert served.status_code == 200, served.text
    unsigned = world.client.post("/v1/documents/keys", json={"publicKey": "0x" + derived.hex()}, headers=client.headers)
    assert unsigned.status_code == 422 and unsigned.json()["field"] == "signature"
    typed = served.json()["typedData"]
    by_other = "0x" + eip712.sign(world.account("tier2"), eip712_document(typed)).hex()
    refused = world.client.post(
        "/v1/documents/keys", json={"publicKey": "0x" + derived.hex(), "signature": by_other}, headers=client.headers
    )
    assert refused.status_code == 422 and refused.json()["field"] == "signature"
    statement = "0x" + eip712.sign(tier3, eip712_document(typed)).hex()
    registered = world.client.post(
        "/v1/documents/keys", json={"publicKey": "0x" + derived.hex(), "signature": statement}, headers=client.headers
    )
    assert registered.status_code == 200 and registered.json()["signature"] == statement
    document = upload(world, "core", b"for a browser wallet", [tier3.address])  # core checks the signed key
    wrap = world.client.get(f"/v1/documents/{document['id']}/key", headers=client.headers).json()
    assert wrap["publicKey"] == "0x" + derived.hex()
    assert client.download(document["id"]).plaintext == b"for a browser wallet"


def eip712_document(served: dict[str, Any]) -> dict[str, Any]:
    """The served typed data as eth-account signs it (the served integers are decimal strings)."""
    domain = {**served["domain"], "chainId": int(served["domain"]["chainId"])}
    return {**served, "domain": domain}


def test_a_key_the_server_swaps_in_is_caught_by_the_client(world: World) -> None:
    """The lookup is checked client-side: an unsigned key that is not the account's is refused."""
    tier2 = world.account("tier2").address
    party(world, "tier2")  # registered its account key
    forged = ecies.public_key_of(b"\x07" * 32)
    with engine(world).begin() as connection:
        real = connection.execute(
            select(document_public_keys.c.public_key).where(document_public_keys.c.party == tier2)
        ).scalar_one()
        connection.execute(
            update(document_public_keys).where(document_public_keys.c.party == tier2).values(public_key=forged)
        )
    try:
        with pytest.raises(DocumentsError, match="not its own and is unsigned"):
            upload(world, "core", b"not for the operator", [tier2])
    finally:
        with engine(world).begin() as connection:
            connection.execute(
                update(document_public_keys).where(document_public_keys.c.party == tier2).values(public_key=real)
            )


def test_keys_are_looked_up_for_a_receivables_parties(world: World) -> None:
    assert world.scenario is not None
    root = world.scenario.roots["tree"]
    answer = world.client.get(
        "/v1/documents/keys", params={"receivable": str(root)}, headers=party(world, "core").headers
    )
    assert answer.status_code == 200, answer.text
    named = {row["party"] for row in answer.json()}
    assert world.account("core").address in named and len(named) >= 2
    assert (
        world.client.get(
            "/v1/documents/keys", params={"receivable": "999999"}, headers=party(world, "core").headers
        ).status_code
        == 404
    )


def test_a_documents_hash_is_found_where_it_is_anchored_on_chain(world: World) -> None:
    assert world.scenario is not None
    document = upload(world, "core", b"invoice document IDX-INV-1", [world.account("tier1").address])
    assert {"kind": "receivable", "id": str(world.scenario.roots["tree"])} in document["anchors"]


def _body(world: World, role: str, **change: Any) -> dict[str, Any]:
    """A valid upload body for ``role`` alone (its account key registered), with ``change`` applied."""
    party(world, role)
    return sealed_body(world.account(role), **change)


def _field(answer: httpx.Response) -> str:
    body = answer.json()
    assert "field" in body or "detail" in body, body
    return str(body.get("field") or ".".join(str(p) for p in body["detail"][0]["loc"][1:]))


def test_bad_uploads_are_4xx_naming_the_field(world: World) -> None:
    headers = party(world, "core").headers
    good = _body(world, "core")
    wrap = good["wraps"][0]
    stranger = Account.create().address
    off_curve = "0x02" + "ff" * 32
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"sealedBase64": "@@@@" * 12}, 422, "sealedBase64"),
        ({"sealedBase64": base64.b64encode(b"x" * 27).decode()}, 422, "sealedBase64"),  # no room for nonce and tag
        ({"id": "not-a-uuid"}, 422, "id"),
        ({"id": str(uuid.uuid1())}, 422, "id"),
        ({"keccak256": "0x1234"}, 422, "keccak256"),
        ({"wraps": []}, 422, "wraps"),
        ({"wraps": "NaN"}, 422, "wraps"),
        ({"wraps": [{**wrap, "publicKey": off_curve}]}, 422, "wraps[0].publicKey"),
        ({"wraps": [{**wrap, "publicKey": "0x05" + "11" * 32}]}, 422, "wraps[0].publicKey"),
        ({"wraps": [{**wrap, "wrappedKey": wrap["wrappedKey"][:-2]}]}, 422, "wraps[0].wrappedKey"),
        ({"wraps": [{**wrap, "wrappedKey": "0x02" + wrap["wrappedKey"][4:]}]}, 422, "wraps[0].wrappedKey"),
        ({"wraps": [{**wrap, "publicKey": "0x" + ecies.public_key_of(b"\x09" * 32).hex()}]}, 422, "wraps[0].publicKey"),
        ({"wraps": [wrap, wrap]}, 422, "wraps[1].party"),
        ({"wraps": [{**wrap, "party": world.account("tier1").address}]}, 422, "wraps"),
        ({"wraps": [wrap, {**wrap, "party": stranger}]}, 422, "wraps[1].party"),
    ]
    for change, status, field in cases:
        answer = world.client.post("/v1/documents", json=_body(world, "core", **change), headers=headers)
        assert (answer.status_code, _field(answer)) == (status, field), (change, answer.text)
    nan = world.client.post(
        "/v1/documents", content=b'{"id": NaN}', headers={**headers, "Content-Type": "application/json"}
    )
    assert (nan.status_code, nan.json()["field"]) == (400, "id"), nan.text  # the strict JSON reader names it


def test_an_oversized_document_is_413_and_a_taken_id_409(world: World) -> None:
    headers = party(world, "core").headers
    limit = world.settings.max_document
    body = _body(world, "core", sealedBase64=base64.b64encode(b"\x00" * (limit + 29)).decode())
    assert world.client.post("/v1/documents", json=body, headers=headers).status_code == 413
    taken = upload(world, "core", b"first with this id", [])
    again = _body(world, "tier1", id=taken["id"])
    answer = world.client.post("/v1/documents", json=again, headers=party(world, "tier1").headers)
    assert answer.status_code == 409 and answer.json()["error"] == "document_exists"


def test_bad_keys_and_shares_are_422_naming_the_field(world: World) -> None:
    core = party(world, "core")
    other = "0x" + ecies.public_key_of(b"\x08" * 32).hex()
    for body, field in [
        ({"publicKey": "0x02" + "ff" * 32}, "publicKey"),
        ({"publicKey": "0x1234"}, "publicKey"),
        ({"publicKey": other}, "signature"),
        ({"publicKey": other, "signature": "0x" + "00" * 65}, "signature"),
    ]:
        answer = world.client.post("/v1/documents/keys", json=body, headers=core.headers)
        assert (answer.status_code, _field(answer)) == (422, field), answer.text
    document = upload(world, "core", b"to share badly", [])
    path = f"/v1/documents/{document['id']}/parties"
    wrap = _body(world, "core")["wraps"][0]
    for body, field in [
        ({**wrap, "party": Account.create().address}, "party"),
        ({**wrap, "party": world.account("tier1").address}, "publicKey"),
        ({**wrap, "wrappedKey": "0x01" + "00" * 93}, "wrappedKey"),
    ]:
        answer = world.client.post(path, json=body, headers=core.headers)
        assert (answer.status_code, _field(answer)) == (422, field), answer.text
    bad_query = world.client.get("/v1/documents/keys", params={"order": "NaN"}, headers=core.headers)
    assert bad_query.status_code == 422


#: RFC 6266 with RFC 5987: a quoted ASCII fallback, then the exact name percent-encoded in UTF-8.
_DISPOSITION = re.compile(
    r"""attachment; filename="([ !#-\[\]-~]+)"; filename\*=UTF-8''((?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+)"""
)


def _disposition(header: str) -> tuple[str, str]:
    """The ASCII fallback and the exact filename of a ``Content-Disposition``, read by its grammar."""
    match = _DISPOSITION.fullmatch(header)
    assert match is not None, header
    return match[1], unquote(match[2], errors="strict")


@pytest.mark.parametrize(
    "filename",
    [
        "Rechnung Müller 2024.pdf",
        "счёт №7.pdf",
        "発注書.pdf",
        'a"b.pdf',
        'x.pdf"; filename="evil.exe',
        "naïve café.txt",
    ],
)
def test_any_filename_downloads_with_a_content_disposition_it_cannot_break(world: World, filename: str) -> None:
    document = upload(world, "tier2", f"content of {filename}".encode(), [], filename=filename)
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=party(world, "tier2").headers)
    assert answer.status_code == 200, answer.text
    header = answer.headers["content-disposition"]
    fallback, exact = _disposition(header)
    assert exact == filename + ".sealed" and document["filename"] == filename
    assert fallback.strip() and fallback == fallback.strip()
    # What a browser-grade reader makes of it (werkzeug prefers filename*, as RFC 6266 asks): one name, exact.
    assert parse_options_header(header) == ("attachment", {"filename": filename + ".sealed"})


def test_the_ascii_fallback_keeps_what_ascii_can_say() -> None:
    assert content_disposition("Rechnung Müller.pdf") == (
        "attachment; filename=\"Rechnung Muller.pdf\"; filename*=UTF-8''Rechnung%20M%C3%BCller.pdf"
    )
    assert content_disposition('q"uote\\d.pdf').startswith('attachment; filename="q_uote_d.pdf";')
    assert content_disposition("счёт.pdf").startswith('attachment; filename="download.pdf";')
    assert content_disposition("счёт №7.pdf").startswith('attachment; filename="No7.pdf";')
    assert content_disposition("счёт").startswith('attachment; filename="download";')


@pytest.mark.parametrize(
    "filename",
    [
        "a\x00b.pdf",
        "a\nb.pdf",
        "a\x7fb.pdf",
        "a\x85b.pdf",
        "../etc/passwd",
        "a/b.pdf",
        "a\\b.pdf",
        "invoice\u202efdp.exe",
        "zero\u200bwidth.pdf",
        ".",
        "..",
        " lead.pdf",
        "trail.pdf ",
        "x" * 256,
        "é" * 128,
        "",
    ],
)
def test_a_filename_with_controls_paths_or_too_many_bytes_is_422_naming_it(world: World, filename: str) -> None:
    answer = world.client.post(
        "/v1/documents", json=_body(world, "tier3", filename=filename), headers=party(world, "tier3").headers
    )
    assert answer.status_code == 422, (filename, answer.text)
    assert answer.json()["detail"][0]["loc"] == ["body", "filename"]


@pytest.mark.one_database("a killed scf serve, and its recovery from the store, cost a process to repeat")
def test_an_upload_killed_after_the_store_is_answered_once_on_retry(fresh: World, tmp_path: Path) -> None:
    core = fresh.account("core")
    content = b"%PDF-1.7 stored, then the process died"
    party(fresh, "core")  # registers core's account key in the store the served processes share
    body = sealed_body(core, content, filename="Lieferschein Nr. 4711 \u2013 Köln.pdf")
    env = {**serve.shared_secrets(), "SCF_API_IDEMPOTENCY_LEASE": "1"}
    where = serve.Target(fresh.devnet.url, fresh.record.parent, fresh.db_url)

    def stored() -> list[str]:
        with engine(fresh).connect() as connection:
            return list(
                connection.execute(
                    select(sealed_documents.c.id).where(sealed_documents.c.owner == core.address)
                ).scalars()
            )

    before = stored()
    headers = serve.killed_mid_request(
        where, tmp_path / "a", env, "after-document-store", core, "/v1/documents", body, "kill-after-store"
    )
    [kept] = [i for i in stored() if i not in before]  # stored before the kill, and answered to nobody
    assert kept == body["id"]

    second = serve.start(where, tmp_path / "b", env)
    try:
        started = time.monotonic()
        retry = httpx.post(f"{second.base}/v1/documents", json=body, headers=headers, timeout=60)
        print(f"\nresumed upload answered in {time.monotonic() - started:.2f} s (lease 1 s)")
        assert retry.status_code == 201, retry.text
        assert retry.json()["id"] == kept and retry.json()["keccak256"] == "0x" + keccak(content).hex()
        again = httpx.post(f"{second.base}/v1/documents", json=body, headers=headers, timeout=60)
        assert again.json() == retry.json() and again.headers["idempotent-replayed"] == "true"
        with httpx.Client(base_url=second.base, timeout=60) as http:
            reader = DocumentClient(http, core, headers={"Authorization": headers["Authorization"]})
            assert reader.download(kept).plaintext == content
    finally:
        second.stop()
    assert [i for i in stored() if i not in before] == [kept]
    with engine(fresh).connect() as connection:
        wraps = connection.execute(
            select(func.count()).select_from(document_wraps).where(document_wraps.c.document_id == kept)
        ).scalar_one()
    assert wraps == 1
