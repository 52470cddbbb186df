// The decoded history of an order or a piece (GET /v1/audit/history/{orders|pieces}/{id}), Blockscout-style: for
// each transaction the call it made (function and arguments, decoded from its calldata), then the logs it left, in
// words, then the refused calls (reverted transactions naming the object, with the contract's custom error). The
// API says which refused calls it can find at all (refusedScope); the page shows its words.

import { html, render, type TemplateResult } from "lit-html";
import { api } from "../../api";
import { $, addr, bps, date, dateTime, errorBox, money, short, table } from "../../ui";
import { args, badge, tx } from "./show";
import type { Args, History, HistoryCall, HistoryEvent, RefusedCall } from "./shapes";

const MILESTONES = ["none", "shipped", "delivered", "inspection passed", "inspection failed"];
const STATUS = ["none", "created", "funded", "shipped", "delivered", "inspected", "disputed", "released", "refunded",
  "settled", "cancelled"]; // prettier-ignore
const REFUND = ["none", "not shipped in time", "inspection failed"];
const RESOLUTION = ["none", "by the arbiter", "settled by both parties", "unanswered", "expired"];
const ZERO = "0x0000000000000000000000000000000000000000";

const s = (a: Args, k: string): string => String(a[k] ?? "");
const who = (a: Args, k: string): TemplateResult => addr(s(a, k));
const cash = (a: Args, k: string): string => money(s(a, k) || "0");
const named = (list: string[], a: Args, k: string): string => list[Number(a[k])] ?? String(a[k]);

/** What a log says, in words. */
function words(e: HistoryEvent): TemplateResult | string {
  const a = e.args;
  switch (`${e.contract}.${e.event}`) {
    case "TradeEscrow.OrderCreated":
      return html`Order ${s(a, "orderId")} created: ${who(a, "buyer")} buys from ${who(a, "supplier")} for
        ${cash(a, "amount")}, ship by ${date(s(a, "shipBy"))}, deliver by ${date(s(a, "deliverBy"))}
        ${a.inspectionRequired ? "(inspection required)" : ""}`;
    case "TradeEscrow.OpenAccountOrderCreated":
      return html`Order ${s(a, "orderId")} is on open account: ${who(a, "buyer")} pays ${who(a, "supplier")} through a
        receivable, not an escrow`;
    case "TradeEscrow.OrderFunded":
      return html`${who(a, "buyer")} funded the escrow with ${cash(a, "amount")}${a.viaPermit ? " (by permit)" : ""}`;
    case "TradeEscrow.MilestoneAttested":
      return html`Milestone “${named(MILESTONES, a, "milestone")}” attested by ${(a.signers as unknown[] | undefined)?.length ?? 0}
        oracle signature(s), occurred ${dateTime(s(a, "occurredAt"))}; the order is now ${named(STATUS, a, "status")}`;
    case "TradeEscrow.MilestoneContested":
      return html`Milestone “${named(MILESTONES, a, "milestone")}” contested by the oracles`;
    case "TradeEscrow.ReceiptConfirmed":
      return html`${who(a, "buyer")} confirmed receipt`;
    case "TradeEscrow.OrderReleased":
      return html`${cash(a, "amount")} released to ${who(a, "supplier")} by ${who(a, "by")}`;
    case "TradeEscrow.OrderRefunded":
      return html`${who(a, "buyer")} refunded ${cash(a, "fromEscrow")} from the escrow and ${cash(a, "fromPool")} from
        the guarantee pool (${named(REFUND, a, "reason")})`;
    case "TradeEscrow.OrderCancelled":
      return html`Order cancelled by ${who(a, "by")} before it was funded`;
    case "TradeEscrow.PrepaymentReleased":
      return html`Pre-payment of ${cash(a, "amount")} to ${who(a, "supplier")}, guaranteed by ${who(a, "guarantor")} (fee
        ${cash(a, "fee")}); the guarantor's limit left ${cash(a, "limitLeft")}`;
    case "TradeEscrow.GuaranteeClaimed":
      return html`The guarantee of ${who(a, "guarantor")} paid ${cash(a, "amount")} for ${who(a, "supplier")}`;
    case "TradeEscrow.ExposureReleased":
      return html`${who(a, "guarantor")}'s exposure to ${who(a, "supplier")} released: ${cash(a, "amount")}`;
    case "TradeEscrow.DisputeOpened":
      return html`${who(a, "buyer")} opened a dispute; answer by ${dateTime(s(a, "answerBy"))}, resolve by
        ${dateTime(s(a, "resolveBy"))}`;
    case "TradeEscrow.DisputeAnswered":
      return html`${who(a, "supplier")} answered the dispute`;
    case "TradeEscrow.DisputeResolved":
      return html`Dispute resolved ${named(RESOLUTION, a, "how")}: ${cash(a, "toBuyer")} to the buyer, ${cash(a, "toSupplier")}
        to the supplier, ${cash(a, "fromPool")} from the pool`;
    case "Receivables.ReceivableIssued":
      return html`Receivable ${s(a, "rootId")} issued: ${who(a, "debtor")} owes ${who(a, "creditor")} ${cash(a, "faceValue")}
        by ${date(s(a, "maturity"))}, invoice fingerprint
        <code title=${s(a, "fingerprint")}>${short(s(a, "fingerprint"))}</code>${s(a, "orderId") !== "0"
          ? ` for order ${s(a, "orderId")}`
          : ""}`;
    case "Receivables.PieceCreated":
      return html`Piece ${s(a, "pieceId")} created${s(a, "parentId") !== "0" ? ` from piece ${s(a, "parentId")}` : ""}:
        ${cash(a, "amount")} held by ${who(a, "holder")}${a.financed ? " (financed)" : ""}`;
    case "Receivables.PieceSplit":
      return html`Piece ${s(a, "pieceId")} split by ${who(a, "holder")} into ${s(a, "childCount")} pieces (from
        ${s(a, "firstChildId")})`;
    case "Receivables.PieceFinanced":
      return html`Piece ${s(a, "pieceId")} financed: ${who(a, "bank")} paid ${who(a, "seller")} ${cash(a, "price")} for
        ${cash(a, "amount")} (discount ${bps(Number(a.discountBps))})`;
    case "Receivables.PieceClaimed":
      return html`${who(a, "holder")} claimed ${cash(a, "amount")} on piece ${s(a, "pieceId")}`;
    case "Receivables.ReceivableRepaid":
      return html`${who(a, "payer")} repaid ${cash(a, "amount")}; ${cash(a, "outstanding")} outstanding${a.afterDefault
        ? " (after default)"
        : ""}`;
    case "Receivables.ReceivableDefaulted":
      return html`Marked defaulted by ${who(a, "by")} with ${cash(a, "outstanding")} outstanding`;
    case "Receivables.Transfer":
      if (s(a, "from") === ZERO) return html`Piece ${s(a, "tokenId")} minted to ${who(a, "to")}`;
      if (s(a, "to") === ZERO) return html`Piece ${s(a, "tokenId")} burned`;
      return html`Piece ${s(a, "tokenId")} moved from ${who(a, "from")} to ${who(a, "to")}`;
    case "SettlementToken.Transfer":
      return html`${cash(a, "value")} moved from ${who(a, "from")} to ${who(a, "to")}`;
    default:
      return `${e.contract}.${e.event}`;
  }
}

function place(block: number, time: number | null, hash: string): TemplateResult {
  return html`<td>${time === null ? "—" : dateTime(time)}</td><td class="num">${block}</td><td>${tx(hash)}</td>`;
}

function callRow(c: HistoryCall): TemplateResult {
  const called = c.contract ? `${c.contract}.${c.function ?? "?"}` : "a contract outside the ledger";
  return html`<tr data-tx=${c.txHash}>
    ${place(c.blockNumber, c.blockTime, c.txHash)}
    <td><strong>Call</strong> ${called} by ${addr(c.sender)}</td>
    <td>${args(c.args)}</td>
  </tr>`;
}

function eventRow(e: HistoryEvent): TemplateResult {
  return html`<tr>
    ${place(e.blockNumber, e.blockTime, e.txHash)}
    <td>${e.about ? "" : html`<span class="muted">(same transaction)</span> `}${words(e)}
      <div class="muted">${e.contract}.${e.event}, log ${e.logIndex}</div></td>
    <td>${args(e.args)}</td>
  </tr>`;
}

function refusedRow(r: RefusedCall): TemplateResult {
  return html`<tr data-refused=${r.txHash}>
    ${place(r.blockNumber, r.blockTime, r.txHash)}
    <td>${badge("refused", "bad")} ${r.contract}.${r.function} by ${addr(r.sender)} reverted:
      ${r.error ? html`<code>${r.error}</code>${r.errorArgs ? html` (${args(r.errorArgs, true)})` : ""}` : "error unknown"}</td>
    <td>${args(r.args)}</td>
  </tr>`;
}

/** Rows in chain order: each transaction's call, then its logs; the refused calls where they were mined. */
function rows(h: History): TemplateResult[] {
  type Keyed = [number, number, number, TemplateResult];
  const keyed: Keyed[] = [];
  for (const c of h.calls) keyed.push([c.blockNumber, c.txIndex, -1, callRow(c)]);
  for (const e of h.events) keyed.push([e.blockNumber, e.txIndex, e.logIndex, eventRow(e)]);
  for (const r of h.refused) keyed.push([r.blockNumber, r.txIndex, -1, refusedRow(r)]);
  keyed.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  return keyed.map((k) => k[3]);
}

export function historyView(h: History): TemplateResult {
  const what = h.kind === "order" ? `order ${h.id}` : `piece ${h.id}`;
  const link =
    h.rootId === null
      ? ""
      : h.kind === "order"
        ? html` Its receivable is ${h.rootId}.`
        : html` Its receivable (the tree's root) is ${h.rootId}.`;
  return html`<p>
      ${h.calls.length} transactions, ${h.events.length} logs and ${h.refused.length} refused calls for ${what}, as
      indexed up to block ${h.indexedBlock ?? "—"}.${link}
    </p>
    ${table(
      `Decoded history of ${what}: each transaction's call, the logs it left, and the refused calls that named it`,
      ["time", "block", "tx", "what happened", "decoded arguments"],
      rows(h),
      `Nothing on chain names ${what} yet.`,
    )}
    <p class="muted">Refused calls: ${h.refusedScope}</p>`;
}

/** The history form and its result: an order id or a piece id. */
export function historyForm(first: string): TemplateResult {
  const go = async (e: Event) => {
    e.preventDefault();
    const kind = ($("history-kind") as HTMLSelectElement).value;
    const id = ($("history-id") as HTMLInputElement).value.trim();
    const out = $("history-result");
    if (!/^[1-9][0-9]{0,18}$/.test(id)) {
      render(errorBox(`“${id}” is not an id: a whole number from 1`), out);
      return;
    }
    render(html`<p class="muted" aria-busy="true">Reading the history of ${kind} ${id}…</p>`, out);
    try {
      const h = await api.get<History>(`/v1/audit/history/${kind === "order" ? "orders" : "pieces"}/${id}`);
      render(historyView(h), out);
    } catch (err) {
      render(errorBox(err), out);
    }
  };
  return html`<form aria-label="Decoded history" @submit=${go}>
      <label for="history-kind">History of</label>
      <select id="history-kind">
        <option value="order">an order</option>
        <option value="piece">a piece of a receivable</option>
      </select>
      <label for="history-id">id</label>
      <input id="history-id" inputmode="numeric" pattern="[0-9]*" size="10" .value=${first} required />
      <button type="submit" id="history-go">Show history</button>
    </form>
    <div id="history-result" aria-live="polite"></div>`;
}
