// The supplier's financing: its requests to banks (with each bank's reasons when it declined) and the offers
// banks signed, compared side by side by what they cost (discount, discount on face, APR to maturity), the best
// named in words. Accepting sends the finance transaction from the supplier's own wallet.

import { html, type TemplateResult } from "lit-html";
import { api } from "../../api";
import type { FinancingRequest, Offer, Piece } from "../../types";
import { addr, config, date, dateTime, money, table } from "../../ui";
import { days, offerCost } from "./pricing";
import { whyUnsellable } from "./pieces";
import type { Reads } from "./reads";
import type { DeclineOut, PricingOut, RootDetail } from "./shapes";

export interface FinancingActions {
  accept(offer: Offer, piece: Piece, root: RootDetail | undefined, button: HTMLButtonElement): void;
  withdraw(request: FinancingRequest, button: HTMLButtonElement): void;
}

const STATE_BADGE: Record<string, string> = {
  open: "warn",
  offered: "ok",
  declined: "bad",
  accepted: "ok",
  expired: "",
  withdrawn: "",
};
const STATE_WORDS: Record<string, string> = {
  open: "open: waiting for banks",
  offered: "offered",
  declined: "declined",
  accepted: "accepted: financed",
  expired: "expired",
  withdrawn: "withdrawn",
};

function declines(request: FinancingRequest, names: Record<string, string>): TemplateResult {
  const said = request.declines as unknown as DeclineOut[];
  if (said.length === 0) return html`<span class="muted">—</span>`;
  return html`<ul class="compact">
    ${said.map(
      (d) => html`<li>
        ${addr(d.bank, names)} declined ${dateTime(d.declinedAt)}:
        ${d.reasons.map((r) => r.text).join("; ")}
      </li>`,
    )}
  </ul>`;
}

export async function requestsSection(
  reads: Reads,
  names: Record<string, string>,
  actions: FinancingActions,
): Promise<TemplateResult> {
  const requests = await reads.requests;
  const rows = requests.map(
    (r) => html`<tr data-request=${r.id}>
      <th scope="row">#${r.pieceId}</th>
      <td>${r.bank === null ? "every active bank" : addr(r.bank, names)}</td>
      <td><span class="badge ${STATE_BADGE[r.state] ?? ""}">${STATE_WORDS[r.state] ?? r.state}</span></td>
      <td>${dateTime(r.createdAt)}</td>
      <td>${r.expiresAt === null ? "while the piece can be sold" : dateTime(r.expiresAt)}</td>
      <td class="num">${r.offers}</td>
      <td>${declines(r, names)}</td>
      <td>
        ${r.state === "open" || r.state === "offered" || r.state === "declined"
          ? html`<button
              type="button"
              class="secondary"
              id=${`withdraw-${r.id}`}
              aria-label=${`Withdraw the request for piece ${r.pieceId}`}
              @click=${(e: Event) => actions.withdraw(r, e.currentTarget as HTMLButtonElement)}
            >
              Withdraw
            </button>`
          : ""}
      </td>
    </tr>`,
  );
  return table(
    "Your requests for financing, newest first. A request shows your piece (and its path to the root) to the bank " +
      "asked; a bank answers with a signed offer or declines with its reasons.",
    ["Piece", "Bank asked", "State", "Asked", "Expires", "Offers", "Banks that declined, and why", "Action"],
    rows,
    "You have not asked for financing yet: use “Request financing” on a piece you hold.",
  );
}

interface PieceOffers {
  piece: Piece;
  root: RootDetail | undefined;
  offers: Offer[];
}

function pricingReasons(pricing: PricingOut | null): TemplateResult {
  const reasons = pricing?.quote?.reasons ?? [];
  if (reasons.length === 0) return html`<span class="muted">none given</span>`;
  return html`<ul class="compact">
    ${reasons.map((r) => html`<li>${r.text}</li>`)}
  </ul>`;
}

function offersTable(
  entry: PieceOffers,
  now: number,
  names: Record<string, string>,
  actions: FinancingActions,
): TemplateResult {
  const { piece, root, offers } = entry;
  const amount = BigInt(piece.amount);
  const maturity = root ? BigInt(root.maturity) : 0n;
  const live = (o: Offer) => BigInt(o.deadline) > BigInt(Math.floor(now));
  const sorted = [...offers].sort((a, b) => {
    if (live(a) !== live(b)) return live(a) ? -1 : 1;
    const d = BigInt(b.price) - BigInt(a.price);
    return d > 0n ? 1 : d < 0n ? -1 : 0;
  });
  const best = sorted.find(live);
  const sellable = whyUnsellable(piece, root, now);
  const left = maturity - BigInt(Math.floor(now));
  const rows = sorted.map((o) => {
    const cost = offerCost(amount, BigInt(o.price), now, maturity);
    const isBest = best !== undefined && o.id === best.id;
    const open = live(o);
    return html`<tr data-offer=${o.id}>
      <th scope="row">${addr(o.bank, names)}</th>
      <td class="num">
        ${money(o.price, false)}${isBest ? html`<br /><span class="badge ok">best offer: highest price</span>` : ""}
      </td>
      <td class="num">${money(cost.discount, false)}</td>
      <td class="num">${cost.discountPct ?? "—"}</td>
      <td class="num">${cost.apr ?? "— (matured)"}</td>
      <td>${dateTime(Number(o.deadline))}${open ? "" : html`<br /><span class="badge">expired</span>`}</td>
      <td>${pricingReasons(o.pricing as PricingOut | null)}</td>
      <td>
        ${!open
          ? html`<span class="muted">expired</span>`
          : sellable !== null
            ? html`<span class="muted">cannot accept: ${sellable}</span>`
            : html`<button
                type="button"
                id=${`accept-${o.id}`}
                aria-label=${`Accept ${money(o.price)} from ${o.bank} for piece ${piece.pieceId}`}
                @click=${(e: Event) => actions.accept(o, piece, root, e.currentTarget as HTMLButtonElement)}
              >
                Accept
              </button>`}
      </td>
    </tr>`;
  });
  const term =
    left > 0n
      ? `${days(left)} days from now (${dateTime(now)}) to maturity on ${date(root!.maturity)}`
      : "the receivable has matured: no APR";
  return html`<h3>Piece #${piece.pieceId}: ${money(piece.amount)}, receivable #${piece.rootId}</h3>
    ${table(
      `Offers on piece #${piece.pieceId}, best first. Discount = amount − price; discount % = discount ÷ amount; ` +
        `APR = discount ÷ price × 365 ÷ days to maturity (simple interest on the money you receive, ` +
        `as the banks quote it), here ${term}.`,
      [
        "Bank",
        `Price (${config.token.symbol})`,
        `Discount (${config.token.symbol})`,
        "Discount %",
        "APR",
        "Offer deadline",
        "Bank's pricing reasons",
        "Action",
      ],
      rows,
      "No offers on this piece yet.",
    )}`;
}

export async function offersSection(
  reads: Reads,
  names: Record<string, string>,
  actions: FinancingActions,
): Promise<TemplateResult> {
  const [pieces, roots, requests, now] = await Promise.all([reads.pieces, reads.roots, reads.requests, reads.now]);
  // Banks see a piece only through a request, so only pieces asked about can have offers; a sold piece's offers
  // are gone with it (the API answers 404 to its seller).
  const asked = new Set(
    requests.filter((r) => r.state === "open" || r.state === "offered" || r.offers > 0).map((r) => r.pieceId),
  );
  const held = pieces.filter((p) => asked.has(p.pieceId));
  const entries: PieceOffers[] = await Promise.all(
    held.map(async (piece) => ({
      piece,
      root: roots.get(piece.rootId),
      offers: await api.get<Offer[]>(`/v1/receivables/pieces/${piece.pieceId}/offers`, { order: "best" }),
    })),
  );
  if (entries.length === 0) {
    return html`<p class="muted">
      No open requests or offers on pieces you hold. Banks answer a request within their desk's polling time.
    </p>`;
  }
  const waiting = entries.filter((e) => e.offers.length === 0).map((e) => `#${e.piece.pieceId}`);
  return html`${entries.filter((e) => e.offers.length > 0).map((e) => offersTable(e, now, names, actions))}
  ${waiting.length > 0
    ? html`<p class="muted">No offer yet on ${waiting.join(", ")}: this page looks again every few seconds.</p>`
    : ""}`;
}
