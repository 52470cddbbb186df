// The party's latest orders, and for the one chosen its milestones as a timeline: what happened, when the oracles
// said it happened and when the chain recorded it, who attested it, the evidence hash and the transaction.

import { html, render, type TemplateResult } from "lit-html";
import { all, api } from "../../api";
import { addr, dateTime, errorBox, money, table } from "../../ui";
import type { Order } from "../../types";
import type { OrderDetail } from "./shapes";

const LATEST = 20;

function hash(value: string): TemplateResult {
  return html`<code title=${value}>${value.slice(0, 10)}…${value.slice(-6)}</code>`;
}

function timeline(order: OrderDetail, names: Record<string, string>): TemplateResult {
  const steps = order.milestones.map(
    (m) => html`<li>
      <strong>${m.name.toLowerCase().replace(/_/g, " ")}</strong>: happened ${dateTime(Number(m.occurredAt))},
      recorded ${dateTime(m.recordedAt)}; order ${m.statusAfter.toLowerCase()} after it.<br />
      Attested by ${m.signers.length === 0 ? "no one" : m.signers.map((s, i) => html`${i ? ", " : ""}${addr(s, names)}`)};
      evidence ${hash(m.evidenceHash)}; transaction ${hash(m.txHash)}
    </li>`,
  );
  const dispute = order.dispute
    ? html`<li>
        <strong>dispute</strong> opened ${dateTime(order.dispute.openedAt)}, answer by
        ${dateTime(order.dispute.answerBy)}${order.dispute.resolvedAt
          ? html`, resolved ${dateTime(order.dispute.resolvedAt)}`
          : html`, not resolved yet`}
      </li>`
    : "";
  return html`<h3 id="order-timeline-h" tabindex="-1">Order #${order.orderId}: milestones</h3>
    <p class="muted">
      ${money(order.amount)} from ${addr(order.buyer, names)}, ${order.status.toLowerCase()},
      ${order.openAccount ? "open account" : "escrowed"}; paid to supplier ${money(order.paidToSupplier)}.
    </p>
    ${steps.length === 0 && !dispute
      ? html`<p class="muted">No milestone recorded yet.</p>`
      : html`<ol class="timeline" aria-labelledby="order-timeline-h">${steps}${dispute}</ol>`}`;
}

async function showTimeline(id: string, host: HTMLElement, names: Record<string, string>, button: HTMLButtonElement) {
  for (const b of document.querySelectorAll<HTMLButtonElement>("button[data-timeline]")) {
    b.setAttribute("aria-expanded", String(b === button));
  }
  render(html`<p class="muted" aria-busy="true">Loading order #${id}…</p>`, host);
  try {
    const order = await api.get<OrderDetail>(`/v1/orders/${id}`);
    render(timeline(order, names), host);
    host.querySelector<HTMLElement>("#order-timeline-h")?.focus();
  } catch (err) {
    render(errorBox(err), host);
  }
}

export async function ordersSection(me: string, names: Record<string, string>): Promise<TemplateResult> {
  const orders = await all<Order>("/v1/orders", { limit: 200 });
  const latest = [...orders].sort((a, b) => b.createdAt - a.createdAt || Number(BigInt(b.orderId) - BigInt(a.orderId)));
  const shown = latest.slice(0, LATEST);
  const mine = me.toLowerCase();
  const host = document.createElement("div");
  host.id = "order-timeline";
  host.setAttribute("aria-live", "polite");
  render(html`<p class="muted">Choose “show timeline” on an order to see its milestones here.</p>`, host);
  const rows = shown.map((o) => {
    const selling = o.supplier.toLowerCase() === mine;
    return html`<tr data-order=${o.orderId}>
      <th scope="row">#${o.orderId}</th>
      <td>${selling ? html`you supply ${addr(o.buyer, names)}` : html`you buy from ${addr(o.supplier, names)}`}</td>
      <td class="num">${money(o.amount)}</td>
      <td>${o.status.toLowerCase()}</td>
      <td>${dateTime(o.createdAt)}</td>
      <td>${dateTime(Number(o.deliverBy))}</td>
      <td>
        <button
          type="button"
          class="secondary"
          data-timeline=${o.orderId}
          aria-expanded="false"
          aria-controls="order-timeline"
          @click=${(e: Event) => void showTimeline(o.orderId, host, names, e.currentTarget as HTMLButtonElement)}
        >
          show timeline<span class="sr-only"> of order ${o.orderId}</span>
        </button>
      </td>
    </tr>`;
  });
  return html`${table(
      `Your latest ${shown.length} of ${orders.length} orders, newest first.`,
      ["Order", "Counterparty", "Amount", "Status", "Created", "Deliver by", "Milestones"],
      rows,
      "No orders name you yet.",
    )}
    ${host}`;
}
