// The documents a party may read, opened in this tab: the API serves the sealed bytes and the party's own wrapped key,
// and the page unwraps, decrypts and checks the plaintext's keccak256 here (documents.ts), then saves the file. The
// API cannot read a document, so nothing else can open one for the party.
//
// The party's document key: the dev wallet holds the account key (and registers it: it needs no signature, its hash
// is the address); a browser wallet cannot do ECDH with its account key, so the page derives one from the wallet's
// personal_sign of a fixed message (the same wallet derives the same key anywhere) and registers it with the wallet's
// EIP-712 DocumentKey signature. Either way the wallet is asked once per tab, when a document is first opened.

import { html, type TemplateResult } from "lit-html";
import { api } from "../api";
import { getAddress } from "ethers";
import {
  compressed,
  documentKeyMessage,
  documentKeyOf,
  keyIsTheirs,
  keyring,
  openDocument,
  wrap,
  wrapContext,
  type Keyring,
} from "../documents";
import type { DevWallet } from "../devwallet";
import type { TypedData } from "../types";
import { act, addr, dateTime, table } from "../ui";
import { signedIn, signer, signTyped } from "../wallet";
import type { DocumentOut } from "./supplier/shapes";

interface PartyKey {
  party: string;
  publicKey: string | null;
  signature: string | null;
}

interface WrapOut {
  party: string;
  publicKey: string;
  wrappedKey: string;
}

let ring: { address: string; keys: Keyring } | null = null;

function utf8Hex(text: string): string {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** This party's keys: its signature of the fixed message (asked once per tab), and the account key if the page has it. */
async function myKeys(): Promise<Keyring> {
  const me = signer();
  if (ring !== null && ring.address === me.address) return ring.keys;
  const signature = (await me.provider.request({
    method: "personal_sign",
    params: [utf8Hex(documentKeyMessage(me.address)), me.address],
  })) as string;
  const accountKey = me.kind === "dev" ? (me.provider as DevWallet).party.key : null;
  ring = { address: me.address, keys: await keyring(signature, accountKey) };
  return ring.keys;
}

/** Register a document key when the party has none, so others can wrap to it. Returns what was done, in words. */
export async function ensureDocumentKey(): Promise<string> {
  const me = signer();
  const [mine] = await api.get<PartyKey[]>("/v1/documents/keys", { party: me.address });
  if (mine?.publicKey) return "your document key is registered";
  if (me.kind === "dev") {
    const own = compressed((me.provider as DevWallet).party.key);
    await api.post("/v1/documents/keys", { publicKey: own });
    return "registered your account's key as your document key";
  }
  const keys = await myKeys();
  const derived = [...keys.keys()][0]!;
  const served = await api.post<TypedData>("/v1/documents/keys/typed-data", { publicKey: derived });
  await api.post("/v1/documents/keys", { publicKey: derived, signature: await signTyped(served) });
  return "registered the document key your wallet derives";
}

function save(filename: string, mediaType: string, bytes: Uint8Array): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: mediaType }));
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** Open a document in this tab: unwrap the party's key, decrypt, check the hash, save the file. */
export async function openHere(d: DocumentOut): Promise<string> {
  const keys = await myKeys();
  const wrapped = await api.get<WrapOut>(`/v1/documents/${d.id}/key`);
  const key = await documentKeyOf(keys, d.id, wrapped);
  const plaintext = await openDocument(key, await api.bytes(`/v1/documents/${d.id}/content`), d.id, d.keccak256);
  save(d.filename, d.mediaType, plaintext);
  const where = d.anchors.map((a) => `${a.kind} #${a.id}`).join(", ");
  return `${d.filename}: decrypted here, keccak256 ${d.keccak256.slice(0, 10)}… checked${
    where ? `; the same hash is on chain at ${where}` : ""
  }`;
}

/** `party`'s document key as the API serves it, checked here: an account's own key hashes to its address; any other
 * must carry the party's EIP-712 DocumentKey signature (so the API cannot slip in a key of its own). */
async function checkedKey(party: string): Promise<string> {
  const [found] = await api.get<PartyKey[]>("/v1/documents/keys", { party });
  if (!found?.publicKey) throw new Error(`${party} has registered no document key yet: it must sign in once`);
  const mine = [...(await myKeys()).keys()][0]!;
  const served = await api.post<TypedData>("/v1/documents/keys/typed-data", { publicKey: mine });
  const document = served.typedData as { domain: unknown; types: unknown };
  if (!keyIsTheirs({ ...found, publicKey: found.publicKey }, document)) {
    throw new Error(`the API serves ${party} a document key that ${party} neither is nor signed: not shared`);
  }
  return found.publicKey;
}

/** The owner shares: unwrap its own key here and post it wrapped to the party's checked key. */
export async function shareHere(d: DocumentOut, party: string): Promise<string> {
  if (!party) throw new Error("choose a party to share with");
  const keys = await myKeys();
  const key = await documentKeyOf(keys, d.id, await api.get<WrapOut>(`/v1/documents/${d.id}/key`));
  const theirs = await checkedKey(party);
  const blob = await wrap(key, theirs, wrapContext(d.id, party));
  const wrappedKey = "0x" + Array.from(blob, (b) => b.toString(16).padStart(2, "0")).join("");
  await api.post(`/v1/documents/${d.id}/parties`, { party, publicKey: theirs, wrappedKey });
  return `${d.filename} is shared with ${party}: its key was wrapped to theirs in this tab`;
}

function sharePart(d: DocumentOut, names: Record<string, string>, line: () => HTMLElement): TemplateResult | string {
  const me = signedIn();
  if (me === null || d.owner.toLowerCase() !== me.address.toLowerCase()) return "";
  const others = Object.keys(names).filter((a) => !d.parties.some((p) => p.toLowerCase() === a));
  if (others.length === 0) return "";
  const id = `share-${d.id}`;
  return html`<label class="sr-only" for=${id}>Share ${d.filename} with</label>
    <select id=${id}>
      ${others.map((a) => html`<option value=${a}>${addr(a, names)}</option>`)}
    </select>
    <button
      type="button"
      class="share-document"
      aria-label=${`Share ${d.filename}`}
      @click=${(e: Event) => {
        const chosen = (document.getElementById(id) as HTMLSelectElement).value;
        return act(e.currentTarget as HTMLButtonElement, line(), () => shareHere(d, getAddress(chosen)));
      }}
    >
      Share
    </button>`;
}

export async function documentsSection(names: Record<string, string>): Promise<TemplateResult> {
  const documents = await api.get<DocumentOut[]>("/v1/documents");
  const line = () => document.getElementById("documents-status")!;
  const rows = [...documents]
    .sort((a, b) => b.createdAt - a.createdAt)
    .map(
      (d) => html`<tr>
        <th scope="row">${d.filename}</th>
        <td>${d.kind.replace(/_/g, " ")}</td>
        <td>
          ${d.anchors.length === 0
            ? html`<span class="muted">not on chain yet</span>`
            : d.anchors.map((a, i) => html`${i ? ", " : ""}${a.kind} #${a.id}`)}
        </td>
        <td>${dateTime(d.createdAt)}</td>
        <td class="num">${d.size.toLocaleString("en-US")} bytes</td>
        <td>${addr(d.owner, names)}${d.parties.length > 1 ? html`; shared with ${d.parties.length - 1}` : ""}</td>
        <td>
          <button
            type="button"
            class="open-document"
            data-document=${d.id}
            aria-label=${`Open ${d.filename}`}
            @click=${(e: Event) => act(e.currentTarget as HTMLButtonElement, line(), () => openHere(d))}
          >
            Open
          </button>
          ${sharePart(d, names, line)}
        </td>
      </tr>`,
    );
  const body = table(
    "Documents you uploaded or that were shared with you, newest first; “related” is where the document's hash is " +
      "on chain. They are sealed to your key: “Open” decrypts in this tab and checks the hash",
    ["File", "Kind", "Related", "Uploaded", "Size", "Owner", "Contents"],
    rows,
    "No documents yet.",
  );
  return html`${body}
    <p>
      <button
        type="button"
        id="document-key"
        @click=${(e: Event) => act(e.currentTarget as HTMLButtonElement, line(), ensureDocumentKey)}
      >
        Set up my document key
      </button>
      <span class="muted">so that others can share documents with you</span>
    </p>
    <div id="documents-status" aria-live="polite"></div>`;
}

