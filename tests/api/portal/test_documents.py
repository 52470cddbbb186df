"""The browser's document crypto (``api/portal/web/src/documents.ts``), held to ``ledger.eth.ecies`` both ways.

The module runs on Node (bundled by the esbuild the portal is built with), as ``test_proof.py`` runs the
proof verifier: it opens a document Python sealed, through a wrap to the account key (the dev wallet) and
one to the key derived from the wallet's signature (a browser wallet), derives that key exactly as Python
does from ethers' ``signMessage``, refuses a tampered wrap, a wrap moved to another party and bytes that do
not hash to the claim, accepts a party's key only if it is the account's or carries the party's EIP-712
``DocumentKey`` signature (what keeps the API from slipping in a key of its own); and Python opens a
document and a wrap the module made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from api.v1.documents import key_domain, key_statement
from api.v1.routes.common import typed
from ledger.eth import ecies, eip712
from tests.support.node_driver import run_driver

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS_TS = ROOT / "api" / "portal" / "web" / "src" / "documents.ts"

DRIVER = """
import { readFileSync } from "node:fs";
import { Wallet, getBytes, hexlify, keccak256 } from "ethers";
import * as d from "DOCUMENTS_TS";
const c = JSON.parse(readFileSync(process.argv[2], "utf8"));
const wallet = new Wallet(c.accountKey);
const message = d.documentKeyMessage(wallet.address);
const signature = await wallet.signMessage(message);
const ring = await d.keyring(signature, c.accountKey);
const derived = [...ring.keys()].find((k) => k !== d.compressed(c.accountKey));
const opened = {};
for (const [name, w] of Object.entries(c.wraps)) {
  try {
    const key = await d.documentKeyOf(ring, c.documentId, w);
    opened[name] = hexlify(await d.openDocument(key, getBytes(c.sealed), c.documentId, c.keccak));
  } catch (err) {
    if (!(err instanceof d.DocumentCryptoError)) throw err;
    opened[name] = { error: err.reason };
  }
}
const good = await d.documentKeyOf(ring, c.documentId, c.wraps.account);
let wrongHash = null;
try {
  await d.openDocument(good, getBytes(c.sealed), c.documentId, keccak256("0x00"));
} catch (err) {
  wrongHash = err.reason;
}
const theirs = c.keys.map((k) => d.keyIsTheirs(k, c.typedData));
const mine = await d.sealDocument(getBytes(c.plaintextForPython), c.documentId);
const toPython = await d.wrap(mine.key, c.pythonPublicKey, d.wrapContext(c.documentId, c.pythonAddress));
console.log(JSON.stringify({
  message, signature, derived, opened, wrongHash, theirs,
  address: d.addressOf(d.compressed(c.accountKey)),
  sealed: hexlify(mine.sealed), wrap: hexlify(toPython), wrapSize: d.WRAP_SIZE,
}));
"""


def _run_on_node(tmp_path: Path, case: dict[str, Any]) -> dict[str, Any]:
    return run_driver(tmp_path, DRIVER.replace("DOCUMENTS_TS", DOCUMENTS_TS.as_posix()), case, timeout=120)


def _wrap(key: bytes, public_key: bytes, document_id: str, party: str) -> dict[str, str]:
    blob = ecies.wrap(key, public_key, ecies.wrap_context(document_id, party))
    return {"party": party, "publicKey": "0x" + public_key.hex(), "wrappedKey": "0x" + blob.hex()}


def test_the_portal_opens_what_python_sealed_and_python_opens_what_the_portal_sealed(tmp_path: Path) -> None:
    account, python_party = Account.create(), Account.create()
    signature = Account.sign_message(encode_defunct(text=ecies.document_key_message(account.address)), account.key)
    derived = ecies.public_key_of(ecies.derived_key(signature.signature))
    document_id = "6f1c1a52-8a4b-4c1e-9d3e-0b8f2b8a9c01"
    plaintext = "Rechnung Nr. 4711 über 1.000 Stück".encode()
    key, sealed = ecies.seal_document(plaintext, document_id)
    account_key = ecies.public_key_of(bytes(account.key))
    tampered = _wrap(key, account_key, document_id, account.address)
    tampered["wrappedKey"] = tampered["wrappedKey"][:-2] + ("00" if tampered["wrappedKey"][-2:] != "00" else "01")
    moved = _wrap(key, account_key, document_id, python_party.address) | {"party": account.address}
    case = {
        "accountKey": "0x" + bytes(account.key).hex(),
        "documentId": document_id,
        "sealed": "0x" + sealed.hex(),
        "keccak": "0x" + keccak(plaintext).hex(),
        "wraps": {
            "account": _wrap(key, account_key, document_id, account.address),
            "derived": _wrap(key, derived, document_id, account.address),
            "tampered": tampered,
            "moved": moved,
            "stranger": _wrap(key, ecies.public_key_of(bytes(python_party.key)), document_id, account.address),
        },
        "plaintextForPython": "0x" + b"sealed in the browser".hex(),
        "pythonPublicKey": "0x" + ecies.public_key_of(bytes(python_party.key)).hex(),
        "pythonAddress": python_party.address,
    }
    # What GET /v1/documents/keys may serve: the account's key; a derived key it signed; the same signed by another;
    # a key nobody signed; one signed by the party for another key.
    domain = key_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    served = typed(key_statement(domain, account.address, derived)).typedData
    signed = "0x" + eip712.sign(account, key_statement(domain, account.address, derived)).hex()
    by_other = "0x" + eip712.sign(python_party, key_statement(domain, account.address, derived)).hex()
    case["typedData"] = served
    case["keys"] = [
        {"party": account.address, "publicKey": "0x" + account_key.hex(), "signature": None},
        {"party": account.address, "publicKey": "0x" + derived.hex(), "signature": signed},
        {"party": account.address, "publicKey": "0x" + derived.hex(), "signature": by_other},
        {"party": account.address, "publicKey": "0x" + derived.hex(), "signature": None},
        {"party": account.address, "publicKey": "0x" + account_key.hex()[:-2] + "00", "signature": signed},
    ]
    answer = _run_on_node(tmp_path, case)
    assert answer["theirs"] == [True, True, False, False, False]

    assert answer["message"] == ecies.document_key_message(account.address)
    assert answer["signature"] == "0x" + signature.signature.hex()  # RFC 6979 on both sides: one signature
    assert answer["derived"] == "0x" + derived.hex() and answer["address"] == account.address
    assert answer["opened"]["account"] == answer["opened"]["derived"] == "0x" + plaintext.hex()
    assert answer["opened"]["tampered"] == {"error": "unwrap"}
    assert answer["opened"]["moved"] == {"error": "unwrap"}
    assert answer["opened"]["stranger"] == {"error": "key"}
    assert answer["wrongHash"] == "hash" and answer["wrapSize"] == ecies.WRAP_SIZE

    wrap = bytes.fromhex(answer["wrap"][2:])
    ecies.check_wrap(wrap)
    theirs = ecies.unwrap(bytes(python_party.key), wrap, ecies.wrap_context(document_id, python_party.address))
    assert ecies.open_document(theirs, bytes.fromhex(answer["sealed"][2:]), document_id) == b"sealed in the browser"
