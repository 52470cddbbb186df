// "Receivables you hold": each piece with its amount, its receivable and maturity, what was claimed on it, whether
// it is financed, and its path up the receivable tree to the root and the core enterprise that owes it; a piece
// that can be sold has its "Request financing" button, one that cannot says why. Pieces this party sold to a bank
// stay listed as financed (from the PieceFinanced events), since the API no longer shows a sold piece to its seller.

import { html, type TemplateResult } from "lit-html";
import type { FinancingRequest, Piece } from "../../types";
import { addr, config, date, dateTime, money, short, table } from "../../ui";
import type { Reads } from "./reads";
import type { FinancedEvent, RootDetail } from "./shapes";

export interface PieceActions {
  ask(piece: Piece, button: HTMLButtonElement): void;
}

/** Why `holder` cannot sell `piece` to a bank now, in words; null when it can (api/v1/financing.py `sellable`). */
export function whyUnsellable(piece: Piece, root: RootDetail | undefined, now: number): string | null {
  if (piece.financed) return "already financed";
  if (piece.childCount > 0) return `split into ${piece.childCount} pieces: sell those instead`;
  if (BigInt(piece.claimed) > 0n) return "repayment was claimed on it";
  if (!root) return "its receivable could not be read";
  if (root.status !== "OUTSTANDING") return `its receivable is ${root.status.toLowerCase()}`;
  if (BigInt(root.maturity) <= BigInt(Math.floor(now))) return `its receivable matured on ${date(root.maturity)}`;
  return null;
}

/** piece → parent → … → root piece → the root's debtor, as far as this party sees the tree. */
export function pathOf(piece: Piece, root: RootDetail | undefined, me: string, names: Record<string, string>) {
  const byId = new Map((root?.pieces ?? []).map((p) => [p.pieceId, p]));
  const steps: TemplateResult[] = [];
  const seen = new Set<string>();
  let current: Piece | undefined = piece;
  while (current && !seen.has(current.pieceId)) {
    seen.add(current.pieceId);
    const isRoot = current.parentId === "0";
    const holder: TemplateResult =
      current.holder.toLowerCase() === me.toLowerCase() ? html`you` : addr(current.holder, names);
    steps.push(
      html`<li class="step">
        ${isRoot ? "root " : ""}#${current.pieceId} · ${money(current.amount, false)} · held by ${holder}
      </li>`,
    );
    if (isRoot) break;
    const parentId: string = current.parentId;
    current = byId.get(parentId);
    if (!current) steps.push(html`<li class="step muted">#${parentId} (not visible to you)</li>`);
  }
  steps.push(
    root
      ? html`<li class="step"><strong>owed by</strong> ${addr(root.debtor, names)}</li>`
      : html`<li class="step muted">debtor unknown</li>`,
  );
  return html`<ol class="path"
    aria-label=${`path of piece ${piece.pieceId} up to the debtor`}>
    ${steps.map((s, i) => html`${i > 0 ? html`<li aria-hidden="true">→</li>` : ""}${s}`)}
  </ol>`;
}

function financedBadge(financed: boolean): TemplateResult {
  return financed
    ? html`<span class="badge ok">financed</span>`
    : html`<span class="badge warn">not financed</span>`;
}

const LIVE = new Set(["open", "offered", "declined"]);

/** A piece this party sold to a bank: from a PieceFinanced event, or from an acceptance this page just made (the
 * event feed may journal the sale a moment after the API has indexed it). */
export interface Sale {
  pieceId: string;
  rootId: string;
  bank: string;
  price: string;
  amount: string;
  /** UTC seconds */
  at: number;
  /** UTC seconds, when known */
  maturity: number | null;
}

function saleOf(e: FinancedEvent): Sale {
  const d = e.data;
  return {
    pieceId: d.pieceId,
    rootId: d.rootId,
    bank: d.bank,
    price: d.price,
    amount: d.amount,
    at: e.occurredAt,
    maturity: Number(BigInt(e.occurredAt) + BigInt(d.timeToMaturity)),
  };
}

export async function heldSection(
  reads: Reads,
  me: string,
  names: Record<string, string>,
  actions: PieceActions,
  justSold: Sale[] = [],
): Promise<TemplateResult> {
  const [pieces, roots, now] = await Promise.all([reads.pieces, reads.roots, reads.now]);
  const requests = await reads.requests.catch((): FinancingRequest[] => []);
  const sold = await reads.sold.catch((): FinancedEvent[] => []);
  const asked = new Map<string, FinancingRequest>();
  for (const r of requests) if (LIVE.has(r.state) && !asked.has(r.pieceId)) asked.set(r.pieceId, r);
  const heldIds = new Set(pieces.map((p) => p.pieceId));

  const rows = pieces.map((p) => {
    const root = roots.get(p.rootId);
    const why = whyUnsellable(p, root, now);
    const request = asked.get(p.pieceId);
    return html`<tr data-piece=${p.pieceId}>
      <th scope="row">#${p.pieceId}</th>
      <td class="num">${money(p.amount, false)}</td>
      <td>
        #${p.rootId}${root
          ? html`<br /><span class="muted"
              >invoice <code title=${`fingerprint ${root.fingerprint}`}>${short(root.fingerprint)}</code> ·
              ${root.status.toLowerCase()}</span
            >`
          : ""}
      </td>
      <td>${root ? date(root.maturity) : "—"}</td>
      <td class="num">${money(p.claimed, false)}</td>
      <td>${financedBadge(p.financed)}</td>
      <td>${pathOf(p, root, me, names)}</td>
      <td>
        ${why === null
          ? html`<button
                type="button"
                id=${`ask-${p.pieceId}`}
                @click=${(e: Event) => actions.ask(p, e.currentTarget as HTMLButtonElement)}
              >
                Request financing</button
              >${request ? html`<br /><span class="muted">asked: request ${request.state}</span>` : ""}`
          : html`<span class="muted">${why}</span>`}
      </td>
    </tr>`;
  });
  // A sold piece is the bank's now: shown once, with what the bank paid, unless this party holds it again.
  const shown = new Set<string>();
  for (const sale of [...sold.map(saleOf), ...justSold]) {
    if (heldIds.has(sale.pieceId) || shown.has(sale.pieceId)) continue;
    shown.add(sale.pieceId);
    rows.push(html`<tr data-piece=${sale.pieceId}>
      <th scope="row">#${sale.pieceId}</th>
      <td class="num">${money(sale.amount, false)}</td>
      <td>#${sale.rootId}</td>
      <td>${sale.maturity === null ? "—" : date(sale.maturity)}</td>
      <td class="num">—</td>
      <td>${financedBadge(true)}</td>
      <td>sold to ${addr(sale.bank, names)} for ${money(sale.price)} on ${dateTime(sale.at)}</td>
      <td><span class="muted">the bank holds it now</span></td>
    </tr>`);
  }

  // A split piece's value is in its children: the totals count the pieces not split (the leaves) only.
  const leaves = pieces.filter((p) => p.childCount === 0);
  const total = leaves.reduce((s, p) => s + BigInt(p.amount), 0n);
  const open = leaves.filter((p) => whyUnsellable(p, roots.get(p.rootId), now) === null);
  const openTotal = open.reduce((s, p) => s + BigInt(p.amount), 0n);
  return html`<div class="kpis">
      <div class="kpi">
        <div class="v">${money(total)}</div>
        <div class="k">held in ${leaves.length} ${leaves.length === 1 ? "piece" : "pieces"} not split</div>
      </div>
      <div class="kpi">
        <div class="v">${money(openTotal)}</div>
        <div class="k">can be financed now (${open.length} ${open.length === 1 ? "piece" : "pieces"})</div>
      </div>
      <div class="kpi"><div class="v">${shown.size}</div><div class="k">pieces sold to banks</div></div>
    </div>
    ${table(
      `Pieces you hold, and pieces you sold to a bank. Ledger time ${dateTime(now)}. The path runs from the piece ` +
        "up its receivable tree to the root and the core enterprise that owes it.",
      [
        "Piece",
        `Amount (${config.token.symbol})`,
        "Receivable",
        "Maturity",
        `Claimed (${config.token.symbol})`,
        "Financing",
        "Path to the debtor",
        "Action",
      ],
      rows,
      "You hold no receivable pieces and sold none.",
    )}`;
}
