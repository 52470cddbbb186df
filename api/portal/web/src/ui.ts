// What every page shares: money and dates in words, addresses that can be read, a status line, the API's errors
// shown as the API said them, and a section that loads on its own (a failing read never blanks the page).

import { html, nothing, render, type TemplateResult } from "lit-html";
import { api, ApiError } from "./api";
import type { PortalConfig } from "./types";

export let config: PortalConfig = {
  chainId: 0,
  devnet: false,
  rpcUrl: null,
  devWallet: false,
  contracts: {},
  token: { symbol: "units", decimals: 6 },
};

export function setConfig(value: PortalConfig): void {
  config = value;
}

/** Token units (a decimal string) as money: 1234500000 → "1,234.50 dUSD". Exact: BigInt, never a float. */
export function money(units: string | bigint | number, symbol = true): string {
  const value = BigInt(units);
  const decimals = config.token.decimals;
  const scale = 10n ** BigInt(decimals);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = (abs / scale).toLocaleString("en-US");
  const cents = ((abs % scale) * 100n) / scale;
  const text = `${negative ? "−" : ""}${whole}.${cents.toString().padStart(2, "0")}`;
  return symbol ? `${text} ${config.token.symbol}` : text;
}

/** A decimal amount typed by a person ("1,250.5") as token units, or null when it is not one. */
export function parseMoney(text: string): bigint | null {
  const clean = text.replace(/[,\s]/g, "");
  const m = /^(\d{1,30})(?:\.(\d{0,18}))?$/.exec(clean);
  if (!m) return null;
  const decimals = config.token.decimals;
  const frac = (m[2] ?? "").padEnd(decimals, "0");
  if (frac.length > decimals && /[1-9]/.test(frac.slice(decimals))) return null;
  return BigInt(m[1]!) * 10n ** BigInt(decimals) + BigInt(frac.slice(0, decimals) || "0");
}

/** Basis points as a percentage: 1234 → "12.34 %". */
export function bps(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return `${(value / 100).toFixed(2)} %`;
}

export function date(seconds: number | string | null | undefined): string {
  if (seconds === null || seconds === undefined || Number(seconds) === 0) return "—";
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 10);
}

export function dateTime(seconds: number | string | null | undefined): string {
  if (seconds === null || seconds === undefined || Number(seconds) === 0) return "—";
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function short(address: string | null | undefined): string {
  if (!address) return "—";
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** An address shown short, its whole value in the title and for screen readers. */
export function addr(address: string | null | undefined, names: Record<string, string> = {}): TemplateResult {
  if (!address) return html`—`;
  const name = names[address.toLowerCase()];
  return html`<span class="addr" title=${address} aria-label=${address}>${name ? `${name} ` : ""}${short(address)}</span>`;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const where = err.field ? ` (field ${err.field})` : "";
    return `${err.message}${where} [${err.status} ${err.code}]`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export function errorBox(err: unknown): TemplateResult {
  return html`<div class="error" role="alert">${errorText(err)}</div>`;
}

/** A section that loads itself: "loading" while it reads, the API's words if a read fails, else its content. */
export function section(
  host: HTMLElement,
  title: string,
  load: () => Promise<TemplateResult>,
  id = title.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
): Promise<void> {
  const body = (content: TemplateResult | typeof nothing) =>
    html`<section aria-labelledby=${`h-${id}`} id=${id}><h2 id=${`h-${id}`}>${title}</h2>${content}</section>`;
  render(body(html`<p class="muted" aria-busy="true">Loading…</p>`), host);
  return load().then(
    (content) => void render(body(content), host),
    (err: unknown) => void render(body(errorBox(err)), host),
  );
}

/** A table with a caption; rows already rendered. Empty: the `empty` sentence instead. */
export function table(caption: string, head: string[], rows: TemplateResult[], empty: string): TemplateResult {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="scroll">
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${head.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}

/** A live status line for a write in progress (screen readers hear it). */
export function status(host: HTMLElement, text: string, kind: "info" | "ok" | "error" = "info"): void {
  render(html`<p class="status ${kind}" role=${kind === "error" ? "alert" : "status"}>${text}</p>`, host);
}

/** Run a write from a button: disable it, say what happens, show the outcome or the error, then `done`. */
export async function act(
  button: HTMLButtonElement | null,
  line: HTMLElement,
  work: (say: (s: string) => void) => Promise<string>,
  done: () => void = () => {},
): Promise<void> {
  if (button) button.disabled = true;
  try {
    const outcome = await work((s) => status(line, s));
    status(line, outcome, "ok");
    done();
  } catch (err) {
    status(line, errorText(err), "error");
  } finally {
    if (button) button.disabled = false;
  }
}

/** An element of the page by id (the pages render their own skeleton first). */
export function $(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

let clock: { chain: number; at: number } | null = null;

/** The ledger's "now" in UTC seconds (GET /v1/health `now`: the later of the API's clock and the indexed head's
 * block time, since a devnet's chain runs ahead of the wall), advanced by the wall clock since it was read. Use it,
 * not Date.now(), for deadlines, days to maturity and expiry. */
export async function ledgerNow(): Promise<number> {
  if (clock === null || Date.now() - clock.at > 30_000) {
    // Null only while the API has no index: the wall clock is then all there is.
    const health = await api.get<{ now: number | null }>("/v1/health");
    clock = { chain: health.now ?? Math.floor(Date.now() / 1000), at: Date.now() };
  }
  return clock.chain + Math.floor((Date.now() - clock.at) / 1000);
}
