// "Verify a piece on your own node": the API's proof bundle for a piece, checked in this browser against a node the
// bank names (src/proof.ts), so that neither our server nor the bundle it serves is trusted. The form keeps what the
// officer typed across refreshes of the rest of the page; the result says "Verified" and lists every proved field,
// or "Not verified: <why>" (a tampered node, another block or root, a claim that differs, the node unreachable).

import { html, render, type TemplateResult } from "lit-html";
import { api } from "../../api";
import { ProofError, verifyOnNode, type Bundle, type ReceivableState, type Verified } from "../../proof";
import { $, config, dateTime, errorText, money, section, short } from "../../ui";

/** Fill the form with `pieceId` and run the check (the portfolio's and the inbox's "Verify" buttons). */
export function verifyPiece(pieceId: string): void {
  const input = document.getElementById("verify-piece") as HTMLInputElement | null;
  if (!input) return;
  input.value = pieceId;
  input.closest("section")?.scrollIntoView({ block: "nearest" });
  (document.getElementById("verify-go") as HTMLButtonElement | null)?.click();
}

export function verifySection(host: HTMLElement): Promise<void> {
  return section(host, "Verify a piece on your own node", async () => form(), "verify");
}

function form(): TemplateResult {
  const node = config.devnet && config.rpcUrl ? config.rpcUrl : "";
  const contract = config.contracts.Receivables ?? "";
  return html`<p class="muted">
      The API's storage proof of a piece is checked here, in your browser, against the node you name: the block's
      hash and state root come from your node, every Merkle-Patricia proof node must hash up to them, and the claimed
      state must equal what the proofs hold, field by field. Neither our server nor the bundle it sends is trusted.
    </p>
    <form id="verify-form" novalidate @submit=${run} aria-describedby="verify-result">
      <label for="verify-piece">Piece id</label>
      <input id="verify-piece" name="piece" inputmode="numeric" size="8" autocomplete="off" />
      <label for="verify-node">Your node's JSON-RPC URL</label>
      <input id="verify-node" name="node" type="url" size="28" .value=${node} placeholder="https://node.your-bank.example" />
      <label for="verify-contract">Receivables contract</label>
      <input id="verify-contract" name="contract" size="44" .value=${contract} title="from your own deployment record" />
      <button type="submit" id="verify-go">Verify</button>
    </form>
    <div id="verify-result" role="status" aria-live="polite"></div>`;
}

async function run(e: Event): Promise<void> {
  e.preventDefault();
  const value = (id: string) => ($(id) as HTMLInputElement).value.trim();
  const out = $("verify-result");
  const button = $("verify-go") as HTMLButtonElement;
  const piece = value("verify-piece");
  const node = value("verify-node");
  const contract = value("verify-contract");
  const refuse = (why: string): void => void render(html`<p class="status error">Not verified: ${why}</p>`, out);
  if (!/^[1-9][0-9]{0,18}$/.test(piece)) return refuse("type a piece id (a whole number)");
  if (!/^https?:\/\/\S+$/.test(node)) return refuse("type your node's JSON-RPC URL (http:// or https://)");
  if (contract && !/^0x[0-9a-fA-F]{40}$/.test(contract)) return refuse("the contract is not an address (0x and 40 hex digits)");
  button.disabled = true;
  render(html`<p class="status info">Checking piece ${piece} against ${node}…</p>`, out);
  try {
    let bundle: Bundle;
    try {
      bundle = await api.get<Bundle>(`/v1/receivables/pieces/${piece}/proof`);
    } catch (err) {
      return refuse(`the API gave no proof of piece ${piece}: ${errorText(err)}`);
    }
    const verified = await verifyOnNode(bundle, node, contract || null);
    render(proved(verified, contract), out);
  } catch (err) {
    refuse(err instanceof ProofError ? err.message : `the check failed: ${errorText(err)}`);
  } finally {
    button.disabled = false;
  }
}

/** An address in full: a proof is read against one's own records, character by character. */
function full(address: string): TemplateResult {
  return html`<code>${address}</code>`;
}

function yesNo(value: boolean): string {
  return value ? "yes" : "no";
}

function proved(v: Verified, contract: string): TemplateResult {
  const s: ReceivableState = v.state;
  const rows: [string, TemplateResult | string][] = [
    ["holder", full(s.holder)],
    ["amount (this piece's face)", money(s.amount)],
    ["financed", yesNo(s.financed)],
    ["claimed on this piece", money(s.claimed)],
    ["parent piece", s.parent_id === 0n ? "none (the root)" : s.parent_id.toString()],
    ["children", s.child_count.toString()],
    ["created", dateTime(Number(s.created_at))],
    ["root's debtor (obligor)", full(s.debtor)],
    ["root's creditor", full(s.creditor)],
    ["root's face value", money(s.face_value)],
    ["root's maturity", dateTime(Number(s.maturity))],
    ["root issued", dateTime(Number(s.issued_at))],
    ["root defaulted", s.defaulted_at === 0n ? "no" : dateTime(Number(s.defaulted_at))],
    ["repaid on the root", money(s.repaid)],
    ["claimed on the root", money(s.root_claimed)],
    ["settlement token", full(s.token)],
    ["order", s.order_id === 0n ? "none" : s.order_id.toString()],
    ["invoice hash", html`<code>${s.invoice_hash}</code>`],
    ["invoice fingerprint", html`<code>${s.fingerprint}</code>`],
    ["invoice commitment", html`<code>${s.invoice_commitment}</code>`],
    ["piece reference", html`<code>${s.ref}</code>`],
  ];
  // One line of template per clause, joined without the source's line breaks: the result reads as one sentence.
  const block = html`<code title=${v.block.hash}>${short(v.block.hash)}</code>`;
  const where = contract ? html`the contract ${full(contract)}` : html`the contract the bundle names (not checked against your records)`;
  const account = html`account nonce ${v.account.nonce.toString()}, storage root <code title=${v.account.storageRoot}>${short(v.account.storageRoot)}</code>`;
  return html`<p class="status ok">Verified: piece ${s.piece_id.toString()} of receivable ${s.root_id.toString()} as your node ${v.node} has it at block ${v.block.number} (${block}), ${where} (${account}); the API's claim matches every proved field.</p>
    <dl class="proved">
      ${rows.map(([k, val]) => html`<dt class="muted">${k}</dt><dd>${val}</dd>`)}
    </dl>`;
}
