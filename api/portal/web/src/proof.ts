// A receivable's on-chain state proved in the browser from the bank's own node, trusting neither the API nor the
// bundle it serves: the TypeScript twin of ledger/eth/proofs.py's verify_bundle, check for check, error for error.
//
// The API answers GET /v1/receivables/pieces/{id}/proof with what eth_getProof (EIP-1186) gave it for the slots the
// piece and its root live in, at one block, and the state it claims they hold. Here:
//   1. the block's header comes from the node the bank typed (eth_getBlockByNumber): its hash and state root must be
//      the bundle's, so the proofs are checked against a root the bank's node vouches for;
//   2. the account proof is walked from that state root to the contract's account (a Merkle-Patricia trie keyed by
//      keccak(address), each node found by the keccak of its RLP: a changed byte anywhere breaks the chain of
//      hashes), giving its nonce, balance, storage root and code hash;
//   3. every storage proof is walked from that storage root, and its value must be the one the bundle states;
//   4. the piece and its root are decoded from the proved words (never from the values stated beside them) by the
//      contract's storage layout (RECEIVABLES_LAYOUT: what solc's storageLayout says, checked against the compiler's
//      output by tests/api/v1/test_bank_portfolio.py), every slot they need must be proved, and the claim must equal
//      the proved state field by field.
// Nothing here touches the DOM or the API module: the page (src/pages/bank.ts) shows what it returns or throws.

import { concat, decodeRlp, getAddress, getBytes, hexlify, keccak256, toBeHex, toQuantity, type RlpStructuredData } from "ethers";

/** Root of the errors of proving a receivable. */
export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProofError";
  }
}

/** The bundle does not prove what it says: a bad node, a missing slot, another block or contract. */
export class ProofInvalid extends ProofError {
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`proof invalid (${what}): ${reason}`);
    this.name = "ProofInvalid";
  }
}

/** The proof is sound but the claimed state differs from the proved state. */
export class ClaimMismatch extends ProofError {
  constructor(
    readonly field: string,
    readonly claimed: unknown,
    readonly proved: unknown,
  ) {
    super(`claimed ${field} = ${show(claimed)}, but the chain proves ${show(proved)}`);
    this.name = "ClaimMismatch";
  }
}

/** The node would not serve what the check needs (down, refusing this page's origin, no such block). */
export class ProofUnavailable extends ProofError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`${endpoint} could not serve the proof: ${reason}`);
    this.name = "ProofUnavailable";
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : String(value);
}

// -- the storage layout ------------------------------------------------------------------------------------------

/** A struct member: its slot from the struct's first, its byte offset in that slot, its size in bytes. */
export type Member = readonly [slot: number, offset: number, size: number];

export interface ReceivableLayout {
  roots: number;
  pieces: number;
  owners: number;
  rootMembers: Record<string, Member>;
  pieceMembers: Record<string, Member>;
}

/** Where Receivables keeps `_roots`, `_pieces` and ERC-721 `_owners`, and each struct member (solc storageLayout). */
export const RECEIVABLES_LAYOUT: ReceivableLayout = {
  roots: 11,
  pieces: 12,
  owners: 2,
  rootMembers: {
    debtor: [0, 0, 20],
    creditor: [1, 0, 20],
    token: [2, 0, 20],
    faceValue: [3, 0, 32],
    maturity: [4, 0, 8],
    issuedAt: [4, 8, 8],
    defaultedAt: [4, 16, 8],
    invoiceHash: [5, 0, 32],
    fingerprint: [6, 0, 32],
    invoiceCommitment: [7, 0, 32],
    orderId: [8, 0, 32],
    repaid: [9, 0, 32],
    claimed: [10, 0, 32],
  },
  pieceMembers: {
    rootId: [0, 0, 32],
    parentId: [1, 0, 32],
    amount: [2, 0, 32],
    claimed: [3, 0, 32],
    ref: [4, 0, 32],
    firstChildId: [5, 0, 32],
    childCount: [6, 0, 4],
    financed: [6, 4, 1],
    createdAt: [6, 5, 8],
  },
};

/** A 256-bit word as 32 bytes of hex (a slot number, a key, a value). */
function word(value: bigint): string {
  return toBeHex(value, 32);
}

/** The slot of `mapping[key]` (a value-type key) for a mapping declared at `base`. */
export function mappingSlot(key: bigint, base: number): bigint {
  return BigInt(keccak256(concat([word(key), word(BigInt(base))])));
}

function uniqueSorted(values: bigint[]): bigint[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function pieceSlots(layout: ReceivableLayout, pieceId: bigint): bigint[] {
  const base = mappingSlot(pieceId, layout.pieces);
  const members = Object.values(layout.pieceMembers).map(([slot]) => base + BigInt(slot));
  return [...uniqueSorted(members), mappingSlot(pieceId, layout.owners)];
}

export function rootSlots(layout: ReceivableLayout, rootId: bigint): bigint[] {
  const base = mappingSlot(rootId, layout.roots);
  return uniqueSorted(Object.values(layout.rootMembers).map(([slot]) => base + BigInt(slot)));
}

function field(words: Map<bigint, bigint>, base: bigint, member: Member): bigint {
  const [slot, offset, size] = member;
  const value = words.get(base + BigInt(slot)) ?? 0n;
  return (value >> BigInt(8 * offset)) & ((1n << BigInt(8 * size)) - 1n);
}

// -- the state a bank checks ---------------------------------------------------------------------------------------

/** One piece of a receivable tree, its holder, and its root, as proved from storage (ReceivableState's fields). */
export interface ReceivableState {
  piece_id: bigint;
  root_id: bigint;
  parent_id: bigint;
  amount: bigint;
  claimed: bigint;
  ref: string;
  child_count: bigint;
  financed: boolean;
  created_at: bigint;
  holder: string;
  debtor: string;
  creditor: string;
  token: string;
  face_value: bigint;
  maturity: bigint;
  issued_at: bigint;
  defaulted_at: bigint;
  invoice_hash: string;
  fingerprint: string;
  invoice_commitment: string;
  order_id: bigint;
  repaid: bigint;
  root_claimed: bigint;
}

type Kind = "int" | "bool" | "str";

/** The state's fields in ReceivableState's order, with the kind a claim's value is read as. */
export const STATE_FIELDS: readonly (readonly [keyof ReceivableState, Kind])[] = [
  ["piece_id", "int"],
  ["root_id", "int"],
  ["parent_id", "int"],
  ["amount", "int"],
  ["claimed", "int"],
  ["ref", "str"],
  ["child_count", "int"],
  ["financed", "bool"],
  ["created_at", "int"],
  ["holder", "str"],
  ["debtor", "str"],
  ["creditor", "str"],
  ["token", "str"],
  ["face_value", "int"],
  ["maturity", "int"],
  ["issued_at", "int"],
  ["defaulted_at", "int"],
  ["invoice_hash", "str"],
  ["fingerprint", "str"],
  ["invoice_commitment", "str"],
  ["order_id", "int"],
  ["repaid", "int"],
  ["root_claimed", "int"],
];

function hex(slot: bigint): string {
  return toQuantity(slot);
}

/** The receivable from storage words (slot → value); every slot it needs must be present. */
export function decodeState(pieceId: bigint, words: Map<bigint, bigint>, layout: ReceivableLayout): ReceivableState {
  const pieceBase = mappingSlot(pieceId, layout.pieces);
  const missing = pieceSlots(layout, pieceId).filter((slot) => !words.has(slot));
  if (missing.length) throw new ProofInvalid("storage", `slot ${hex(missing[0]!)} of piece ${pieceId} is not proved`);
  const p = layout.pieceMembers;
  const rootId = field(words, pieceBase, p.rootId!);
  if (rootId === 0n) {
    throw new ProofInvalid("storage", `piece ${pieceId} does not exist at this block (its root id is 0)`);
  }
  const rootBase = mappingSlot(rootId, layout.roots);
  const missingRoot = rootSlots(layout, rootId).filter((slot) => !words.has(slot));
  if (missingRoot.length) {
    throw new ProofInvalid("storage", `slot ${hex(missingRoot[0]!)} of root ${rootId} is not proved`);
  }
  const r = layout.rootMembers;
  const address = (value: bigint) => getAddress("0x" + word(value).slice(2 + 24));
  const hash32 = (value: bigint) => word(value).toLowerCase();
  return {
    piece_id: pieceId,
    root_id: rootId,
    parent_id: field(words, pieceBase, p.parentId!),
    amount: field(words, pieceBase, p.amount!),
    claimed: field(words, pieceBase, p.claimed!),
    ref: hash32(field(words, pieceBase, p.ref!)),
    child_count: field(words, pieceBase, p.childCount!),
    financed: field(words, pieceBase, p.financed!) !== 0n,
    created_at: field(words, pieceBase, p.createdAt!),
    holder: address(words.get(mappingSlot(pieceId, layout.owners))!),
    debtor: address(field(words, rootBase, r.debtor!)),
    creditor: address(field(words, rootBase, r.creditor!)),
    token: address(field(words, rootBase, r.token!)),
    face_value: field(words, rootBase, r.faceValue!),
    maturity: field(words, rootBase, r.maturity!),
    issued_at: field(words, rootBase, r.issuedAt!),
    defaulted_at: field(words, rootBase, r.defaultedAt!),
    invoice_hash: hash32(field(words, rootBase, r.invoiceHash!)),
    fingerprint: hash32(field(words, rootBase, r.fingerprint!)),
    invoice_commitment: hash32(field(words, rootBase, r.invoiceCommitment!)),
    order_id: field(words, rootBase, r.orderId!),
    repaid: field(words, rootBase, r.repaid!),
    root_claimed: field(words, rootBase, r.claimed!),
  };
}

/** A claim (the bundle's `claim`: decimal strings, booleans, hex) read as a state, as ReceivableState.from_json. */
export function claimOf(data: Record<string, unknown>): ReceivableState {
  const state: Record<string, unknown> = {};
  for (const [name, kind] of STATE_FIELDS) {
    if (!(name in data)) throw new ProofInvalid("claim", `the claim lacks ${name}`);
    const raw = data[name];
    if (kind === "bool") state[name] = Boolean(raw);
    else if (kind === "str") state[name] = String(raw);
    else if ((typeof raw === "number" && Number.isSafeInteger(raw)) || (typeof raw === "string" && /^-?\d+$/.test(raw))) {
      state[name] = BigInt(raw);
    } else throw new ProofInvalid("claim", `the claim's ${name} is not an integer: ${show(raw)}`);
  }
  return state as unknown as ReceivableState;
}

// -- Merkle-Patricia proofs --------------------------------------------------------------------------------------

/** keccak256(rlp("")): the root of a trie with nothing in it. */
const EMPTY_TRIE = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";

function bytesOf(value: string, what: string): Uint8Array {
  if (typeof value !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(value)) {
    throw new ProofInvalid("encoding", `${show(value)} is not hex${what ? ` (${what})` : ""}`);
  }
  return getBytes(value);
}

function nibbles(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of bytes) out.push(b >> 4, b & 15);
  return out;
}

/** A leaf's or extension's hex-prefix path: its nibbles, and whether it ends at a leaf. */
function hexPrefix(encoded: string): { path: number[]; leaf: boolean } {
  const all = nibbles(getBytes(encoded));
  const flag = all[0] ?? 0;
  if (flag > 3) throw new Error(`bad hex-prefix flag ${flag}`);
  return { path: all.slice(flag % 2 === 1 ? 1 : 2), leaf: flag >= 2 };
}

/** The value under `key` in the trie of `root` (empty bytes when the proof shows it absent), as
 * HexaryTrie.get_from_proof: every node the walk needs must be in `nodes`, found by the keccak of its RLP. */
function walk(root: string, key: Uint8Array, nodes: string[], what: string): Uint8Array {
  const byHash = new Map<string, RlpStructuredData>();
  for (const node of Array.isArray(nodes) ? nodes : []) {
    const bytes = bytesOf(node, `${what} proof node`);
    let decoded: RlpStructuredData;
    try {
      decoded = decodeRlp(bytes);
    } catch (err) {
      throw new ProofInvalid(what, `malformed proof node (${(err as Error).message.split(" (")[0]})`);
    }
    byHash.set(keccak256(bytes), decoded);
  }
  if (root.toLowerCase() === EMPTY_TRIE) return new Uint8Array();
  const lost = (hash: string) =>
    new ProofInvalid(what, `a proof node does not hash up to the root (node ${hash} is not in the proof)`);
  let path = nibbles(key);
  let node = byHash.get(root.toLowerCase());
  if (node === undefined) throw lost(root.toLowerCase());
  try {
    for (;;) {
      if (!Array.isArray(node)) throw new Error("a trie node is a list");
      let next: RlpStructuredData;
      if (node.length === 17) {
        if (path.length === 0) return getBytes(node[16] as string);
        next = node[path[0]!]!;
        path = path.slice(1);
      } else if (node.length === 2) {
        const { path: part, leaf } = hexPrefix(node[0] as string);
        const matches = part.length <= path.length && part.every((n, i) => n === path[i]);
        if (leaf) return matches && part.length === path.length ? getBytes(node[1] as string) : new Uint8Array();
        if (!matches) return new Uint8Array();
        path = path.slice(part.length);
        next = node[1]!;
      } else {
        throw new Error(`a trie node has 2 or 17 items, not ${node.length}`);
      }
      if (Array.isArray(next)) {
        node = next; // a node under 32 bytes is embedded in its parent
      } else if (next === "0x") {
        return new Uint8Array(); // no branch this way: the key is absent
      } else if (getBytes(next).length === 32) {
        const found = byHash.get(next.toLowerCase());
        if (found === undefined) throw lost(next.toLowerCase());
        node = found;
      } else {
        throw new Error(`a child reference of ${getBytes(next).length} bytes`);
      }
    }
  } catch (err) {
    if (err instanceof ProofError) throw err;
    throw new ProofInvalid(what, `malformed proof node (${(err as Error).message})`);
  }
}

export interface Account {
  nonce: bigint;
  balance: bigint;
  storageRoot: string;
  codeHash: string;
}

function uint(value: RlpStructuredData): bigint {
  if (typeof value !== "string") throw new Error("an integer is a byte string");
  return value === "0x" ? 0n : BigInt(value);
}

export function verifyAccount(stateRoot: string, address: string, nodes: string[]): Account {
  const value = walk(stateRoot, getBytes(keccak256(bytesOf(address, "address"))), nodes, "account");
  if (value.length === 0) throw new ProofInvalid("account", `${address} has no account in this state`);
  try {
    const [nonce, balance, storageRoot, codeHash] = decodeRlp(value) as string[];
    return { nonce: uint(nonce!), balance: uint(balance!), storageRoot: storageRoot!, codeHash: codeHash! };
  } catch (err) {
    throw new ProofInvalid("account", `malformed account (${(err as Error).message})`);
  }
}

export function verifyStorage(storageRoot: string, slot: bigint, nodes: string[]): bigint {
  const what = `storage slot ${hex(slot)}`;
  const value = walk(storageRoot, getBytes(keccak256(word(slot))), nodes, what);
  if (value.length === 0) return 0n;
  try {
    return uint(decodeRlp(value));
  } catch (err) {
    throw new ProofInvalid(what, `malformed value (${(err as Error).message})`);
  }
}

// -- bundles -------------------------------------------------------------------------------------------------------

export interface Block {
  number: number;
  hash: string;
  stateRoot: string;
}

export interface StorageEntry {
  key: string;
  value: string;
  proof: string[];
}

/** What GET /v1/receivables/pieces/{id}/proof answers (ProofOut). */
export interface Bundle {
  contract: string;
  pieceId: string;
  block: Block;
  claim: Record<string, unknown>;
  proof: {
    address: string;
    accountProof: string[];
    storageHash: string;
    storageProof: StorageEntry[];
    [more: string]: unknown;
  };
}

export interface Verified {
  state: ReceivableState;
  account: Account;
  block: Block;
  node: string;
}

function int(value: unknown): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^(0x[0-9a-fA-F]+|\d+)$/.test(value)) return BigInt(value);
  throw new ProofInvalid("encoding", `${show(value)} is not an integer`);
}

/** The receivable the bundle proves, checked against `header` (from the verifier's own node). `contract`: the
 * Receivables address the verifier knows; the bundle must be about it. With `checkClaim` the bundle's claim must
 * equal the proved state field by field. */
export function verifyBundle(
  bundle: Bundle,
  header: { hash?: unknown; stateRoot?: unknown },
  layout: ReceivableLayout = RECEIVABLES_LAYOUT,
  contract: string | null = null,
  checkClaim = true,
): { state: ReceivableState; account: Account } {
  const block = (bundle.block ?? {}) as unknown as Record<string, unknown>;
  for (const key of ["hash", "stateRoot"] as const) {
    if (String(block[key] ?? "").toLowerCase() !== String(header[key] ?? "").toLowerCase()) {
      throw new ProofInvalid("block", `the bundle's ${key} ${String(block[key])} is not the node's ${String(header[key])}`);
    }
  }
  const proof = bundle.proof ?? ({} as Bundle["proof"]);
  const address = String(bundle.contract ?? "");
  if (contract !== null && address.toLowerCase() !== contract.toLowerCase()) {
    throw new ProofInvalid("contract", `the bundle proves ${address}, not the Receivables contract ${contract}`);
  }
  if (String(proof.address ?? "").toLowerCase() !== address.toLowerCase()) {
    throw new ProofInvalid("contract", "the account proof is for another address");
  }
  const account = verifyAccount(String(header.stateRoot), address, proof.accountProof ?? []);
  if (hexlify(bytesOf(String(proof.storageHash ?? "0x"), "storageHash")) !== account.storageRoot.toLowerCase()) {
    throw new ProofInvalid("account", "the stated storage hash is not the proved one");
  }
  const words = new Map<bigint, bigint>();
  for (const entry of proof.storageProof ?? []) {
    const slot = int(entry.key);
    const proved = verifyStorage(account.storageRoot, slot, entry.proof ?? []);
    if (int(entry.value ?? 0) !== proved) {
      throw new ProofInvalid(`storage slot ${hex(slot)}`, "the stated value is not the proved one");
    }
    words.set(slot, proved);
  }
  const state = decodeState(int(bundle.pieceId), words, layout);
  if (checkClaim) {
    const claimed = claimOf((bundle.claim ?? {}) as Record<string, unknown>);
    for (const [name] of STATE_FIELDS) {
      if (claimed[name] !== state[name]) throw new ClaimMismatch(name, claimed[name], state[name]);
    }
  }
  return { state, account };
}

/** One JSON-RPC call to `node`; a transport failure (down, or CORS refusing this page) or a node's error becomes
 * ProofUnavailable. */
export async function rpc(node: string, method: string, params: unknown[], timeoutMs = 15_000): Promise<unknown> {
  let answer: Response;
  try {
    answer = await fetch(node, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ProofUnavailable(node, `no answer to ${method} (${why}): is the node running, and does it allow this page's origin (CORS)?`);
  }
  if (!answer.ok) throw new ProofUnavailable(node, `${method} answered HTTP ${answer.status}`);
  let body: { result?: unknown; error?: { message?: string } };
  try {
    body = await answer.json();
  } catch {
    throw new ProofUnavailable(node, `${method} answered something that is not JSON-RPC`);
  }
  if (body.error) throw new ProofUnavailable(node, String(body.error.message ?? JSON.stringify(body.error)));
  return body.result;
}

/** Check `bundle` against the header of its block as `node` (the bank's own) has it. */
export async function verifyOnNode(
  bundle: Bundle,
  node: string,
  contract: string | null = null,
  layout: ReceivableLayout = RECEIVABLES_LAYOUT,
): Promise<Verified> {
  const number = Number(bundle.block?.number);
  if (!Number.isSafeInteger(number) || number < 0) throw new ProofInvalid("block", "the bundle names no block number");
  const header = (await rpc(node, "eth_getBlockByNumber", [toQuantity(number), false])) as Record<string, unknown> | null;
  if (!header) throw new ProofUnavailable(node, `it has no block ${number} (is it synced with the chain?)`);
  const { state, account } = verifyBundle(bundle, header, layout, contract);
  return { state, account, block: bundle.block, node };
}
