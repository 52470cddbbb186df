// Pictures for the auditor: scores by supply tier (GET /v1/audit/scores: the scorer's decisions as the credit
// routes serve them), calibration (GET /v1/credit/evaluation: predicted PD against observed failure rate, bin by
// bin, as `scf score evaluate --json` wrote it) and a receivable's tree (GET /v1/receivables/{rootId}). Each chart
// has a table beside it with the same figures, for reading them exactly and for screen readers.

import { html, render, type TemplateResult } from "lit-html";
import { api } from "../../api";
import { chart, PALETTE } from "../../charts";
import type { Piece, ReceivableDetail } from "../../types";
import { $, addr, bps, errorBox, money, short, table } from "../../ui";
import { badge, hex } from "./show";
import type { CalibrationBin, Evaluation, Score, Scores } from "./shapes";

const BAND = 50;

function tierName(tier: number | null): string {
  if (tier === null) return "no chain to a core";
  if (tier === 0) return "core (tier 0)";
  return `tier ${tier}`;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** A section's content, and what draws its chart once the content is on the page. */
export type Drawn = [TemplateResult, () => void];

/** Scores by supply tier: how many scored parties fall in each score band, one series per tier. */
export async function scoresByTier(): Promise<Drawn> {
  const found = await api.get<Scores>("/v1/audit/scores");
  const tiers = [...new Set(found.items.map((s) => s.tier))].sort((a, b) => (a ?? 99) - (b ?? 99));
  const scored = found.items.filter((s): s is Score & { score: number } => s.score !== null);
  const low = scored.length ? Math.floor(Math.min(...scored.map((s) => s.score)) / BAND) * BAND : 0;
  const high = scored.length ? Math.floor(Math.max(...scored.map((s) => s.score)) / BAND) * BAND : 0;
  const bands: number[] = [];
  for (let b = low; b <= high; b += BAND) bands.push(b);
  const series = tiers
    .filter((t) => scored.some((s) => s.tier === t))
    .map((t, i) => ({
      name: tierName(t),
      type: "bar",
      itemStyle: { color: PALETTE[i % PALETTE.length] },
      data: bands.map((b) => scored.filter((s) => s.tier === t && s.score >= b && s.score < b + BAND).length),
    }));
  const rows = tiers.map((t) => {
    const of = found.items.filter((s) => s.tier === t);
    const withScore = of.filter((s) => s.score !== null);
    const pds = of.flatMap((s) => (s.pdBps === null ? [] : [s.pdBps]));
    return html`<tr>
      <th scope="row">${tierName(t)}</th>
      <td class="num">${of.length}</td>
      <td class="num">${withScore.length}</td>
      <td class="num">${of.length - withScore.length}</td>
      <td class="num">${median(withScore.map((s) => s.score!)) ?? "—"}</td>
      <td class="num">${bps(median(pds))}</td>
    </tr>`;
  });
  const label =
    `Scores by supply tier as of block ${found.asOfBlock}: ` +
    series.map((s) => `${s.name} ${s.data.reduce((n, v) => n + v, 0)} scored`).join(", ");
  const draw = () => {
    const el = document.getElementById("scores-chart");
    if (!el || series.length === 0) return;
    chart(
      el,
      {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 40, bottom: 40 },
        xAxis: { type: "category", name: "score", nameLocation: "middle", nameGap: 26,
          data: bands.map((b) => `${b}–${b + BAND - 1}`) }, // prettier-ignore
        yAxis: { type: "value", name: "parties", minInterval: 1 },
        series,
      },
      label,
    );
  };
  const view = html`<p>
      Every trading member's decision as of block ${found.asOfBlock} (the last final block), by supply tier: the links
      of its longest chain of verified sales down to a core. Model ${hex(found.model)}.
    </p>
    ${series.length > 0 ? html`<div class="chart" id="scores-chart"></div>` : html`<p class="muted">No party is scored yet.</p>`}
    ${table(
      "Decisions by supply tier (not scored: too little verified history, or a core)",
      ["tier", "members", "scored", "not scored", "median score", "median PD"],
      rows,
      "No trading member yet.",
    )}`;
  return [view, draw];
}

/** Calibration: each bin's mean predicted PD against its observed failure rate (a calibrated model sits on the
 * diagonal), with the baselines the report measured the same way. */
export async function calibration(): Promise<Drawn> {
  const found = await api.get<Evaluation>("/v1/credit/evaluation");
  const report = found.report;
  const bins: CalibrationBin[] = report.calibration ?? [];
  const percent = (b: number) => Math.round(b) / 100;
  const lines = [
    { name: "the model", bins },
    ...Object.entries(report.baselines ?? {})
      .filter(([, base]) => (base.calibration ?? []).length > 0)
      .map(([name, base]) => ({ name: `baseline: ${name.replace(/_/g, " ")}`, bins: base.calibration ?? [] })),
  ];
  const most = Math.max(1, ...lines.flatMap((l) => l.bins.flatMap((b) => [percent(b.predicted_bps), percent(b.observed_bps)])));
  const top = Math.ceil(most / 5) * 5;
  const series = [
    ...lines.map((l, i) => ({
      name: l.name,
      type: "line",
      symbol: ["circle", "triangle", "rect", "diamond"][i % 4],
      symbolSize: 9,
      itemStyle: { color: PALETTE[i % PALETTE.length] },
      lineStyle: { type: i === 0 ? "solid" : "dashed" },
      data: l.bins.map((b) => [percent(b.predicted_bps), percent(b.observed_bps)]),
    })),
    {
      name: "perfect calibration",
      type: "line",
      symbol: "none",
      lineStyle: { type: "dotted", color: PALETTE[4] },
      itemStyle: { color: PALETTE[4] },
      data: [[0, 0], [top, top]],
    },
  ];
  const label =
    `Calibration of model ${short(report.model ?? "")}: ` +
    bins.map((b) => `predicted ${percent(b.predicted_bps)} %, observed ${percent(b.observed_bps)} % (n ${b.n})`).join("; ");
  const draw = () => {
    const el = document.getElementById("calibration-chart");
    if (!el || bins.length === 0) return;
    chart(
      el,
      {
        tooltip: { trigger: "item" },
        legend: { top: 0 },
        grid: { left: 52, right: 16, top: 56, bottom: 44 },
        xAxis: { type: "value", name: "predicted PD %", nameLocation: "middle", nameGap: 26, min: 0, max: top },
        yAxis: { type: "value", name: "observed %", min: 0, max: top },
        series,
      },
      label,
    );
  };
  const view = html`<p>
      ${found.sameModel
        ? badge("the serving model", "ok")
        : badge("another model than the one this API serves", "warn")}
      The evaluation report (<code>scf score evaluate --json</code>) of model ${hex(report.model ?? "")}: parties
      ${report.population === "all" ? "all suppliers" : "held out from the fit"} (n ${report.n ?? "—"},
      ${report.failures ?? "—"} failures), AUC ${report.auc ?? "—"}, Brier ${report.brier ?? "—"}; mean predicted PD
      ${bps(report.mean_pd_bps ?? null)} against ${bps(report.observed_bps ?? null)} observed.
    </p>
    ${bins.length > 0 ? html`<div class="chart" id="calibration-chart"></div>` : ""}
    ${table(
      "Calibration bins of the model: parties ordered by predicted PD, in five bins",
      ["bin", "parties", "failures", "predicted PD", "observed"],
      bins.map(
        (b, i) => html`<tr><th scope="row">${i + 1}</th><td class="num">${b.n}</td><td class="num">${b.failures}</td>
          <td class="num">${bps(b.predicted_bps)}</td><td class="num">${bps(b.observed_bps)}</td></tr>`,
      ),
      "The report holds no calibration bins.",
    )}`;
  return [view, draw];
}

interface TreeNode {
  name: string;
  value: string;
  children: TreeNode[];
  itemStyle: { color: string; borderColor: string };
}

function treeOf(pieces: Piece[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  for (const p of pieces) {
    nodes.set(p.pieceId, {
      name: `#${p.pieceId}\n${money(p.amount)}\n${short(p.holder)}\n${p.financed ? "financed" : "not financed"}`,
      value: p.amount,
      children: [],
      itemStyle: { color: p.financed ? PALETTE[0]! : "#ffffff", borderColor: PALETTE[0]! },
    });
  }
  const roots: TreeNode[] = [];
  for (const p of pieces) {
    const parent = nodes.get(p.parentId);
    if (parent && p.parentId !== p.pieceId) parent.children.push(nodes.get(p.pieceId)!);
    else roots.push(nodes.get(p.pieceId)!);
  }
  return roots;
}

function depth(pieces: Piece[]): number {
  const level = new Map<string, number>();
  for (const p of pieces) level.set(p.pieceId, (level.get(p.parentId) ?? 0) + 1); // parents come first
  return Math.max(1, ...level.values());
}

/** Read receivable `rootId` and draw its tree into #tree-result. */
export async function drawTree(rootId: string): Promise<void> {
  const out = $("tree-result");
  render(html`<p class="muted" aria-busy="true">Reading receivable ${rootId}…</p>`, out);
  let found: ReceivableDetail;
  try {
    found = await api.get<ReceivableDetail>(`/v1/receivables/${rootId}`);
  } catch (err) {
    render(errorBox(err), out);
    return;
  }
  const pieces = found.pieces;
  const financed = pieces.filter((p) => p.financed).length;
  render(
    html`<p>
        Receivable ${found.rootId}: ${addr(found.debtor)} owes ${addr(found.creditor)} ${money(found.faceValue)};
        ${pieces.length} pieces, ${financed} financed (filled nodes; open nodes are not financed, and every label says
        which).
      </p>
      <div class="chart" id="tree-chart"></div>
      ${table(
        `Pieces of receivable ${found.rootId}, parents first`,
        ["piece", "parent", "amount", "holder", "financed"],
        pieces.map(
          (p) => html`<tr data-tree-piece=${p.pieceId}><th scope="row">${p.pieceId}</th>
            <td class="num">${p.parentId === "0" ? "—" : p.parentId}</td><td class="num">${money(p.amount)}</td>
            <td>${addr(p.holder)}</td><td>${p.financed ? "financed" : "not financed"}</td></tr>`,
        ),
        "The receivable has no piece.",
      )}`,
    out,
  );
  const el = $("tree-chart");
  el.style.height = `${Math.max(300, 140 * depth(pieces) + 120)}px`; // a level's labels need about 140 px
  chart(
    el,
    {
      tooltip: { trigger: "item", formatter: (p: { name: string }) => p.name.replace(/\n/g, "<br>") },
      series: [
        {
          type: "tree",
          data: treeOf(pieces),
          orient: "TB",
          top: 80,
          bottom: 72,
          left: 40,
          right: 40,
          symbol: "circle",
          symbolSize: 12,
          initialTreeDepth: -1,
          expandAndCollapse: false,
          label: { position: "top", distance: 8, fontSize: 11, lineHeight: 14 },
          leaves: { label: { position: "bottom", distance: 8 } },
          lineStyle: { color: "#5b6570" },
        },
      ],
    },
    `Receivable ${found.rootId} as a tree of ${pieces.length} pieces: ` +
      pieces
        .map((p) => `piece ${p.pieceId} ${money(p.amount)} held by ${short(p.holder)}, ${p.financed ? "financed" : "not financed"}`)
        .join("; "),
  );
}

/** The tree form: a receivable (root) id (`first` prefilled; the page draws it with `drawTree`). */
export function treeForm(first: string | null): TemplateResult {
  const go = (e: Event) => {
    e.preventDefault();
    const id = ($("tree-root") as HTMLInputElement).value.trim();
    if (!/^[1-9][0-9]{0,18}$/.test(id)) {
      render(errorBox(`“${id}” is not a receivable id: a whole number from 1`), $("tree-result"));
      return;
    }
    void drawTree(id);
  };
  return html`<form aria-label="Receivable tree" @submit=${go}>
      <label for="tree-root">Receivable (root) id</label>
      <input id="tree-root" inputmode="numeric" pattern="[0-9]*" size="10" .value=${first ?? ""} required />
      <button type="submit" id="tree-go">Draw the tree</button>
    </form>
    <div id="tree-result" aria-live="polite">${first ? "" : html`<p class="muted">No receivable yet.</p>`}</div>`;
}
