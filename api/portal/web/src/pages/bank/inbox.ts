// The bank's inbox: financing requests addressed to it or to every bank (GET /v1/financing-requests, a page at a
// time), each with the piece, who sells it, who owes it, and what the desk did: its offer (price, deadline, the
// pricing it recorded, in words) and whether that offer is open, lapsed or taken, or the reasons it declined.
//
// An offer is "accepted" when the bank holds the piece financed on that offer's nonce (the portfolio's `nonce`),
// "taken otherwise" when the piece was financed but not on it, "expired" once its deadline passed (the ledger's now),
// else "open". The officer reads; the desk (`scf bank desk`) prices.

import { html, render, type TemplateResult } from "lit-html";
import { api } from "../../api";
import type { FinancingRequest, Offer, Piece } from "../../types";
import { addr, dateTime, errorBox, money, section, table } from "../../ui";
import { declineWords, pricingWords } from "./pricing";
import type { Decline, Pricing, RootOut } from "./shapes";
import { verifyPiece } from "./verify";

const PAGE = 20;
const STATES = ["open", "offered", "declined", "accepted", "expired", "withdrawn"] as const;
/** The states in which a desk may still answer. */
const LIVE = new Set(["open", "offered"]);

interface Facts {
  piece: Piece | null;
  root: RootOut | null;
  offers: Offer[];
}

interface Context {
  me: string;
  /** pieceId → the nonce of the offer this bank financed it on (pieces it holds) */
  held: Map<string, string>;
  now: number;
}

type OfferState = { word: string; kind: "ok" | "warn" | "bad" | "" };

function offerState(offer: Offer, facts: Facts, ctx: Context): OfferState {
  const financedOn = ctx.held.get(offer.pieceId);
  if (financedOn === offer.nonce) return { word: "accepted: financed by you", kind: "ok" };
  if (financedOn !== undefined) return { word: "closed: financed by you on another offer", kind: "" };
  if (facts.piece?.financed) {
    // Held by this bank but not in its portfolio's answer (unread, or sold on and back): financed by it all the same.
    const mine = facts.piece.holder.toLowerCase() === ctx.me.toLowerCase();
    return mine ? { word: "accepted: financed by you", kind: "ok" } : { word: "taken otherwise: the piece was financed", kind: "" };
  }
  if (Number(offer.deadline) <= ctx.now) return { word: "expired", kind: "bad" };
  return { word: "open", kind: "warn" };
}

function requestBadge(state: string): TemplateResult {
  const kind = state === "accepted" ? "ok" : state === "offered" || state === "open" ? "warn" : state === "declined" ? "bad" : "";
  return html`<span class="badge ${kind}">${state}</span>`;
}

/** The piece, its root and this bank's offers on it, read once per drawing of the inbox (`cache`); a piece the bank
 * may no longer see reads as null. */
function factsOf(pieceId: string, cache: Map<string, Promise<Facts>>): Promise<Facts> {
  let found = cache.get(pieceId);
  if (!found) {
    found = (async () => {
      const [piece, offers] = await Promise.all([
        api.get<Piece>(`/v1/receivables/pieces/${pieceId}`).catch(() => null),
        api.get<Offer[]>(`/v1/receivables/pieces/${pieceId}/offers`).catch((): Offer[] => []),
      ]);
      const root = piece ? await api.get<RootOut>(`/v1/receivables/${piece.rootId}`).catch(() => null) : null;
      return { piece, root, offers: [...offers].sort((a, b) => b.createdAt - a.createdAt) };
    })();
    cache.set(pieceId, found);
  }
  return found;
}

function row(r: FinancingRequest, facts: Facts, ctx: Context): TemplateResult {
  const [latest, ...earlier] = facts.offers;
  const state = latest ? offerState(latest, facts, ctx) : null;
  const pricing = (latest?.pricing ?? null) as Pricing | null;
  const declines = r.declines as unknown as Decline[];
  return html`<tr data-request=${r.id}>
    <th scope="row">${r.pieceId}</th>
    <td>${addr(r.holder)}</td>
    <td>${facts.root ? addr(facts.root.debtor) : "—"}</td>
    <td class="num">${facts.piece ? money(facts.piece.amount) : "—"}</td>
    <td>${requestBadge(r.state)}${r.bank === null ? html` <span class="muted">(to every bank)</span>` : ""}</td>
    <td>${dateTime(r.createdAt)}</td>
    <td>${r.expiresAt === null ? "while sellable" : dateTime(r.expiresAt)}</td>
    <td class="num">
      ${latest && state
        ? html`${money(latest.price)}<br /><span class="badge ${state.kind}">${state.word}</span><br /><span class="muted"
              >until ${dateTime(Number(latest.deadline))}</span
            >`
        : html`<span class="muted">no offer</span>`}
    </td>
    <td>
      ${latest
        ? html`<details>
            <summary>How the desk priced it</summary>
            ${pricingWords(pricing, latest.price)}
            ${earlier.length
              ? html`<p class="muted">
                  ${earlier.length} earlier offer(s) on this piece:
                  ${earlier.map((o) => `${money(o.price)} (${offerState(o, facts, ctx).word})`).join("; ")}
                </p>`
              : ""}
          </details>`
        : ""}
      ${declineWords(declines)}
      ${!latest && declines.length === 0
        ? html`<span class="muted">${LIVE.has(r.state) ? "the desk has not answered yet" : `no answer before it closed (${r.state})`}</span>`
        : ""}
    </td>
    <td>
      <button type="button" class="secondary" aria-label=${`verify piece ${r.pieceId} on your node`} @click=${() => verifyPiece(r.pieceId)}>
        Verify
      </button>
    </td>
  </tr>`;
}

/** The inbox, a page at a time ("Show more"), filtered by state if the officer asks. */
export function inboxSection(host: HTMLElement, reading: Promise<Context>): Promise<void> {
  let ctx: Context;
  let requests: FinancingRequest[] = [];
  let after: string | null = null;
  let filter = "";
  const facts = new Map<string, Facts>();
  const cache = new Map<string, Promise<Facts>>();

  const more = async () => {
    const page = await api.get<{ items: FinancingRequest[]; nextAfter: string | null }>("/v1/financing-requests", {
      limit: PAGE,
      state: filter || undefined,
      after: after ?? undefined,
    });
    const found = await Promise.all(page.items.map((r) => factsOf(r.pieceId, cache)));
    page.items.forEach((r, i) => facts.set(r.pieceId, found[i]!));
    requests = [...requests, ...page.items];
    after = page.nextAfter;
  };

  const body = (): TemplateResult => {
    const choose = (e: Event) => {
      filter = (e.target as HTMLSelectElement).value;
      requests = [];
      after = null;
      void load();
    };
    const next = (e: Event) => {
      const button = e.target as HTMLButtonElement;
      button.disabled = true;
      more().then(
        () => void load(false),
        (err: unknown) => render(errorBox(err), button.parentElement!),
      );
    };
    return html`<p class="muted">
        Requests to this bank or to every bank. The desk prices them with no human step; here is its work: each offer's
        price and deadline, and how it priced it (open "why" to read it).
      </p>
      <form @submit=${(e: Event) => e.preventDefault()}>
        <label for="inbox-state">Show</label>
        <select id="inbox-state" @change=${choose}>
          <option value="" ?selected=${filter === ""}>every state</option>
          ${STATES.map((s) => html`<option value=${s} ?selected=${filter === s}>${s}</option>`)}
        </select>
      </form>
      ${table(
        `Financing requests${filter ? ` ${filter}` : ""}, newest first (${requests.length} shown)`,
        ["piece", "seller (holder)", "obligor", "amount", "request", "asked", "expires", "desk's offer", "why", "proof"],
        requests.map((r) => row(r, facts.get(r.pieceId)!, ctx)),
        filter ? `No ${filter} requests.` : "No financing requests to this bank yet.",
      )}
      ${after !== null ? html`<p><button type="button" class="secondary" @click=${next}>Show more</button></p>` : ""}`;
  };

  const load = (fresh = true): Promise<void> =>
    section(host, "Inbox", async () => {
      ctx = await reading;
      if (fresh) await more();
      return body();
    }, "inbox");

  return load();
}
