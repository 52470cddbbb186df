// Sign-in: the party's own wallet (EIP-1193, `window.ethereum`) or, on a devnet only, the dev wallet holding the
// demo parties' keys. Both sign the API's challenge with personal_sign; the token lives for this tab only.

import { html, render } from "lit-html";
import { api } from "./api";
import { DevWallet } from "./devwallet";
import type { DevParty, Party } from "./types";
import { config, errorBox, short, status } from "./ui";
import { restoreSigner, signIn, WalletError } from "./wallet";

const KEPT = "scf.wallet";

let devParties: DevParty[] | null = null;

async function devWalletParties(): Promise<DevParty[]> {
  if (devParties === null) devParties = (await api.get<{ parties: DevParty[] }>("/app/dev-wallet.json")).parties;
  return devParties;
}

function devWallet(party: DevParty): DevWallet {
  if (!config.rpcUrl) throw new WalletError("the server names no devnet node for the dev wallet");
  return new DevWallet(party, config.rpcUrl, config.chainId);
}

/** After a reload: the wallet the token was signed for, without signing again. */
export async function restore(): Promise<void> {
  const kept = JSON.parse(sessionStorage.getItem(KEPT) ?? "null") as { kind: string; address: string } | null;
  if (kept === null) throw new WalletError("no wallet kept");
  if (kept.kind === "dev") {
    const party = (await devWalletParties()).find((p) => p.address.toLowerCase() === kept.address.toLowerCase());
    if (!party) throw new WalletError("the dev wallet no longer holds that party");
    restoreSigner({ provider: devWallet(party), address: party.address, kind: "dev", label: party.label });
  } else if (window.ethereum) {
    restoreSigner({ provider: window.ethereum, address: kept.address, kind: "injected", label: "" });
  } else {
    throw new WalletError("the browser wallet is gone");
  }
}

export async function signInPage(main: HTMLElement, done: (party: Party) => void): Promise<void> {
  const parties = config.devWallet ? await devWalletParties().catch(() => []) : [];
  const line = () => document.getElementById("signin-status")!;

  const withDev = async (event: Event) => {
    event.preventDefault();
    const select = document.getElementById("dev-party") as HTMLSelectElement;
    const party = parties.find((p) => p.address === select.value);
    if (!party) return;
    status(line(), `signing the API's challenge as ${party.label}…`);
    try {
      const signedIn = await signIn(devWallet(party), "dev", party.label, party.address);
      sessionStorage.setItem(KEPT, JSON.stringify({ kind: "dev", address: party.address }));
      done(signedIn);
    } catch (err) {
      render(errorBox(err), line());
    }
  };

  const withInjected = async () => {
    if (!window.ethereum) return;
    status(line(), "asking your wallet for an account and a signature…");
    try {
      const signedIn = await signIn(window.ethereum, "injected", "");
      sessionStorage.setItem(KEPT, JSON.stringify({ kind: "injected", address: signedIn.address }));
      done(signedIn);
    } catch (err) {
      render(errorBox(err), line());
    }
  };

  render(
    html`<h1>Sign in</h1>
      <p>
        Sign the API's challenge with your own key: nothing is sent but the signature, and the session lasts while
        this tab is open.
      </p>
      <section aria-labelledby="h-wallet">
        <h2 id="h-wallet">Your wallet</h2>
        ${window.ethereum
          ? html`<button type="button" id="injected-sign-in" @click=${withInjected}>Sign in with your wallet</button>`
          : html`<p class="muted">
              No browser wallet found (an EIP-1193 wallet such as MetaMask injects <code>window.ethereum</code>).
            </p>`}
      </section>
      ${config.devWallet
        ? html`<section aria-labelledby="h-dev" class="devnet-only">
            <h2 id="h-dev">Dev wallet <span class="badge devnet">devnet only</span></h2>
            <p>
              The demo parties' keys, served only by a devnet's API: the same wallet calls as a browser wallet, for
              trying the portal and for its tests. Never use it with real keys.
            </p>
            <form @submit=${withDev}>
              <label for="dev-party">Party</label>
              <select id="dev-party">
                ${parties.map(
                  (p) => html`<option value=${p.address}>${p.label}: ${p.name} (${short(p.address)})</option>`,
                )}
              </select>
              <button type="submit" id="dev-sign-in">Sign in with the dev wallet</button>
            </form>
          </section>`
        : ""}
      <div id="signin-status" aria-live="polite"></div>`,
    main,
  );
}
