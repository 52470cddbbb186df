"""``scf documents upload|download|share|list``: documents sealed and opened on this machine, never by the API.

    scf documents upload FILE [--kind invoice] [--party ADDRESS ...] [--order ID] [--receivable ID]
    scf documents download ID [--out DIR] [--expect-hash 0x...]
    scf documents share ID PARTY
    scf documents list

Each takes ``--api URL`` (else ``SCF_API_URL``, else http://127.0.0.1:8000) and ``--key KEYSTORE`` (the
party's encrypted keystore, password in ``SCF_KEYSTORE_PASSWORD``). The command signs in with the key,
registers the account's own public key as its document key if the party has none yet, then:

* **upload** seals the file (AES-256-GCM under a fresh key, a fresh UUID as associated data:
  ``ledger.eth.ecies``), looks up the document keys of the parties named and of the order's or
  receivable's parties, checks each (an account key hashes to its address; any other carries the
  party's EIP-712 ``DocumentKey`` signature, checked here against the domain the API serves), wraps
  the key to each and to itself, and posts the lot with an Idempotency-Key;
* **download** fetches the sealed bytes and its own wrap, unwraps with whichever of its keys the wrap
  was made to (the account's, or the one derived from its signature of ``document_key_message``, which
  a browser wallet registers), decrypts, and refuses a plaintext whose keccak256 is not the claimed
  one (or ``--expect-hash``, the hash you read on chain yourself); it says where the hash is anchored;
* **share** unwraps its own key and posts it wrapped to the party's checked key (the owner only).

``DocumentClient`` does the work over any client with httpx's ``get``/``post`` (``ApiSession`` here, a
FastAPI ``TestClient`` in the tests); the handlers only parse options and print.
"""

from __future__ import annotations

import argparse
import base64
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from api.cli.errors import CommandError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

API_ENV = "SCF_API_URL"
DEFAULT_API = "http://127.0.0.1:8000"
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}


class DocumentsError(CommandError):
    """The API refused, or a document, wrap or key did not check out."""


class Answer(Protocol):
    status_code: int
    content: bytes
    text: str

    def json(self) -> Any: ...


class Http(Protocol):
    def get(self, url: str, *, headers: dict[str, str] | None = ..., params: Any = ...) -> Any: ...

    def post(self, url: str, *, json: Any = ..., headers: dict[str, str] | None = ...) -> Any: ...


class ApiSession:
    """``requests`` under the API's base URL, answering like httpx (what ``DocumentClient`` calls)."""

    def __init__(self, base: str, timeout: float = 60.0) -> None:
        import requests

        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout

    def get(self, url: str, *, headers: dict[str, str] | None = None, params: Any = None) -> Any:
        return self.session.get(self.base + url, headers=headers, params=params, timeout=self.timeout)

    def post(self, url: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.session.post(self.base + url, json=json, headers=headers, timeout=self.timeout)


@dataclass
class Opened:
    document: dict[str, Any]
    plaintext: bytes


@dataclass
class DocumentClient:
    http: Http
    account: LocalAccount
    headers: dict[str, str] = field(default_factory=dict)
    _keys: dict[bytes, bytes] = field(default_factory=dict)  # compressed public key -> private key
    _domain: dict[str, Any] | None = None
    #: The parties of the last lookup that have no document key (an upload cannot wrap to them).
    unkeyed: list[str] = field(default_factory=list)

    def _ok(self, answer: Any, doing: str) -> Any:
        if answer.status_code >= 400:
            raise DocumentsError(f"{doing}: the API answered {answer.status_code}: {answer.text[:500]}")
        return answer

    # -- signing in and keys --------------------------------------------------------------------------

    def sign_in(self) -> None:
        from eth_account import Account
        from eth_account.messages import encode_defunct

        challenge = self._ok(
            self.http.post("/v1/auth/challenge", json={"address": self.account.address}), "challenge"
        ).json()
        signed = Account.sign_message(encode_defunct(text=challenge["message"]), self.account.key).signature
        token = self._ok(
            self.http.post("/v1/auth/token", json={"nonce": challenge["nonce"], "signature": "0x" + signed.hex()}),
            "sign-in",
        ).json()
        self.headers = {"Authorization": f"Bearer {token['accessToken']}"}

    def my_keys(self) -> dict[bytes, bytes]:
        """The keys this party can open wraps with: its account key, and the key derived from its signature."""
        if not self._keys:
            from eth_account import Account
            from eth_account.messages import encode_defunct

            from ledger.eth import ecies

            account_key = bytes(self.account.key)
            message = encode_defunct(text=ecies.document_key_message(self.account.address))
            derived = ecies.derived_key(Account.sign_message(message, account_key).signature)
            self._keys = {ecies.public_key_of(k): k for k in (account_key, derived)}
        return self._keys

    def domain(self) -> dict[str, Any]:
        """The EIP-712 domain ``DocumentKey`` statements are signed under (as the API serves it)."""
        if self._domain is None:
            own = next(iter(self.my_keys()))
            served = self._ok(
                self.http.post(
                    "/v1/documents/keys/typed-data", json={"publicKey": "0x" + own.hex()}, headers=self.headers
                ),
                "the DocumentKey domain",
            ).json()
            self._domain = dict(served["typedData"]["domain"])
        return self._domain

    def ensure_key(self) -> bytes:
        """This party's registered document key, registering the account's own when it has none."""
        found = self.party_keys([self.account.address])
        if self.account.address in found:
            return found[self.account.address]
        own = next(iter(self.my_keys()))  # the account's key
        self._ok(
            self.http.post("/v1/documents/keys", json={"publicKey": "0x" + own.hex()}, headers=self.headers),
            "registering the document key",
        )
        return own

    def party_keys(
        self, parties: list[str], order: int | None = None, receivable: int | None = None
    ) -> dict[str, bytes]:
        """The checked document keys of ``parties`` and of the order's or receivable's parties (those with one)."""
        from ledger.domain.typed_data import Domain
        from ledger.eth import ecies, eip712

        params: list[tuple[str, str]] = [("party", p) for p in parties]
        if order is not None:
            params.append(("order", str(order)))
        if receivable is not None:
            params.append(("receivable", str(receivable)))
        rows = self._ok(
            self.http.get("/v1/documents/keys", params=params, headers=self.headers), "looking up keys"
        ).json()
        found: dict[str, bytes] = {}
        self.unkeyed = [row["party"] for row in rows if row["publicKey"] is None]
        for row in rows:
            if row["publicKey"] is None:
                continue
            key = bytes.fromhex(row["publicKey"][2:])
            if ecies.address_of(key) != row["party"]:
                if row["signature"] is None:
                    raise DocumentsError(f"the API serves {row['party']} a key that is not its own and is unsigned")
                d = self.domain()
                from api.v1.documents import key_statement

                statement = key_statement(
                    Domain(d["name"], d["version"], int(d["chainId"]), d["verifyingContract"]), row["party"], key
                )
                if eip712.recover(statement, bytes.fromhex(row["signature"][2:])) != row["party"]:
                    raise DocumentsError(f"{row['party']}'s document key is not signed by {row['party']}")
            found[row["party"]] = key
        return found

    def documents(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._ok(self.http.get("/v1/documents", headers=self.headers), "list").json()
        return answer

    # -- documents ------------------------------------------------------------------------------------

    def upload(
        self,
        content: bytes,
        filename: str,
        *,
        kind: str = "invoice",
        media_type: str = "application/octet-stream",
        parties: list[str] | None = None,
        order: int | None = None,
        receivable: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        from eth_utils import keccak

        from ledger.eth import ecies

        self.ensure_key()
        named = list(parties or [])
        keys = self.party_keys([self.account.address, *named], order, receivable)
        missing = [p for p in named if p not in keys]
        if missing:
            raise DocumentsError(f"no document key registered for {', '.join(missing)}: they must sign in once")
        document_id = str(uuid.uuid4())
        document_key, sealed = ecies.seal_document(content, document_id)
        wraps = [
            {
                "party": party,
                "publicKey": "0x" + key.hex(),
                "wrappedKey": "0x" + ecies.wrap(document_key, key, ecies.wrap_context(document_id, party)).hex(),
            }
            for party, key in sorted(keys.items())
        ]
        body = {
            "id": document_id,
            "kind": kind,
            "filename": filename,
            "mediaType": media_type,
            "keccak256": "0x" + keccak(content).hex(),
            "sealedBase64": base64.b64encode(sealed).decode(),
            "wraps": wraps,
        }
        headers = {**self.headers, "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        answer: dict[str, Any] = self._ok(self.http.post("/v1/documents", json=body, headers=headers), "upload").json()
        return answer

    def document_key(self, document_id: str) -> bytes:
        """This party's document key for ``document_id``, unwrapped here."""
        from ledger.eth import ecies

        wrap = self._ok(
            self.http.get(f"/v1/documents/{document_id}/key", headers=self.headers), "fetching your wrapped key"
        ).json()
        private = self.my_keys().get(bytes.fromhex(wrap["publicKey"][2:]))
        if private is None:
            raise DocumentsError(
                f"your wrap of {document_id} is to {wrap['publicKey']}, a key this account neither is nor derives: "
                "ask the owner to share it again"
            )
        try:
            return ecies.unwrap(
                private,
                bytes.fromhex(wrap["wrappedKey"][2:]),
                ecies.wrap_context(document_id, self.account.address),
            )
        except ecies.EciesError as exc:
            raise DocumentsError(f"your wrapped key for {document_id} does not open: {exc}") from exc

    def download(self, document_id: str, expect_hash: str | None = None) -> Opened:
        from ledger.eth import ecies

        document = self._ok(self.http.get(f"/v1/documents/{document_id}", headers=self.headers), "metadata").json()
        if expect_hash is not None and expect_hash.lower() != document["keccak256"]:
            raise DocumentsError(f"{document_id} claims {document['keccak256']}, not the {expect_hash} you expect")
        key = self.document_key(document_id)
        sealed = self._ok(
            self.http.get(f"/v1/documents/{document_id}/content", headers=self.headers), "download"
        ).content
        try:
            plaintext = ecies.open_document(key, sealed, document_id, document["keccak256"])
        except ecies.DocumentUnreadable as exc:
            raise DocumentsError(str(exc)) from exc
        return Opened(document, plaintext)

    def share(self, document_id: str, party: str) -> dict[str, Any]:
        from ledger.eth import ecies

        keys = self.party_keys([party])
        if party not in keys:
            raise DocumentsError(f"{party} has registered no document key: it must sign in once")
        document_key = self.document_key(document_id)
        body = {
            "party": party,
            "publicKey": "0x" + keys[party].hex(),
            "wrappedKey": "0x" + ecies.wrap(document_key, keys[party], ecies.wrap_context(document_id, party)).hex(),
        }
        answer: dict[str, Any] = self._ok(
            self.http.post(f"/v1/documents/{document_id}/parties", json=body, headers=self.headers), "share"
        ).json()
        return answer


# -- the command line ----------------------------------------------------------------------------------


def open_http(url: str) -> Http:
    """The HTTP client the commands use (a seam for the tests, which hand in the app's TestClient)."""
    return ApiSession(url)


def _client(args: argparse.Namespace) -> DocumentClient:
    from ledger.eth.keys import load_keystore

    client = DocumentClient(
        open_http(args.api or os.environ.get(API_ENV) or DEFAULT_API), load_keystore(Path(args.key))
    )
    client.sign_in()
    client.ensure_key()
    return client


def _checksummed(values: list[str] | None) -> list[str]:
    from eth_utils import to_checksum_address

    try:
        return [to_checksum_address(v) for v in values or []]
    except ValueError as exc:
        raise DocumentsError(f"not an address: {exc}") from exc


def cmd_upload(args: argparse.Namespace) -> int:
    path = Path(args.file)
    content = path.read_bytes()
    media_type = args.media_type or MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    client = _client(args)
    answer = client.upload(
        content,
        path.name,
        kind=args.kind,
        media_type=media_type,
        parties=_checksummed(args.party),
        order=args.order,
        receivable=args.receivable,
    )
    print(f"{answer['id']} {answer['keccak256']} sealed for {', '.join(answer['parties'])}")
    for party in client.unkeyed:
        print(f"not sealed for {party}: it has no document key yet (share it once the party has signed in)")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    opened = _client(args).download(args.id, args.expect_hash)
    out = Path(args.out) / Path(opened.document["filename"]).name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(opened.plaintext)
    anchors = ", ".join(f"{a['kind']} #{a['id']}" for a in opened.document["anchors"]) or "nowhere on chain yet"
    print(f"{out} keccak256 {opened.document['keccak256']} (checked), anchored at {anchors}")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    [party] = _checksummed([args.party])
    answer = _client(args).share(args.id, party)
    print(f"{answer['id']} shared with {party}; parties: {', '.join(answer['parties'])}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for d in _client(args).documents():
        print(f"{d['id']} {d['kind']:<14} {d['size']:>9} {d['keccak256']} {d['filename']}")
    return 0


def register(subparsers: Any) -> None:
    documents = subparsers.add_parser(
        "documents", help="documents sealed on this machine to their parties' keys (the API cannot read them)"
    ).add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api", help=f"the API's base URL (else {API_ENV}, else {DEFAULT_API})")
        p.add_argument("--key", required=True, help="your keystore (password in SCF_KEYSTORE_PASSWORD)")

    upload = documents.add_parser("upload", help="seal a file and upload it for you and the parties named")
    upload.add_argument("file")
    upload.add_argument("--kind", default="invoice", choices=("invoice", "bill_of_lading", "terms", "other"))
    upload.add_argument("--media-type", help="default: from the file's extension")
    upload.add_argument("--party", action="append", help="another party to wrap the key to (repeat)")
    upload.add_argument("--order", type=int, help="also wrap to this order's buyer and supplier")
    upload.add_argument("--receivable", type=int, help="also wrap to this receivable's debtor, creditor and holders")
    common(upload)
    upload.set_defaults(func=cmd_upload)

    download = documents.add_parser("download", help="download, decrypt and check a document")
    download.add_argument("id")
    download.add_argument("--out", default=".", help="directory to write the file to")
    download.add_argument("--expect-hash", help="the keccak256 you read on chain: refuse anything else")
    common(download)
    download.set_defaults(func=cmd_download)

    share = documents.add_parser("share", help="wrap a document's key to another party (the owner only)")
    share.add_argument("id")
    share.add_argument("party")
    common(share)
    share.set_defaults(func=cmd_share)

    listing = documents.add_parser("list", help="the documents you may read")
    common(listing)
    listing.set_defaults(func=cmd_list)
