"""Documents: stored encrypted, downloaded by entitled parties only, checked against their hash.

Filenames in any script download with an RFC 6266 / 5987 ``Content-Disposition`` that a quote
cannot break; an upload killed right after the store (a real ``scf serve`` with
``SCF_FAULT=after-document-store``) and retried with its Idempotency-Key on a new process
answers the stored document, once.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import func, select, update
from werkzeug.http import parse_options_header

from api.v1 import store
from api.v1.routes.documents import content_disposition
from tests.support import serve
from tests.support.api_world import World

_TOKENS: dict[tuple[int, str], dict[str, str]] = {}


def signed_in(world: World, role: str) -> dict[str, str]:
    """One sign-in per party and client: sign-in is rate-limited (``api.v1.ratelimit``), a token is not."""
    key = (id(world.client), role)
    if key not in _TOKENS:
        _TOKENS[key] = world.sign_in(role)
    return _TOKENS[key]


def upload(
    world: World, role: str, content: bytes, parties: list[str], kind: str = "invoice", filename: str = "invoice.pdf"
) -> dict[str, object]:
    body = {
        "kind": kind,
        "filename": filename,
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
        "parties": parties,
    }
    answer = world.client.post("/v1/documents", json=body, headers=signed_in(world, role))
    assert answer.status_code == 201, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_an_entitled_party_downloads_the_exact_bytes_with_their_hash(world: World) -> None:
    content = b"%PDF-1.7 invoice 4711 for 1000 units"
    document = upload(world, "core", content, [world.account("tier1").address])
    assert document["keccak256"] == "0x" + keccak(content).hex()
    assert document["parties"] == sorted([world.account("core").address, world.account("tier1").address])
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=signed_in(world, "tier1"))
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
        assert world.client.get(path, headers=signed_in(world, "tier2")).status_code == 404
    auditor = signed_in(world, "auditor")
    assert world.client.get(f"/v1/documents/{document['id']}", headers=auditor).status_code == 200
    assert world.client.get(f"/v1/documents/{document['id']}/content", headers=auditor).status_code == 404


def test_the_owner_shares_a_document_and_only_the_owner_may(world: World) -> None:
    document = upload(world, "core", b"shared later", [world.account("tier1").address])
    path = f"/v1/documents/{document['id']}/parties"
    refused = world.client.post(path, json={"party": world.account("tier2").address}, headers=signed_in(world, "tier1"))
    assert refused.status_code == 403
    shared = world.client.post(path, json={"party": world.account("tier2").address}, headers=signed_in(world, "core"))
    assert shared.status_code == 200 and world.account("tier2").address in shared.json()["parties"]
    got = world.client.get(f"/v1/documents/{document['id']}/content", headers=signed_in(world, "tier2"))
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
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=signed_in(world, "core"))
    assert answer.status_code == 409 and answer.json()["error"] == "document_corrupted"
    other = upload(world, "core", b"hash will be rewritten", [])
    with engine.begin() as connection:
        connection.execute(
            update(store.documents).where(store.documents.c.id == other["id"]).values(keccak256="0x" + "11" * 32)
        )
    answer = world.client.get(f"/v1/documents/{other['id']}/content", headers=signed_in(world, "core"))
    assert answer.status_code == 409 and answer.json()["error"] == "document_integrity"


def test_a_documents_hash_is_found_where_it_is_anchored_on_chain(world: World) -> None:
    assert world.scenario is not None
    document = upload(world, "core", b"invoice document IDX-INV-1", [world.account("tier1").address])
    assert {"kind": "receivable", "id": str(world.scenario.roots["tree"])} in document["anchors"]  # type: ignore[operator]


def test_bad_uploads_are_422_naming_the_field(world: World) -> None:
    headers = signed_in(world, "core")
    body: dict[str, Any] = {
        "kind": "invoice",
        "filename": "a.pdf",
        "mediaType": "application/pdf",
        "contentBase64": "@@@",
    }
    answer = world.client.post("/v1/documents", json=body, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "contentBase64"]
    body = {**body, "contentBase64": "aGVsbG8=", "parties": [Account.create().address]}
    answer = world.client.post("/v1/documents", json=body, headers=headers)
    assert answer.status_code == 422 and answer.json()["field"] == "parties[0]"
    body = {**body, "parties": [], "kind": "passport"}
    assert world.client.post("/v1/documents", json=body, headers=headers).status_code == 422


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
        "naïve café; 50% off.txt",
    ],
)
def test_any_filename_downloads_with_a_content_disposition_it_cannot_break(world: World, filename: str) -> None:
    document = upload(world, "tier2", f"content of {filename}".encode(), [], filename=filename)
    answer = world.client.get(f"/v1/documents/{document['id']}/content", headers=signed_in(world, "tier2"))
    assert answer.status_code == 200, answer.text
    header = answer.headers["content-disposition"]
    fallback, exact = _disposition(header)
    assert exact == filename == document["filename"]
    assert fallback.strip() and fallback == fallback.strip()
    # What a browser-grade reader makes of it (werkzeug prefers filename*, as RFC 6266 asks): one name, exact.
    assert parse_options_header(header) == ("attachment", {"filename": filename})


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
    body = {"kind": "invoice", "filename": filename, "mediaType": "application/pdf", "contentBase64": "aGVsbG8="}
    answer = world.client.post("/v1/documents", json=body, headers=signed_in(world, "tier3"))
    assert answer.status_code == 422, (filename, answer.text)
    assert answer.json()["detail"][0]["loc"] == ["body", "filename"]


def test_an_upload_killed_after_the_store_is_answered_once_on_retry(fresh: World, tmp_path: Path) -> None:
    core = fresh.account("core")
    content = b"%PDF-1.7 stored, then the process died"
    body = {
        "kind": "invoice",
        "filename": "Lieferschein Nr. 4711 \u2013 Köln.pdf",
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }
    env = {**serve.shared_secrets(), "SCF_API_IDEMPOTENCY_LEASE": "1"}
    where = serve.Target(fresh.devnet.url, fresh.record.parent, fresh.db_url)
    engine = fresh.client.app.state.services.store  # type: ignore[attr-defined]

    def stored() -> list[str]:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    select(store.documents.c.id).where(store.documents.c.owner == core.address)
                ).scalars()
            )

    before = stored()
    headers = serve.killed_mid_request(
        where, tmp_path / "a", env, "after-document-store", core, "/v1/documents", body, "kill-after-store"
    )
    [kept] = [i for i in stored() if i not in before]  # stored before the kill, and answered to nobody

    second = serve.start(where, tmp_path / "b", env)
    try:
        started = time.monotonic()
        retry = httpx.post(f"{second.base}/v1/documents", json=body, headers=headers, timeout=60)
        print(f"\nresumed upload answered in {time.monotonic() - started:.2f} s (lease 1 s)")
        assert retry.status_code == 201, retry.text
        assert retry.json()["id"] == kept and retry.json()["keccak256"] == "0x" + keccak(content).hex()
        again = httpx.post(f"{second.base}/v1/documents", json=body, headers=headers, timeout=60)
        assert again.json() == retry.json() and again.headers["idempotent-replayed"] == "true"
        download = httpx.get(f"{second.base}/v1/documents/{kept}/content", headers=headers, timeout=60)
        assert download.status_code == 200 and download.content == content
    finally:
        second.stop()
    assert [i for i in stored() if i not in before] == [kept]
    with engine.connect() as connection:
        keys = connection.execute(
            select(func.count()).select_from(store.document_keys).where(store.document_keys.c.document_id == kept)
        ).scalar_one()
    assert keys == 1
