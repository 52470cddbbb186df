// Documents opened in the browser, never by the API: the TypeScript twin of ledger/eth/ecies.py (its docstring has the
// format and the reasons; tests/api/portal/test_documents.py runs this module on Node against Python-made wraps).
//   a document  nonce (12) || AES-256-GCM(document key, nonce, plaintext, aad = document id) || tag (16)
//   a wrap      0x01 || E (33, compressed ephemeral key) || nonce (12) || AES-256-GCM(k, nonce, document key, aad)
//               k = HKDF-SHA256(ikm = ECDH(e, R).x, salt = E || R, info = "scf-ledger/ecies/v1/document-key")
//               aad = 0x01 || E || "scf-ledger/document-key/v1|<document id>|<recipient address, lower case>"
// A party's document key: its account key when the page holds it (the devnet's dev wallet), or the key derived from
// the wallet's personal_sign of documentKeyMessage (a browser wallet cannot do ECDH with its account key), which the
// party registers with its EIP-712 DocumentKey signature. ECDH is ethers' SigningKey (noble-secp256k1); HKDF and
// AES-GCM are WebCrypto (browsers and Node alike). No DOM here, so Node runs it as the page does.

import { SigningKey, getAddress, getBytes, hexlify, keccak256, randomBytes, verifyTypedData } from "ethers";

export const VERSION = 1;
const POINT = 33;
const NONCE = 12;
const TAG = 16;
const KEY = 32;
export const WRAP_SIZE = 1 + POINT + NONCE + KEY + TAG;
const HKDF_INFO = "scf-ledger/ecies/v1/document-key";
const DERIVE_INFO = "scf-ledger/document-key/derive/v1";
const CONTEXT = "scf-ledger/document-key/v1";
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export class DocumentCryptoError extends Error {
  constructor(
    message: string,
    readonly reason: "malformed" | "unwrap" | "unreadable" | "hash" | "key",
  ) {
    super(message);
    this.name = "DocumentCryptoError";
  }
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
/** A copy on an ArrayBuffer of its own: what WebCrypto's BufferSource accepts (never a SharedArrayBuffer view). */
const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", own(ikm), "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: own(salt), info: own(utf8(info)) };
  const bits = await crypto.subtle.deriveBits(params, base, 256);
  return new Uint8Array(bits);
}

async function aes(key: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", own(key), "AES-GCM", false, [usage]);
}

async function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: own(nonce), additionalData: own(aad) },
    await aes(key, "encrypt"),
    own(plaintext),
  );
  return new Uint8Array(sealed);
}

async function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array | null> {
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: own(nonce), additionalData: own(aad) },
      await aes(key, "decrypt"),
      own(sealed),
    );
    return new Uint8Array(plain);
  } catch {
    return null; // WebCrypto's OperationError: the tag does not verify
  }
}

/** The compressed public key of a private key, or of a public key given either way (0x hex). */
export function compressed(key: string | Uint8Array): string {
  try {
    return SigningKey.computePublicKey(key, true);
  } catch {
    throw new DocumentCryptoError("not a secp256k1 key", "key");
  }
}

/** The address a public key hashes to (what makes an account's own key self-certifying). */
export function addressOf(publicKey: string): string {
  const full = getBytes(SigningKey.computePublicKey(publicKey, false));
  return getAddress("0x" + keccak256(full.slice(1)).slice(-40));
}

export function wrapContext(documentId: string, recipient: string): Uint8Array {
  return utf8(`${CONTEXT}|${documentId.toLowerCase()}|${getAddress(recipient).toLowerCase()}`);
}

/** What a party signs (personal_sign) to derive its document key: the exact text of ecies.document_key_message. */
export function documentKeyMessage(address: string): string {
  return (
    "scf-ledger document key\n\n" +
    `Signing this derives the key that opens the documents shared with ${getAddress(address)} ` +
    "on scf-ledger. Sign it only in the scf-ledger portal or the scf command.\n\nVersion: 1"
  );
}

/** The document private key derived from a signature of documentKeyMessage (r || s only: wallets disagree on v). */
export async function derivedKey(signature: string): Promise<string> {
  const sig = getBytes(signature);
  if (sig.length !== 64 && sig.length !== 65) throw new DocumentCryptoError("a signature is 65 bytes", "key");
  for (let counter = 0; ; counter++) {
    const info = counter === 0 ? DERIVE_INFO : DERIVE_INFO + String.fromCharCode(counter);
    const candidate = await hkdf(sig.slice(0, 64), new Uint8Array(0), info);
    const value = BigInt(hexlify(candidate));
    if (value > 0n && value < N) return hexlify(candidate);
  }
}

async function kdf(shared: string, ephemeral: Uint8Array, recipient: Uint8Array): Promise<Uint8Array> {
  const x = getBytes(shared).slice(1, 33); // the uncompressed point's x coordinate
  return hkdf(x, concat(ephemeral, recipient), HKDF_INFO);
}

/** `documentKey` sealed to the holder of `recipientPublicKey` (format version 1). */
export async function wrap(documentKey: Uint8Array, recipientPublicKey: string, aad: Uint8Array): Promise<Uint8Array> {
  const recipient = getBytes(compressed(recipientPublicKey));
  const ephemeral = new SigningKey(randomBytes(32));
  const e = getBytes(ephemeral.compressedPublicKey);
  const key = await kdf(ephemeral.computeSharedSecret(hexlify(recipient)), e, recipient);
  const nonce = randomBytes(NONCE);
  const header = concat(Uint8Array.of(VERSION), e);
  return concat(header, nonce, await seal(key, nonce, documentKey, concat(header, aad)));
}

/** The document key in `blob`, for the holder of `privateKey` (0x hex); DocumentCryptoError if not theirs. */
export async function unwrap(privateKey: string, blob: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  if (blob.length < 1 + POINT + NONCE + TAG || blob[0] !== VERSION) {
    throw new DocumentCryptoError(`not a version-${VERSION} wrapped key`, "malformed");
  }
  const header = blob.slice(0, 1 + POINT);
  const nonce = blob.slice(1 + POINT, 1 + POINT + NONCE);
  let shared: string;
  try {
    shared = new SigningKey(privateKey).computeSharedSecret(hexlify(header.slice(1)));
  } catch {
    throw new DocumentCryptoError("the wrapped key's ephemeral key is not on the curve", "malformed");
  }
  const me = getBytes(compressed(privateKey));
  const key = await kdf(shared, header.slice(1), me);
  const opened = await open(key, nonce, blob.slice(1 + POINT + NONCE), concat(header, aad));
  if (opened === null) {
    throw new DocumentCryptoError("the wrapped key does not open with this key for this document and party", "unwrap");
  }
  return opened;
}

/** A fresh document key and `nonce || ciphertext || tag` of `plaintext`, the document id as associated data. */
export async function sealDocument(
  plaintext: Uint8Array,
  documentId: string,
): Promise<{ key: Uint8Array; sealed: Uint8Array }> {
  const key = randomBytes(KEY);
  const nonce = randomBytes(NONCE);
  return { key, sealed: concat(nonce, await seal(key, nonce, plaintext, utf8(documentId.toLowerCase()))) };
}

/** The plaintext of a sealed document, checked against `keccak` (the hash on chain, or the one claimed). */
export async function openDocument(
  key: Uint8Array,
  sealed: Uint8Array,
  documentId: string,
  keccak: string | null,
): Promise<Uint8Array> {
  if (sealed.length < NONCE + TAG) throw new DocumentCryptoError("shorter than a nonce and a tag", "unreadable");
  const plain = await open(key, sealed.slice(0, NONCE), sealed.slice(NONCE), utf8(documentId.toLowerCase()));
  if (plain === null) {
    throw new DocumentCryptoError(
      `document ${documentId} fails authentication (another key or id, or altered bytes)`,
      "unreadable",
    );
  }
  if (keccak !== null && keccak256(plain) !== keccak.toLowerCase()) {
    throw new DocumentCryptoError(`document ${documentId} decrypts, but does not hash to ${keccak}`, "hash");
  }
  return plain;
}

/** The keys a party opens wraps with: compressed public key (0x hex) -> private key (0x hex). */
export type Keyring = Map<string, string>;

/** The keyring of a party that holds `accountKey` (when the page has it) and signed documentKeyMessage. */
export async function keyring(signature: string, accountKey: string | null): Promise<Keyring> {
  const ring: Keyring = new Map();
  if (accountKey !== null) ring.set(compressed(accountKey), accountKey);
  const derived = await derivedKey(signature);
  ring.set(compressed(derived), derived);
  return ring;
}

/** The document key of `documentId` from the party's own wrap (as GET /v1/documents/{id}/key serves it). */
export async function documentKeyOf(
  ring: Keyring,
  documentId: string,
  wrapped: { party: string; publicKey: string; wrappedKey: string },
): Promise<Uint8Array> {
  const privateKey = ring.get(wrapped.publicKey.toLowerCase());
  if (privateKey === undefined) {
    throw new DocumentCryptoError(
      `your copy of the key is wrapped to ${wrapped.publicKey}, a key this wallet neither holds nor derives: ` +
        "ask the owner to share the document again",
      "key",
    );
  }
  return unwrap(privateKey, getBytes(wrapped.wrappedKey), wrapContext(documentId, wrapped.party));
}

/** Whether a key the API serves for `party` is the party's: its account key (it hashes to the address), or a key
 * with the party's EIP-712 DocumentKey signature under the domain of `typedData` (any DocumentKey document the API
 * served, e.g. for the party's own key). A key that is neither may be the server's own: never wrap to it. */
export function keyIsTheirs(
  found: { party: string; publicKey: string; signature: string | null },
  typedData: { domain: unknown; types: unknown },
): boolean {
  try {
    if (addressOf(found.publicKey) === getAddress(found.party)) return true;
    if (found.signature === null) return false;
    const { EIP712Domain: _domain, ...types } = typedData.types as Record<string, { name: string; type: string }[]>;
    const message = { party: found.party, publicKey: found.publicKey };
    const signer = verifyTypedData(typedData.domain as Record<string, unknown>, types, message, found.signature);
    return signer === getAddress(found.party);
  } catch {
    return false; // not a key, not a signature: not theirs
  }
}
