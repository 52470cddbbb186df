// The bank's portfolio (GET /v1/banks/me/portfolio): the pieces it financed and holds, each one's state, and the
// API's sums: exposure by obligor, the maturity ladder, the counts, the return so far on closed pieces. The page
// adds nothing to the arithmetic: every amount is the API's decimal string shown with money(); the charts draw whole
// token units (display only: the exact amounts are in the tables beside them).

import { html, type TemplateResult } from "lit-html";
import { chart, PALETTE } from "../../charts";
import { addr, config, date, money, section, table } from "../../ui";
import type { FinancedPiece, HeldState, Portfolio } from "./shapes";
import { verifyPiece } from "./verify";

const DAY = 86_400;

const BUCKET_WORDS: Record<string, string> = {
  overdue: "overdue",
  "0-30": "0–30 days",
  "31-60": "31–60 days",
  "61-90": "61–90 days",
  "91-180": "91–180 days",
  ">180": "over 180 days",
};

const STATE_KIND: Record<HeldState, string> = {
  outstanding: "",
  overdue: "warn",
  defaulted: "bad",
  repaid: "ok",
  claimed: "ok",
};

const STATE_WORDS: Record<HeldState, string> = {
  outstanding: "outstanding",
  overdue: "overdue",
  defaulted: "defaulted",
  repaid: "repaid: to claim",
  claimed: "claimed: closed",
};

/** Whole token units of an amount, for a chart's bar (never for a figure shown as money). */
function whole(units: string): number {
  return Number(BigInt(units) / 10n ** BigInt(config.token.decimals));
}

function kpi(k: string, v: string): TemplateResult {
  return html`<div class="kpi"><div class="v">${v}</div><div class="k">${k}</div></div>`;
}

export function glance(p: Portfolio): TemplateResult {
  const held = p.pieces.length;
  const open = p.counts.outstanding + p.counts.overdue + p.counts.defaulted;
  return html`<div class="kpis">
      ${kpi("pieces held", String(held))} ${kpi("paid for them", money(p.totals.paid))}
      ${kpi(`still due on ${open} open`, money(p.totals.due))} ${kpi("repaid, to claim", money(p.totals.claimable))}
      ${kpi("overdue", String(p.counts.overdue))} ${kpi("defaulted", String(p.counts.defaulted))}
      ${kpi(`return on ${p.returnSoFar.pieces} closed`, money(p.returnSoFar.net))}
    </div>
    <p class="muted">
      As of the index at block ${p.indexedBlock ?? "—"}, the ledger's time ${date(p.now)}. The return so far is
      collected less paid on closed pieces (${money(p.returnSoFar.collected)} − ${money(p.returnSoFar.paid)}).
      ${p.notHeld ? `${p.notHeld} piece(s) financed and since sold on or split are not counted.` : ""}
    </p>`;
}

export function exposureSection(host: HTMLElement, reading: Promise<Portfolio>): Promise<void> {
  let p: Portfolio;
  return section(host, "Exposure by obligor", async () => {
    p = await reading;
    const rows = p.byObligor.map(
      (o) => html`<tr>
        <th scope="row">${addr(o.obligor)}</th>
        <td class="num">${o.pieces}</td>
        <td class="num">${money(o.due)}</td>
        <td class="num">${money(o.paid)}</td>
      </tr>`,
    );
    return html`${p.byObligor.length ? html`<div id="bank-exposure-chart" class="chart"></div>` : ""}
    ${table("Still due on open pieces (outstanding, overdue, defaulted) by the root debtor, largest first", ["obligor", "pieces", "due", "paid"], rows, "Nothing open: no exposure.")}`;
  }, "exposure").then(() => {
    const el = document.getElementById("bank-exposure-chart");
    if (!el) return;
    chart(
      el,
      {
        color: [PALETTE[0]],
        grid: { left: 90, right: 16, top: 16, bottom: 60 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: p.byObligor.map((o) => `${o.obligor.slice(0, 6)}…${o.obligor.slice(-4)}`), axisLabel: { rotate: 20, interval: 0 } },
        yAxis: { type: "value", name: `due (${config.token.symbol})`, axisLabel: { formatter: (v: number) => v.toLocaleString("en-US") } },
        series: [{ type: "bar", name: "due", data: p.byObligor.map((o) => whole(o.due)) }],
      },
      `Exposure by obligor: ${p.byObligor.map((o) => `${o.obligor} ${money(o.due)}`).join("; ")}`,
    );
  });
}

export function ladderSection(host: HTMLElement, reading: Promise<Portfolio>): Promise<void> {
  let p: Portfolio;
  return section(host, "Maturity ladder", async () => {
    p = await reading;
    const rows = p.ladder.map(
      (b) => html`<tr>
        <th scope="row">${BUCKET_WORDS[b.bucket] ?? b.bucket}</th>
        <td class="num">${b.pieces}</td>
        <td class="num">${money(b.due)}</td>
      </tr>`,
    );
    return html`<div id="bank-ladder-chart" class="chart"></div>
      ${table("Still due on open pieces by days to maturity; overdue holds every passed maturity, defaulted or not", ["maturity", "pieces", "due"], rows, "")}`;
  }, "ladder").then(() => {
    const el = document.getElementById("bank-ladder-chart");
    if (!el) return;
    chart(
      el,
      {
        color: [PALETTE[1]],
        grid: { left: 90, right: 40, top: 24, bottom: 40 },
        tooltip: { trigger: "axis" },
        // The API's own bucket names ("0-30", ">180") fit under the bars; the table beside it says them in words.
        xAxis: { type: "category", name: "days", data: p.ladder.map((b) => b.bucket), axisLabel: { interval: 0 } },
        yAxis: { type: "value", name: `due (${config.token.symbol})`, axisLabel: { formatter: (v: number) => v.toLocaleString("en-US") } },
        series: [{ type: "bar", name: "due", data: p.ladder.map((b) => whole(b.due)) }],
      },
      `Maturity ladder: ${p.ladder.map((b) => `${BUCKET_WORDS[b.bucket] ?? b.bucket} ${money(b.due)}`).join("; ")}`,
    );
  });
}

function maturity(f: FinancedPiece, now: number): TemplateResult {
  const days = Math.floor((Number(f.maturity) - now) / DAY);
  const when = f.state === "repaid" || f.state === "claimed" ? "" : days < 0 ? `${-days} days ago` : `in ${days} days`;
  return html`${date(f.maturity)}${when ? html`<br /><span class="muted">${when}</span>` : ""}`;
}

function pieceRow(f: FinancedPiece, now: number): TemplateResult {
  return html`<tr data-financed=${f.pieceId}>
    <th scope="row">${f.pieceId}</th>
    <td>${f.rootId}</td>
    <td>${addr(f.obligor)}</td>
    <td>${addr(f.seller)}${f.sellerTier === null ? "" : html`<br /><span class="muted">tier ${f.sellerTier}</span>`}</td>
    <td class="num">${money(f.price, false)}</td>
    <td class="num">${money(f.amount, false)}</td>
    <td class="num">${money(f.collected, false)}</td>
    <td class="num">${money(f.claimable, false)}</td>
    <td class="num">${money(f.due, false)}</td>
    <td>${maturity(f, now)}</td>
    <td><span class="badge ${STATE_KIND[f.state]}">${STATE_WORDS[f.state]}</span></td>
    <td>
      <button type="button" class="secondary" aria-label=${`verify piece ${f.pieceId} on your node`} @click=${() => verifyPiece(f.pieceId)}>
        Verify
      </button>
    </td>
  </tr>`;
}

export function holdingsSection(host: HTMLElement, reading: Promise<Portfolio>): Promise<void> {
  return section(host, "Portfolio", async () => {
    const p = await reading;
    const order: HeldState[] = ["defaulted", "overdue", "outstanding", "repaid", "claimed"];
    const sorted = [...p.pieces].sort(
      (a, b) => order.indexOf(a.state) - order.indexOf(b.state) || Number(a.maturity) - Number(b.maturity),
    );
    const tier = p.tiers.asOfBlock === null
      ? `Seller tiers are left out: ${p.tiers.note}.`
      : `Seller tier: ${p.tiers.note}, as of block ${p.tiers.asOfBlock}; none shown where it cannot be derived.`;
    return html`${table(
        `The ${p.pieces.length} ${p.pieces.length === 1 ? "piece" : "pieces"} this bank financed and holds: at risk first, then by maturity`,
        // Amounts without the symbol in the cells (it is in each heading): the columns stay narrow enough to read.
        ["piece", "receivable", "obligor", "seller", ...["paid", "face", "collected", "to claim", "due"].map((h) => `${h} (${config.token.symbol})`), "maturity", "state", "proof"],
        sorted.map((f) => pieceRow(f, p.now)),
        "This bank holds no financed piece yet.",
      )}
      <p class="muted">${tier}</p>`;
  }, "portfolio");
}
