// The party's credit as the scorer decides it (score, grade, probability of default, limit and the reasons in
// words), and how the limits banks published for it moved over time, as a chart with the same points as a table.

import { html, type TemplateResult } from "lit-html";
import { api } from "../../api";
import { chart, PALETTE } from "../../charts";
import { addr, bps, config, dateTime, ledgerNow, money, table } from "../../ui";
import type { CreditReason, Decision, LimitEvent } from "./shapes";

const NO_MODEL = /^0x0*$/;

function reasonRows(reasons: CreditReason[], gained: boolean): TemplateResult[] {
  return reasons.map(
    (r) => html`<tr>
      <th scope="row" class="plain">${r.text}</th>
      <td class="num">${r.pointsLost === null ? "flag" : gained ? `+${-r.pointsLost}` : `−${r.pointsLost}`}</td>
      <td><code>${r.code}</code></td>
    </tr>`,
  );
}

export async function decisionSection(me: string): Promise<TemplateResult> {
  const d = await api.get<Decision>(`/v1/credit/decisions/${me}`);
  const scored = d.status === "SCORED";
  return html`<p>
      <span class="badge ${scored ? "ok" : "warn"}">${d.status.toLowerCase().replace(/_/g, " ")}</span>
      <span class="muted">as of block ${d.asOfBlock} (${dateTime(d.asOfTime)})</span>
    </p>
    <div class="kpis">
      <div class="kpi"><div class="v">${d.score ?? "—"}</div><div class="k">score</div></div>
      <div class="kpi"><div class="v">${d.grade ?? "—"}</div><div class="k">grade</div></div>
      <div class="kpi"><div class="v">${bps(d.pdBps)}</div><div class="k">probability of default</div></div>
      <div class="kpi"><div class="v">${money(d.limit)}</div><div class="k">limit the model suggests</div></div>
    </div>
    ${d.flags.length > 0
      ? html`<p class="error" role="note">Flags: ${d.flags.join(", ").toLowerCase().replace(/_/g, " ")}</p>`
      : ""}
    ${table(
      "What held the score down (points lost against the typical supplier)",
      ["Reason", "Points", "Code"],
      reasonRows(d.reasons, false),
      "Nothing held the score down.",
    )}
    ${table(
      "What helped (points gained against the typical supplier)",
      ["Reason", "Points", "Code"],
      reasonRows(d.favourable, true),
      scored ? "No feature scored above the typical supplier." : "No favourable reasons without a score.",
    )}
    ${d.notes.length > 0 ? html`<ul>${d.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ""}
    <p class="muted">Model <code title=${d.model}>${d.model.slice(0, 18)}…</code>; decision hash
      <code title=${d.decisionHash}>${d.decisionHash.slice(0, 18)}…</code></p>`;
}

/** Whole tokens, for a chart axis only (the table beside it shows the exact amount). */
function tokens(units: string): number {
  return Number(BigInt(units) / 10n ** BigInt(config.token.decimals));
}

/** A bank's limit as a step line: each published limit holds until the next event or its validUntil (then 0),
 * a revocation drops it to 0, and the last one is drawn on to the ledger's now. Points are [ms, whole tokens]. */
function limitSteps(events: LimitEvent[], now: number): [number, number][] {
  const points: [number, number][] = [];
  events.forEach((e, i) => {
    const value = e.kind === "revoked" || e.limit === null ? 0 : tokens(e.limit);
    points.push([e.timestamp * 1000, value]);
    const next = i + 1 < events.length ? events[i + 1]!.timestamp : now;
    const until = e.validUntil === null ? next : Math.min(Number(e.validUntil), next);
    if (value > 0 && until < next) points.push([until * 1000, 0]);
    else if (i + 1 === events.length) points.push([now * 1000, value]);
  });
  return points;
}

export async function historySection(me: string, names: Record<string, string>): Promise<TemplateResult> {
  const events: LimitEvent[] = [];
  let after: number | undefined;
  for (let page = 0; page < 50; page++) {
    const answer = await api.get<{ items: LimitEvent[]; nextAfter: number | null }>(`/v1/credit/history/${me}`, {
      after,
      limit: 200,
    });
    events.push(...answer.items);
    if (answer.nextAfter === null) break;
    after = answer.nextAfter;
  }
  events.sort((a, b) => a.timestamp - b.timestamp || a.blockNumber - b.blockNumber);
  if (events.length === 0) return html`<p class="muted">No bank has published a limit for you yet.</p>`;

  // A score is the model's only when the bank says which model made it (a hand-set limit carries score 0).
  const scores = events
    .filter((e) => e.kind === "published" && e.score !== null && e.modelHash && !NO_MODEL.test(e.modelHash))
    .map((e) => [e.timestamp * 1000, e.score]);
  const now = await ledgerNow();
  const banks = [...new Set(events.map((e) => e.bank))];
  const limitSeries = banks.map((bank, i) => ({
    name: `limit from ${names[bank.toLowerCase()] ?? "bank"} ${bank.slice(0, 6)}…${bank.slice(-4)}`,
    type: "line",
    step: "end",
    yAxisIndex: 1,
    symbol: ["rect", "triangle", "diamond", "pin", "arrow"][i % 5],
    symbolSize: 8,
    color: PALETTE[(i + 1) % PALETTE.length],
    data: limitSteps(
      events.filter((e) => e.bank === bank),
      now,
    ),
  }));
  const el = document.createElement("div");
  el.className = "chart";
  const label =
    `Score and limits over time: ${scores.length} scored limits, from ${dateTime(events[0]!.timestamp)} to ` +
    `${dateTime(events[events.length - 1]!.timestamp)}; the table below lists every point.`;
  // Drawn once the element is in the page (ECharts needs its size): the next frame, after the section renders.
  requestAnimationFrame(() => {
    if (!el.isConnected) return;
    chart(
      el,
      {
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 48, right: 72, top: 36, bottom: 72 },
        xAxis: { type: "time" },
        yAxis: [
          { type: "value", name: "score", scale: true },
          { type: "value", name: `limit (${config.token.symbol})`, splitLine: { show: false } },
        ],
        series: [
          { name: "score", type: "line", yAxisIndex: 0, symbol: "circle", symbolSize: 8, color: PALETTE[0], data: scores },
          ...limitSeries,
        ],
      },
      label,
    );
  });
  const rows = events.map(
    (e) => html`<tr>
      <th scope="row">${dateTime(e.timestamp)}</th>
      <td>${addr(e.bank, names)}</td>
      <td>${e.kind}</td>
      <td class="num">${e.score && e.modelHash && !NO_MODEL.test(e.modelHash) ? e.score : "—"}</td>
      <td class="num">${e.limit === null ? "—" : money(e.limit)}</td>
      <td>${e.validUntil === null ? "—" : dateTime(Number(e.validUntil))}</td>
    </tr>`,
  );
  return html`${el}
    <details>
      <summary>The same points as a table</summary>
      ${table(
        "Limits banks published for you (and revoked), oldest first",
        ["When", "Bank", "Event", "Score", "Limit", "Valid until"],
        rows,
        "None.",
      )}
    </details>`;
}
