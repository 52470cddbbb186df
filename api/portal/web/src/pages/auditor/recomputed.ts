// Published limits and offers recomputed, as the run shown in #replay-result found them (its report's `scores` and
// `offers`: the checks of `scf audit replay --scores --offers`, made by the server with the models and policy files
// it holds; api/v1/audit_reads.py). Nothing is scored or priced in the browser.

import { html, type TemplateResult } from "lit-html";
import { addr, dateTime, money, table } from "../../ui";
import { badge, hex, json, kpi, tx } from "./show";
import type { Finding, LimitCheck, LimitsPart, OfferRow, OffersPart, Run } from "./shapes";

const MAX_ROWS = 500;

function notYet(run: Run | null, part: string, box: string): TemplateResult {
  if (run === null) {
    return html`<p class="muted">
      Shown for the run in the replay's result: start a run with “${box}” ticked, or show a previous run.
    </p>`;
  }
  return html`<p class="muted">Run <code>${run.id}</code> did not recompute the ${part}: tick “${box}” and run again.</p>`;
}

function limitVerdict(c: LimitCheck, unmodelled: boolean): TemplateResult {
  if (unmodelled) return badge("names no model: not recomputed", "warn");
  if (c.ok) return badge("matches", "ok");
  return badge(c.problem ? `differs: ${c.problem}` : "differs", "bad");
}

function limitRow(c: LimitCheck, unmodelled = false): TemplateResult {
  const e = c.expected;
  const differs = (a: unknown, b: unknown) => (e !== null && String(a) !== String(b) ? badge("≠", "bad") : "");
  return html`<tr data-limit=${`${c.bank}:${c.party}:${c.block}`}>
    <td>${limitVerdict(c, unmodelled)}</td>
    <td>${addr(c.party)}</td>
    <td>${addr(c.bank)}</td>
    <td class="num">${c.block}</td>
    <td class="num">${c.as_of_block < 0 ? "—" : c.as_of_block}</td>
    <td class="num">${money(c.published.limit)}</td>
    <td class="num">${e ? html`${money(e.limit)} ${differs(c.published.limit, e.limit)}` : "—"}</td>
    <td class="num">${c.published.score} / ${e ? html`${e.score} ${differs(c.published.score, e.score)}` : "—"}</td>
    <td class="num">${c.published.grade} / ${e ? html`${e.grade} ${differs(c.published.grade, e.grade)}` : "—"}</td>
    <td>${hex(c.published.model)}${e && e.model !== c.published.model ? html` → ${hex(e.model)}` : ""}</td>
  </tr>`;
}

/** Every published limit, the recomputed values and whether they match, with the model hash. */
export function limitsView(run: Run | null): TemplateResult {
  const part: LimitsPart | undefined = run?.report?.scores;
  if (!run || !part) return notYet(run, "published limits", "also recompute the published credit limits");
  if (part.error) return html`<div class="error" role="alert">${part.error}</div>`;
  const mismatches = part.mismatches ?? [];
  const matches = part.matches ?? [];
  const unmodelled = part.unmodelled ?? [];
  const head = ["verdict", "party", "bank", "published at block", "as of block", "published limit", "recomputed limit",
    "score", "grade", "model hash"]; // prettier-ignore
  const shown = (rows: LimitCheck[], words: string) =>
    rows.length > MAX_ROWS ? `${words}; the first ${MAX_ROWS} of ${rows.length}` : words;
  return html`<p>
      ${part.ok ? badge("every recomputed limit matches", "ok") : badge(`${mismatches.length} differ`, "bad")}
      Each limit published on CreditRegistry up to block ${run.report?.toBlock}, recomputed from the chain's logs
      as of the point its validity implies, with the model its hash names. Models this server holds:
      ${(part.models ?? []).map((m, i) => html`${i > 0 ? ", " : ""}${hex(m)}`)}.
    </p>
    <div class="kpis">
      ${kpi("recomputed", String(part.checked ?? 0))} ${kpi("match", String(matches.length))}
      ${kpi("differ", String(mismatches.length))} ${kpi("name no model", String(unmodelled.length))}
    </div>
    ${(part.notes ?? []).map((n) => html`<p class="muted">Note: ${n}</p>`)}
    ${table(
      shown(mismatches, `Published limits of run ${run.id} that differ from their recomputation (score and grade: published / recomputed)`),
      head,
      mismatches.slice(0, MAX_ROWS).map((c) => limitRow(c)),
      "No published limit differs from its recomputation.",
    )}
    ${matches.length > 0
      ? html`<details>
          <summary>The ${matches.length} published limits that match their recomputation</summary>
          ${table(
            shown(matches, `Published limits of run ${run.id} that match (score and grade: published / recomputed)`),
            head,
            matches.slice(0, MAX_ROWS).map((c) => limitRow(c)),
            "",
          )}
        </details>`
      : ""}
    ${unmodelled.length > 0
      ? html`<details>
          <summary>The ${unmodelled.length} limits that name no model (a bank's own rule: nothing to recompute)</summary>
          ${table(
            shown(unmodelled, `Limits of run ${run.id} published naming no model`),
            head,
            unmodelled.slice(0, MAX_ROWS).map((c) => limitRow(c, true)),
            "",
          )}
        </details>`
      : ""}`;
}

function offerVerdict(row: OfferRow): TemplateResult {
  switch (row.verdict) {
    case "agrees":
      return badge("matches", "ok");
    case "differs":
      return badge("differs", "bad");
    case "policy not held":
      return badge("not checked here: policy not held", "warn");
    default:
      return badge("not checked", "warn");
  }
}

function findingsOf(findings: Finding[], offer: string): TemplateResult[] {
  return findings
    .filter((f) => f.offer === offer)
    .map(
      (f) => html`<div>
        <code>${f.field}</code>: ${f.detail}${f.recorded !== null || f.expected !== null
          ? html` <span class="muted">(recorded ${json(f.recorded, 80)}, recomputed ${json(f.expected, 80)})</span>`
          : ""}${f.block !== null ? html` <span class="muted">at block ${f.block}</span>` : ""}${f.tx
          ? html` ${tx(f.tx)}`
          : ""}
      </div>`,
    );
}

/** Every offer of the API's store, recomputed from its pricing record, the policy and the chain. */
export function offersView(run: Run | null): TemplateResult {
  const part: OffersPart | undefined = run?.report?.offers;
  if (!run || !part) return notYet(run, "offers", "also recompute the offers in this API's store");
  if (part.error) return html`<div class="error" role="alert">${part.error}</div>`;
  const rows = part.rows ?? [];
  const mismatches = part.mismatches ?? [];
  const unchecked = part.unchecked ?? [];
  const notHeld = part.policyNotHeld ?? [];
  const undated = new Set((part.undated ?? []).map((f) => f.offer));
  const why = (row: OfferRow): TemplateResult | TemplateResult[] | string => {
    if (row.verdict === "agrees") return "its quote recomputes exactly and prices it at the signed price";
    if (row.verdict === "policy not held") return notHeld.find((n) => n.offer === row.offer)?.detail ?? "";
    if (row.verdict === "differs") return findingsOf(mismatches, row.offer);
    return findingsOf(unchecked, row.offer);
  };
  return html`<p>
      ${part.ok ? badge("no recomputed offer differs", "ok") : badge(`${part.differ ?? 0} differ`, "bad")}
      Each offer a bank signed through this API, recomputed from the pricing record the bank's desk stored with it,
      under a policy file with the hash it names, with the model it names, and checked against the chain as of the
      block its inputs were read at. This server holds only the policy files shipped with the ledger
      (${(part.policies ?? []).map((p, i) => html`${i > 0 ? ", " : ""}${p.name} <code>${p.file}</code> ${hex(p.hash)}`)}):
      an offer priced under a bank's own file is <strong>not checked here</strong>, not counted as a mismatch; check
      it with <code>scf audit replay --offers --policy FILE</code> given the bank's file. A desk's journal is not
      needed: the pricing record is in this API's store.
    </p>
    <div class="kpis">
      ${kpi("offers in the store", String(rows.length))} ${kpi("recomputed", String(part.checked ?? 0))}
      ${kpi("match", String((part.agree ?? []).length))} ${kpi("differ", String(part.differ ?? 0))}
      ${kpi("accepted on chain", String(Object.keys(part.accepted ?? {}).length))}
      ${kpi("not checked here", String(rows.filter((r) => r.verdict !== "agrees" && r.verdict !== "differs").length))}
    </div>
    ${(part.notes ?? []).map((n) => html`<p class="muted">Note: ${n}</p>`)}
    ${table(
      `Offers of run ${run.id}: the signed price and what the recomputation says`,
      ["verdict", "offer", "piece", "bank", "signed", "price", "recomputed", "on chain"],
      rows.slice(0, MAX_ROWS).map(
        (row) => html`<tr data-offer-check=${row.offer}>
          <td>${offerVerdict(row)}</td>
          <td><code title=${row.offer}>${row.offer.slice(0, 8)}</code></td>
          <td class="num">${row.piece}</td>
          <td>${addr(row.bank)}</td>
          <td>${dateTime(row.createdAt)}</td>
          <td class="num">${money(row.price)}</td>
          <td>${why(row)}${undated.has(row.offer) ? html`<div class="muted">no as-of block recorded: checked as of its pricing time</div>` : ""}</td>
          <td>${row.acceptedTx ? html`accepted ${tx(row.acceptedTx)}` : "not accepted"}</td>
        </tr>`,
      ),
      "No offer in this API's store.",
    )}`;
}
