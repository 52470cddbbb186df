// The bank's page: what a credit officer reads. The inbox of financing requests and the desk's work on each (its
// offer, how it priced it, or why it declined: the desk prices with no human step, the page only shows it); the
// portfolio of pieces the bank financed and holds, with its exposure by obligor and maturity ladder; the limits the
// bank published; its pre-shipment guarantee pool; and a piece's on-chain state verified in the browser against the
// bank's own node (src/proof.ts). Every part loads on its own (`section`): one failing read never blanks the page.

import { html, render, type TemplateResult } from "lit-html";
import { api } from "../api";
import type { Party } from "../types";
import { $, addr, date, ledgerNow, money, section, table } from "../ui";
import { inboxSection } from "./bank/inbox";
import { exposureSection, glance, holdingsSection, ladderSection } from "./bank/portfolio";
import type { CreditLimit, Pool, Portfolio } from "./bank/shapes";
import { verifySection } from "./bank/verify";

/** The on-chain grade codes (scoring/scorecard.py GRADES: 1 for AAA .. 9 for C; 0: no grade). */
const GRADES = ["none", "AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C"];

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function limitsTable(limits: CreditLimit[], now: number): TemplateResult {
  const rows = [...limits]
    .sort((a, b) => Number(a.revoked) - Number(b.revoked) || cmp(BigInt(b.limit), BigInt(a.limit)))
    .map((l) => {
      const lapsed = !l.revoked && Number(l.validUntil) <= now;
      const standing = l.revoked
        ? html`<span class="badge bad">revoked</span>`
        : lapsed
          ? html`<span class="badge warn">expired</span>`
          : html`<span class="badge ok">in force</span>`;
      return html`<tr>
        <th scope="row">${addr(l.party)}</th>
        <td class="num">${money(l.limit)}</td>
        <td class="num">${l.score}</td>
        <td>${GRADES[l.grade] ?? "?"} <span class="muted">(${l.grade})</span></td>
        <td>${date(l.validUntil)}</td>
        <td>${date(l.publishedAt)}</td>
        <td>${standing}</td>
      </tr>`;
    });
  return table(
    `The ${limits.length} limits this bank published on chain (CreditRegistry), revoked ones last`,
    ["party", "limit", "score", "grade", "valid until", "published", "standing"],
    rows,
    "This bank has published no limit.",
  );
}

function poolBody(pool: Pool): TemplateResult {
  const kpi = (k: string, v: string) => html`<div class="kpi"><div class="v">${v}</div><div class="k">${k}</div></div>`;
  return html`<div class="kpis">
      ${kpi("available", money(pool.available))} ${kpi("reserved", money(pool.reserved))}
      ${kpi("offered, open", money(pool.offered))}
    </div>
    <p class="muted">
      The guarantee pool backs pre-payments on orders before they ship: available is free to back a new one, reserved
      stands behind pre-payments drawn, offered is what open offers could still draw. Indexed at block
      ${pool.indexedBlock ?? "—"}.
    </p>`;
}

export async function bankPage(main: HTMLElement, me: Party): Promise<void> {
  render(
    html`<h1>Bank</h1>
      <p class="muted">What ${addr(me.address)} finances, what its desk offered, and proof of any piece from your own node.</p>
      <div id="bank-glance"></div>
      <div id="bank-inbox"></div>
      <div class="grid">
        <div id="bank-exposure"></div>
        <div id="bank-ladder"></div>
      </div>
      <div id="bank-portfolio"></div>
      <div id="bank-verify"></div>
      <div id="bank-pool"></div>
      <div id="bank-limits"></div>`,
    main,
  );
  const portfolio = api.get<Portfolio>("/v1/banks/me/portfolio");
  portfolio.catch(() => undefined); // each section that reads it shows its failure
  const now = ledgerNow(); // the bank routes' own clock (a devnet runs ahead of the wall)
  const inbox = Promise.all([now, portfolio.catch(() => null)]).then(([clock, p]) => ({
    me: me.address,
    now: clock,
    held: new Map((p?.pieces ?? []).map((f) => [f.pieceId, f.nonce])),
  }));

  await Promise.all([
    verifySection($("bank-verify")),
    section($("bank-glance"), "At a glance", async () => glance(await portfolio), "glance"),
    inboxSection($("bank-inbox"), inbox),
    exposureSection($("bank-exposure"), portfolio),
    ladderSection($("bank-ladder"), portfolio),
    holdingsSection($("bank-portfolio"), portfolio),
    section($("bank-limits"), "Limits published", async () => {
      const limits = await api.get<CreditLimit[]>("/v1/credit/limits", { includeRevoked: true });
      return limitsTable(limits.filter((l) => l.bank.toLowerCase() === me.address.toLowerCase()), await now);
    }, "limits"),
    section($("bank-pool"), "Pre-shipment pool", async () => poolBody(await api.get<Pool>("/v1/banks/me/pool")), "pool"),
  ]);
}
