// The core enterprise's page: what it has to act on (orders to fund, deliveries to confirm, open-account deliveries
// to acknowledge as receivables), what it owes by maturity, and its repayments. Every action is the API's prepared
// transaction or typed data, signed in the party's wallet (src/wallet.ts): the page never holds a key.
//
// A receivable is acknowledged by its debtor's EIP-712 signature over the issue terms (Receivables.issue checks
// it); here the core both signs and sends the issue, so the supplier's receivable exists the moment it is mined.
// Repaying pulls tokens: the page asks for the Receivables contract's allowance first, then the repayment.

import { html, render, type TemplateResult } from "lit-html";
import { hexlify, keccak256, randomBytes, toUtf8Bytes } from "ethers";
import { all, api } from "../api";
import { chart, PALETTE } from "../charts";
import type { Order, Party, Prepared, Receivable, TypedData } from "../types";
import { $, act, addr, config, date, ledgerNow, money, parseMoney, section, table } from "../ui";
import { send, signTyped } from "../wallet";
import { type Draft, draftsPart, readDrafts } from "./drafts";

const DAY = 86_400;
/** The ladder's buckets: days to maturity (negative: overdue). */
const BUCKETS: [string, number, number][] = [
  ["overdue", -Infinity, 0],
  ["0–30 days", 0, 31],
  ["31–60 days", 31, 61],
  ["61–90 days", 61, 91],
  ["91–180 days", 91, 181],
  ["over 180 days", 181, Infinity],
];

function outstanding(r: Receivable): bigint {
  return BigInt(r.faceValue) - BigInt(String(r.repaid ?? "0"));
}

/** The ledger's now, read once per drawing (ledgerNow: the chain may run ahead of the wall clock). */
let current = 0;
function now(): number {
  return current;
}

/** Allowance for `spender` (TradeEscrow or Receivables) to pull `amount`, then `next`: two wallet transactions. */
async function withAllowance(
  spender: "TradeEscrow" | "Receivables",
  amount: bigint,
  next: () => Promise<Prepared>,
  say: (s: string) => void,
): Promise<void> {
  say(`allowing ${spender} to take ${money(amount)}…`);
  await send(await api.post<Prepared>("/v1/token/approvals", { spender, amount: amount.toString() }), say);
  await send(await next(), say);
}

export async function corePage(main: HTMLElement, me: Party): Promise<void> {
  render(
    html`<h1>Core enterprise</h1>
      <p class="muted">
        What ${addr(me.address)} buys and owes. Actions are signed in your wallet; the ledger records them on chain.
      </p>
      <div id="core-status" aria-live="polite"></div>
      <div id="core-kpis"></div>
      <div id="core-act"></div>
      <div class="grid">
        <div id="core-ladder"></div>
        <div id="core-repay"></div>
      </div>
      <div id="core-orders"></div>`,
    main,
  );
  const line = $("core-status");
  let orders: Order[] = [];
  let owed: Receivable[] = [];
  let drafts: Draft[] = [];

  const load = async () => {
    [orders, owed, drafts] = await Promise.all([
      all<Order>("/v1/orders", { limit: 200 }),
      all<Receivable>("/v1/receivables", { limit: 200 }),
      readDrafts(),
    ]);
    orders = orders.filter((o) => o.buyer.toLowerCase() === me.address.toLowerCase());
    owed = owed.filter((r) => r.debtor.toLowerCase() === me.address.toLowerCase());
  };
  const refresh = () => void draw();

  const draw = async () => {
    current = await ledgerNow();
    await section($("core-kpis"), "At a glance", async () => {
      await load();
      const open = owed.filter((r) => outstanding(r) > 0n && Number(r.defaultedAt) === 0);
      const total = open.reduce((n, r) => n + outstanding(r), 0n);
      const overdue = open.filter((r) => Number(r.maturity) < now());
      const kpi = (k: string, v: string) => html`<div class="kpi"><div class="v">${v}</div><div class="k">${k}</div></div>`;
      return html`<div class="kpis">
        ${kpi("owed, outstanding", money(total))} ${kpi("receivables outstanding", String(open.length))}
        ${kpi("overdue", `${overdue.length} (${money(overdue.reduce((n, r) => n + outstanding(r), 0n))})`)}
        ${kpi("orders", String(orders.length))}
        ${kpi("to co-sign", String(drafts.filter((d) => d.awaiting?.toLowerCase() === me.address.toLowerCase()).length))}
        ${kpi("to fund", String(orders.filter((o) => o.status === "CREATED" && !o.openAccount).length))}
        ${kpi("deliveries to confirm", String(orders.filter((o) => o.status === "SHIPPED").length))}
      </div>`;
    });
    await Promise.all([
      section($("core-act"), "To act on", async () => actions()),
      section($("core-ladder"), "What you owe, by maturity", async () => ladder()),
      section($("core-repay"), "Repayments", async () => repayments()),
      section($("core-orders"), "Your orders", async () => orderTable()),
    ]);
    drawLadder();
  };

  const actions = (): TemplateResult => {
    const toFund = orders.filter((o) => o.status === "CREATED" && !o.openAccount);
    const toConfirm = orders.filter((o) => o.status === "SHIPPED");
    const withReceivable = new Set(owed.map((r) => String(r.orderId)));
    const toAcknowledge = orders.filter(
      (o) => o.openAccount && (o.status === "DELIVERED" || o.status === "INSPECTED") && !withReceivable.has(o.orderId),
    );
    const fund = (o: Order) => (e: Event) =>
      act(e.target as HTMLButtonElement, line, async (say) => {
        await withAllowance("TradeEscrow", BigInt(o.amount), () => api.post<Prepared>(`/v1/orders/${o.orderId}/fund`), say);
        return `order ${o.orderId} funded: ${money(o.amount)} in escrow`;
      }, refresh);
    const confirm = (o: Order) => (e: Event) =>
      act(e.target as HTMLButtonElement, line, async (say) => {
        await send(await api.post<Prepared>(`/v1/orders/${o.orderId}/confirm-receipt`), say);
        return `receipt of order ${o.orderId} confirmed: the escrow went to the supplier`;
      }, refresh);
    return html`
      ${draftsPart(drafts, me, "buyer", line, refresh)}
      <h3>Orders to fund</h3>
      ${table("Orders signed by both sides, waiting for your escrow", ["order", "supplier", "amount", "ship by", ""], toFund.map(
        (o) => html`<tr data-order=${o.orderId}>
          <td>${o.orderId}</td><td>${addr(o.supplier)}</td><td class="num">${money(o.amount)}</td><td>${date(o.shipBy)}</td>
          <td><button type="button" id=${`fund-${o.orderId}`} @click=${fund(o)}>Fund</button></td>
        </tr>`,
      ), "Nothing to fund.")}
      <h3>Deliveries to confirm</h3>
      ${table("Shipped orders: confirm receipt to release the escrow now, or wait for the carrier's delivery attestation", ["order", "supplier", "amount", "shipped", "deliver by", ""], toConfirm.map(
        (o) => html`<tr data-order=${o.orderId}>
          <td>${o.orderId}</td><td>${addr(o.supplier)}</td><td class="num">${money(o.amount)}</td>
          <td>${date(o.shippedAt)}</td><td>${date(o.deliverBy)}</td>
          <td><button type="button" id=${`confirm-${o.orderId}`} @click=${confirm(o)}>Confirm receipt</button></td>
        </tr>`,
      ), "No shipment waits for your confirmation.")}
      <h3>Receivables to acknowledge</h3>
      ${toAcknowledge.length === 0
        ? html`<p class="muted">Every delivered open-account order has its receivable.</p>`
        : html`${table("Open-account orders delivered without a receivable: acknowledging issues it to the supplier", ["order", "supplier", "amount", "delivered", "acknowledge"], toAcknowledge.map((o) => acknowledgeRow(o)), "")}`}
    `;
  };

  const acknowledgeRow = (o: Order): TemplateResult => {
    const id = `ack-${o.orderId}`;
    const submit = (e: Event) => {
      e.preventDefault();
      const form = e.target as HTMLFormElement;
      const face = parseMoney((form.elements.namedItem("face") as HTMLInputElement).value);
      const days = Number((form.elements.namedItem("days") as HTMLInputElement).value);
      const invoice = (form.elements.namedItem("invoice") as HTMLInputElement).value.trim();
      return act(form.querySelector("button"), line, async (say) => {
        if (face === null || face <= 0n) throw new Error("face value: type an amount such as 1,250.00");
        if (!Number.isInteger(days) || days < 1 || days > 365) throw new Error("maturity: 1 to 365 days");
        if (!invoice) throw new Error("invoice number: the supplier's invoice this receivable pays");
        const terms = {
          debtor: me.address,
          creditor: o.supplier,
          faceValue: face.toString(),
          maturity: String(now() + days * DAY),
          // Salted: a hash of the number alone could be searched for it, and the number stays off chain.
          invoiceHash: keccak256(toUtf8Bytes(`${o.supplier.toLowerCase()}|${invoice}|${face}|${hexlify(randomBytes(32))}`)),
          // The server fingerprints the invoice under the consortium's key (scf serve --fingerprint-key): the
          // number itself is never stored nor sent on chain, only its fingerprint and a salted commitment.
          invoiceNumber: invoice,
          invoiceDate: new Date(now() * 1000).toISOString().slice(0, 10),
          orderId: o.orderId,
          nonce: BigInt(hexlify(randomBytes(32))).toString(), // random: no hash of the number goes on chain
          deadline: String(now() + DAY),
        };
        say("sign the acknowledgement in your wallet…");
        const doc = await api.post<TypedData & { invoiceSalt: string | null }>("/v1/receivables/typed-data", terms);
        const debtorSignature = await signTyped(doc);
        await send(await api.post<Prepared>("/v1/receivables", { terms, debtorSignature }), say);
        const salt = doc.invoiceSalt ? `; keep invoice ${invoice}'s commitment salt ${doc.invoiceSalt} to prove it` : "";
        return `receivable for order ${o.orderId} issued to ${o.supplier}: ${money(face)} due in ${days} days${salt}`;
      }, refresh);
    };
    return html`<tr data-order=${o.orderId}>
      <td>${o.orderId}</td><td>${addr(o.supplier)}</td><td class="num">${money(o.amount)}</td><td>${date(o.deliveredAt)}</td>
      <td>
        <form @submit=${submit} aria-label=${`acknowledge order ${o.orderId}`}>
          <label for=${`${id}-face`}>Face value</label>
          <input id=${`${id}-face`} name="face" size="12" .value=${money(o.amount, false)} />
          <label for=${`${id}-days`}>Days to maturity</label>
          <input id=${`${id}-days`} name="days" type="number" min="1" max="365" value="60" />
          <label for=${`${id}-invoice`}>Invoice number</label>
          <input id=${`${id}-invoice`} name="invoice" size="14" required />
          <button type="submit">Acknowledge</button>
        </form>
      </td>
    </tr>`;
  };

  const buckets = (): { label: string; amount: bigint; count: number }[] => {
    const t = now();
    return BUCKETS.map(([label, lo, hi]) => {
      const inIt = owed.filter((r) => {
        if (outstanding(r) <= 0n || Number(r.defaultedAt) !== 0) return false;
        const days = (Number(r.maturity) - t) / DAY;
        return days >= lo && days < hi;
      });
      return { label, amount: inIt.reduce((n, r) => n + outstanding(r), 0n), count: inIt.length };
    });
  };

  const ladder = (): TemplateResult => {
    const rows = buckets();
    return html`<div id="ladder-chart" class="chart"></div>
      ${table("Outstanding (face value less repaid) by days to maturity; defaulted receivables are left out", ["maturity", "receivables", "outstanding"], rows.map(
        (b) => html`<tr><td>${b.label}</td><td class="num">${b.count}</td><td class="num">${money(b.amount)}</td></tr>`,
      ), "")}`;
  };

  const drawLadder = () => {
    const el = document.getElementById("ladder-chart");
    if (!el) return;
    const rows = buckets();
    const scale = 10n ** BigInt(config.token.decimals);
    chart(
      el,
      {
        color: [PALETTE[0]],
        grid: { left: 80, right: 16, top: 16, bottom: 40 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: rows.map((b) => b.label) },
        yAxis: { type: "value", name: `outstanding (${config.token.symbol})`, axisLabel: { formatter: (v: number) => v.toLocaleString("en-US") } },
        // Display only: the exact amounts are in the table beside it.
        series: [{ type: "bar", name: "outstanding", data: rows.map((b) => Number(b.amount / scale)) }],
      },
      `What you owe by maturity: ${rows.map((b) => `${b.label} ${money(b.amount)}`).join("; ")}`,
    );
  };

  const repayments = (): TemplateResult => {
    const open = owed
      .filter((r) => outstanding(r) > 0n && Number(r.defaultedAt) === 0)
      .sort((a, b) => Number(a.maturity) - Number(b.maturity));
    const repay = (r: Receivable) => (e: Event) => {
      e.preventDefault();
      const form = e.target as HTMLFormElement;
      const amount = parseMoney((form.elements.namedItem("amount") as HTMLInputElement).value);
      return act(form.querySelector("button"), line, async (say) => {
        if (amount === null || amount <= 0n) throw new Error("amount: type an amount such as 1,250.00");
        if (amount > outstanding(r)) throw new Error(`amount: at most the ${money(outstanding(r))} outstanding`);
        await withAllowance("Receivables", amount, () => api.post<Prepared>(`/v1/receivables/${r.rootId}/repay`, { amount: amount.toString() }), say);
        return `repaid ${money(amount)} on receivable ${r.rootId}: its holders claim it from the contract`;
      }, refresh);
    };
    const repaid = owed.filter((r) => BigInt(String(r.repaid ?? "0")) > 0n).length;
    return html`<p class="muted">${repaid} receivables repaid in whole or part so far.</p>
      ${table("Outstanding receivables, soonest maturity first", ["receivable", "creditor", "maturity", "outstanding", "repay"], open.map(
        (r) => html`<tr data-root=${r.rootId}>
          <td>${r.rootId}</td><td>${addr(r.creditor)}</td>
          <td>${date(r.maturity)}${Number(r.maturity) < now() ? html` <span class="badge bad">overdue</span>` : ""}</td>
          <td class="num">${money(outstanding(r))}</td>
          <td><form @submit=${repay(r)} aria-label=${`repay receivable ${r.rootId}`}>
            <label for=${`repay-${r.rootId}`} class="muted">Amount</label>
            <input id=${`repay-${r.rootId}`} name="amount" size="12" .value=${money(outstanding(r), false)} />
            <button type="submit">Repay</button>
          </form></td>
        </tr>`,
      ), "Nothing outstanding.")}`;
  };

  const orderTable = (): TemplateResult => {
    const recent = [...orders].sort((a, b) => Number(b.orderId) - Number(a.orderId)).slice(0, 50);
    return table(`Your latest ${recent.length} of ${orders.length} orders as buyer`, ["order", "supplier", "amount", "status", "kind", "created", "deliver by"], recent.map(
      (o) => html`<tr>
        <td>${o.orderId}</td><td>${addr(o.supplier)}</td><td class="num">${money(o.amount)}</td>
        <td><span class="badge">${o.status}</span></td><td>${o.openAccount ? "open account" : "escrow"}</td>
        <td>${date(o.createdAt)}</td><td>${date(o.deliverBy)}</td>
      </tr>`,
    ), "No orders yet.");
  };

  await draw();
}
