// The portal: one page at /app, a view per kind of user (#/supplier, #/core, #/bank, #/auditor), each reading the
// ledger API with the bearer token the party got by signing in with its own wallet. The header says who is signed
// in and with which wallet; a devnet's dev wallet is labelled as such wherever it shows.

import "./styles.css";
import { html, render, type TemplateResult } from "lit-html";
import { api, hasToken, setToken } from "./api";
import type { Party, PortalConfig } from "./types";
import { config, errorBox, setConfig, short } from "./ui";
import { restore, signInPage } from "./signin";
import { forget, signedIn, signOut } from "./wallet";
import { supplierPage } from "./pages/supplier";
import { corePage } from "./pages/core";
import { bankPage } from "./pages/bank";
import { auditorPage } from "./pages/auditor";

type Page = (main: HTMLElement, me: Party) => Promise<void>;

const PAGES: Record<string, { title: string; page: Page; for: (p: Party) => boolean }> = {
  supplier: { title: "Supplier", page: supplierPage, for: (p) => p.roles.includes("supplier") },
  core: { title: "Core enterprise", page: corePage, for: (p) => p.roles.includes("core") },
  bank: { title: "Bank", page: bankPage, for: (p) => p.roles.includes("bank") },
  auditor: { title: "Auditor", page: auditorPage, for: (p) => p.auditor || p.roles.includes("auditor") },
};

let me: Party | null = null;

export function home(party: Party): string {
  const first = Object.entries(PAGES).find(([, v]) => v.for(party));
  return first ? first[0] : "supplier";
}

function header(): TemplateResult {
  const wallet = signedIn();
  const mine = me ? Object.entries(PAGES).filter(([, v]) => v.for(me!)) : [];
  return html`<div class="bar">
    <a class="brand" href="#/">scf-ledger</a>
    ${config.devnet
      ? html`<span class="badge devnet" title="a local test chain: nothing here is real money">devnet</span>`
      : ""}
    <nav aria-label="Pages">
      ${mine.map(([key, v]) => html`<a href=${`#/${key}`} aria-current=${route() === key ? "page" : "false"}>${v.title}</a>`)}
      <a href="/docs">API docs</a>
    </nav>
    <span class="who">
      ${me && wallet
        ? html`<span title=${me.address}>${wallet.label} ${short(me.address)}</span>
            <span class="badge ${wallet.kind}">${wallet.kind === "dev" ? "dev wallet (devnet only)" : "your wallet"}</span>
            <button type="button" @click=${leave}>Sign out</button>`
        : html`<a href="#/signin">Sign in</a>`}
    </span>
  </div>`;
}

async function leave(): Promise<void> {
  await signOut();
  me = null;
  location.hash = "#/signin";
}

function route(): string {
  return location.hash.replace(/^#\/?/, "").split("/")[0] ?? "";
}

async function show(): Promise<void> {
  // Each view renders into a fresh element: lit-html keeps its markers in the container it rendered into.
  const main = document.createElement("div");
  document.getElementById("main")!.replaceChildren(main);
  const top = document.getElementById("top")!;
  let where = route();
  if (!me && where !== "signin") where = "signin";
  if (me && (where === "" || where === "signin" || !(where in PAGES))) where = home(me);
  if (location.hash !== `#/${where}`) history.replaceState(null, "", `#/${where}`);
  render(header(), top);
  try {
    if (where === "signin") {
      document.title = "Sign in · scf-ledger";
      await signInPage(main, (party) => {
        me = party;
        location.hash = `#/${home(party)}`;
      });
    } else {
      const page = PAGES[where]!;
      document.title = `${page.title} · scf-ledger`;
      if (!page.for(me!)) {
        render(errorBox(`${me!.address} has no ${where} role: the ${page.title} page is not yours.`), main);
        return;
      }
      await page.page(main, me!);
    }
  } catch (err) {
    render(errorBox(err), main);
  }
}

async function start(): Promise<void> {
  try {
    setConfig(await api.get<PortalConfig>("/app/config.json"));
  } catch (err) {
    render(errorBox(err), document.getElementById("main")!);
    return;
  }
  if (hasToken()) {
    try {
      await restore();
      me = await api.get<Party>("/v1/auth/me");
    } catch {
      setToken(null);
      forget();
      me = null;
    }
  }
  window.addEventListener("hashchange", () => void show());
  await show();
}

void start();
