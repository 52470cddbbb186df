// Replay runs: start one from genesis (POST /v1/audit/runs, 202), follow it (GET /v1/audit/runs/{id}) until it is
// done, and show its report in #replay-result: state, timing, the history digest, the counts and "<n> mismatches"
// with each mismatch's location. Previous runs (GET /v1/audit/runs, newest first) can be shown again.
//
// The replay reports no progress while it runs (ledger/audit/replay.py takes no progress callback), so a running
// run says honestly when it started and how long it has run, nothing more.

import { html, render, type TemplateResult } from "lit-html";
import { all, api } from "../../api";
import { $, act, addr, dateTime, errorBox, table } from "../../ui";
import { badge, hex, json, kpi, tx } from "./show";
import type { Location, Mismatch, Run, RunLine } from "./shapes";

const POLL_MS = 1000;

function where(l: Location): string {
  const called = l.contract ? (l.function ? `${l.contract}.${l.function}` : l.contract) : "";
  if (l.view) return `${called ? `${called}, ` : ""}view ${l.view}(${l.key ?? ""})`;
  if (l.table) return `sql ${l.key ?? l.table}${l.column ? `.${l.column}` : ""}`;
  return called || "—";
}

function mismatchRow(m: Mismatch): TemplateResult {
  const sides =
    m.expected === null && m.actual === null
      ? ""
      : m.kind === "sql"
        ? html`${m.detail ? html`<br />` : ""}<span class="muted">chain</span> ${json(m.expected)} <span class="muted">row</span> ${json(m.actual)}`
        : html`${m.detail ? html`<br />` : ""}<span class="muted">expected</span> ${json(m.expected)} <span class="muted">chain</span> ${json(m.actual)}`;
  return html`<tr>
    <td>${m.kind}</td>
    <td>${where(m.location)}</td>
    <td class="num">${m.location.block ?? "—"}</td>
    <td>${tx(m.location.tx)}</td>
    <td class="num">${m.location.log_index ?? "—"}</td>
    <td>${m.detail || (sides ? "" : "—")}${sides}</td>
  </tr>`;
}

function elapsed(from: number): number {
  // Wall-clock seconds since the API started the run (its clock and this browser's: a run's age, not a deadline).
  return Math.max(0, Math.round(Date.now() / 1000 - from));
}

/** The run as #replay-result shows it. */
export function runView(run: Run): TemplateResult {
  const head = html`<p>Run <code>${run.id}</code> started by ${addr(run.requestedBy)} at ${dateTime(run.createdAt)}.</p>`;
  if (run.state === "running") {
    return html`${head}
      <p>${badge("running", "warn")} State: running since ${dateTime(run.createdAt)} (${elapsed(run.createdAt)} s so far).
        The replay does not report how far it has got while it runs; this page asks for its state every second.</p>`;
  }
  if (run.state === "failed" || !run.report) {
    return html`${head}
      <p>${badge("failed", "bad")} State: failed${run.finishedAt ? html` at ${dateTime(run.finishedAt)}` : ""}.</p>
      <div class="error" role="alert">${run.error ?? "the run left no report"}</div>`;
  }
  const r = run.report;
  const c = r.counts;
  const n = r.mismatches.length;
  return html`${head}
    <p>
      ${r.ok ? badge("agrees with the chain", "ok") : badge("disagrees with the chain", "bad")} State: done; replayed blocks
      ${r.fromBlock}–${r.toBlock} (state re-derived from block ${r.replayedFrom}) in ${r.seconds.toFixed(2)} s, finished
      ${dateTime(run.finishedAt)}.
    </p>
    <p class="mismatch-count"><strong>${n} mismatches</strong>${n > 0
        ? html` (${Object.entries(r.mismatchKinds).map(([k, v], i) => html`${i > 0 ? ", " : ""}${v} ${k}`)})`
        : ""}</p>
    <div class="kpis">
      ${kpi("blocks checked", String(c.blocks))} ${kpi("logs", String(c.logs))}
      ${kpi("transactions replayed", String(c.transactions))} ${kpi("signatures verified", String(c.signatures))}
      ${kpi("views compared", String(c.views))}
      ${kpi("refused calls (reverted)", `${c.reverted_calls} of ${c.quiet_calls} quiet`)}
    </div>
    <p>History digest (what two auditors compare): <code class="digest">${r.digestLine}</code></p>
    <p class="muted">Last block ${r.toBlock}: ${hex(r.toBlockHash)}; digest ${hex(r.digest)}.</p>
    ${table(
      `Mismatches of run ${run.id}: where each is (contract and function, block, transaction, log) and what differed`,
      ["kind", "contract.function", "block", "tx", "log", "what differed"],
      r.mismatches.map(mismatchRow),
      "No mismatch: every block, event, transfer, signature and view agrees with the replay.",
    )}
    ${r.gaps.length > 0
      ? table(
          `${r.gaps.length} transactions the replay could not check (a function no model covers): not mismatches`,
          ["block", "tx", "contract.function", "why"],
          r.gaps.map(
            (g) => html`<tr><td class="num">${g.location.block ?? "—"}</td><td>${tx(g.location.tx)}</td>
              <td>${where(g.location)}</td><td>${g.reason}</td></tr>`,
          ),
          "",
        )
      : ""}`;
}

function verdict(ok: boolean | null, asked: string): TemplateResult | string {
  if (ok === null) return html`<span class="muted">${asked}</span>`;
  return ok ? badge("agree", "ok") : badge("differ", "bad");
}

/** The replay section and the previous runs; `shown` is told of every run #replay-result shows. */
export class Replays {
  private following = 0;

  /** `shown`: told of each run #replay-result shows (null while one runs); `ended`: a run started here ended. */
  constructor(
    private readonly shown: (run: Run | null) => void,
    private readonly ended: () => void,
  ) {}

  /** The replay section's content: the button, the options, the status line and #replay-result. */
  async form(): Promise<TemplateResult> {
    const start = (e: Event) => {
      e.preventDefault();
      const limits = ($("replay-limits") as HTMLInputElement).checked;
      const offers = ($("replay-offers") as HTMLInputElement).checked;
      const result = $("replay-result");
      void act($("replay-start") as HTMLButtonElement, $("replay-status"), async (say) => {
        render(html`<p class="status info">Starting a replay from genesis…</p>`, result);
        let run: Run;
        try {
          run = await api.post<Run>("/v1/audit/runs", { limits, offers });
        } catch (err) {
          render(errorBox(err), result); // e.g. 409: a run is already going (the list below shows it)
          throw err;
        }
        say(`replay ${run.id} started; following it`);
        const finished = await this.follow(run.id);
        return finished
          ? `run ${finished.id} ${finished.state}${finished.report ? `: ${finished.report.mismatches.length} mismatches` : ""}`
          : "another run is shown now";
      }, this.ended);
    };
    return html`<p>
        A replay re-reads the chain from the deployment's first block (never this API's database), re-derives the
        ledger with the contracts' models and compares every block link, event, token transfer, signature and view.
      </p>
      <form aria-label="Start a replay" @submit=${start}>
        <button type="submit" id="replay-start">Run a replay from genesis</button>
        <span>
          <input type="checkbox" id="replay-limits" checked />
          <label for="replay-limits">also recompute the published credit limits</label>
        </span>
        <span>
          <input type="checkbox" id="replay-offers" checked />
          <label for="replay-offers">also recompute the offers in this API's store</label>
        </span>
      </form>
      <div id="replay-status" aria-live="polite"></div>
      <div id="replay-result"></div>`;
  }

  /** Once the form is on the page: say what #replay-result will show (lit renders into it from now on). */
  ready(): void {
    if (this.following === 0) {
      render(html`<p class="muted">No run shown yet: start one, or show a previous run below.</p>`, $("replay-result"));
    }
  }

  /** Show run `id` in #replay-result, asking every second while it runs; the run once it ended (null: another
   * run was shown meanwhile). */
  async follow(id: string): Promise<Run | null> {
    const mine = ++this.following;
    for (;;) {
      const run = await api.get<Run>(`/v1/audit/runs/${id}`);
      if (mine !== this.following || !document.getElementById("replay-result")) return null; // replaced, or left
      render(runView(run), $("replay-result"));
      if (run.state !== "running") {
        this.shown(run);
        return run;
      }
      this.shown(null);
      await new Promise((done) => setTimeout(done, POLL_MS));
      if (mine !== this.following) return null;
    }
  }

  /** The previous runs, newest first, each with a button that shows it in #replay-result. */
  async table(): Promise<TemplateResult> {
    const lines = await all<RunLine>("/v1/audit/runs", { limit: 100 }, 200);
    const show = (line: RunLine) => (e: Event) => {
      const button = e.currentTarget as HTMLButtonElement;
      button.disabled = true;
      this.follow(line.id)
        .catch((err: unknown) => render(errorBox(err), $("replay-result")))
        .finally(() => (button.disabled = false));
      $("replay-result").scrollIntoView({ block: "nearest" });
    };
    const newest = lines[0];
    if (newest && newest.state === "running") void this.follow(newest.id); // started elsewhere: follow it here
    return table(
      "Audit runs, newest first: their verdicts, the last block replayed and the history digest",
      ["started", "by", "state", "to block", "mismatches", "limits", "offers", "digest", "took", "report"],
      lines.map(
        (l) => html`<tr data-run=${l.id}>
          <td>${dateTime(l.createdAt)}</td>
          <td>${addr(l.requestedBy)}</td>
          <td>${l.state === "done"
            ? l.ok
              ? badge("done: agrees", "ok")
              : badge("done: disagrees", "bad")
            : l.state === "failed"
              ? html`${badge("failed", "bad")} <span class="muted">${l.error ?? ""}</span>`
              : badge("running", "warn")}</td>
          <td class="num">${l.toBlock ?? "—"}</td>
          <td class="num">${l.mismatches ?? "—"}</td>
          <td>${verdict(l.limitsOk, l.state === "done" ? "not asked" : "—")}</td>
          <td>${verdict(l.offersOk, l.state === "done" ? "not asked" : "—")}</td>
          <td>${l.digest ? hex(l.digest) : "—"}</td>
          <td class="num">${l.seconds === null ? "—" : `${l.seconds.toFixed(2)} s`}</td>
          <td><button type="button" class="secondary" @click=${show(l)} aria-label=${`Show run ${l.id}`}>Show</button></td>
        </tr>`,
      ),
      "No run yet: start the first one above.",
    );
  }
}
