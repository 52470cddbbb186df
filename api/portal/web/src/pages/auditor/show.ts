// How the auditor page writes what the chain says: decoded arguments as "name: value" lines, long hex shortened
// with the whole value in its title, addresses short, verdicts as badges that carry words (never colour alone).

import { html, nothing, type TemplateResult } from "lit-html";
import { addr } from "../../ui";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const LONG_HEX = /^0x[0-9a-fA-F]{24,}$/;

/** A hash or calldata: its first and last digits, the whole in the title (and for screen readers). */
export function hex(value: string): TemplateResult {
  return html`<code title=${value} aria-label=${value}>${value.slice(0, 10)}…${value.slice(-6)}</code>`;
}

/** A transaction hash, short. */
export function tx(hash: string | null | undefined): TemplateResult {
  return hash ? hex(hash) : html`—`;
}

/** One decoded value: an address or a long hex shortened, a struct or array walked, anything else as it is. */
export function value(v: unknown): TemplateResult | string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") {
    if (ADDRESS.test(v)) return addr(v);
    if (LONG_HEX.test(v)) return hex(v);
    return v;
  }
  if (Array.isArray(v)) return html`[${v.map((item, i) => html`${i > 0 ? ", " : ""}${value(item)}`)}]`;
  if (typeof v === "object") return html`{${args(v as Record<string, unknown>, true)}}`;
  return String(v);
}

/** Decoded arguments as "name: value" pairs (inline inside a struct, one per line at the top). */
export function args(a: Record<string, unknown> | null | undefined, inline = false): TemplateResult {
  if (!a) return html`<span class="muted">not decoded</span>`;
  const pairs = Object.entries(a);
  if (pairs.length === 0) return html`<span class="muted">none</span>`;
  if (inline) return html`${pairs.map(([k, v], i) => html`${i > 0 ? ", " : ""}${k}: ${value(v)}`)}`;
  return html`${pairs.map(([k, v], i) => html`${i > 0 ? html`<br />` : nothing}<span class="muted">${k}:</span> ${value(v)}`)}`;
}

/** A report's value (expected, actual) as short JSON text, the whole in the title. */
export function json(v: unknown, limit = 160): TemplateResult | string {
  if (v === null || v === undefined) return "—";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  if (text.length <= limit) return text;
  return html`<span title=${text}>${text.slice(0, limit - 1)}…</span>`;
}

export type Tone = "ok" | "bad" | "warn" | "";

/** A verdict in words on a coloured badge. */
export function badge(words: string, tone: Tone): TemplateResult {
  return html`<span class="badge ${tone}">${words}</span>`;
}

export function kpi(k: string, v: string | TemplateResult): TemplateResult {
  return html`<div class="kpi"><div class="v">${v}</div><div class="k">${k}</div></div>`;
}
