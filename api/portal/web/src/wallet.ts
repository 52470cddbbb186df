// Signing with the party's own wallet through EIP-1193, the interface MetaMask injects as `window.ethereum`:
//   sign-in    personal_sign of the API's EIP-4361 challenge (POST /v1/auth/challenge, then /v1/auth/token)
//   typed data eth_signTypedData_v4 of the EIP-712 document the API serves (offers, consents, orders)
//   writes     eth_sendTransaction of the unsigned transaction the API prepares: the party broadcasts it from its
//              wallet and hands the API only the hash (POST /v1/submissions {txHash}); the API follows it.
// The devnet's dev wallet (devwallet.ts) answers the same calls, so the pages have one code path for both.

import { api, setToken } from "./api";
import type { Party, Prepared, Submission, TokenAnswer, TypedData } from "./types";

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown>;
}

declare global {
  interface Window {
    ethereum?: Eip1193;
  }
}

export class WalletError extends Error {
  constructor(
    message: string,
    readonly code: number | null = null,
  ) {
    super(message);
    this.name = "WalletError";
  }
}

export interface Signer {
  provider: Eip1193;
  address: string;
  kind: "injected" | "dev";
  label: string;
}

let current: Signer | null = null;

export function signer(): Signer {
  if (current === null) throw new WalletError("no wallet is connected: sign in first");
  return current;
}

export function signedIn(): Signer | null {
  return current;
}

export function forget(): void {
  current = null;
}

/** The signer a kept token was signed for (after a reload of the tab). */
export function restoreSigner(value: Signer): void {
  current = value;
}

async function ask<T>(provider: Eip1193, method: string, params: unknown[]): Promise<T> {
  try {
    return (await provider.request({ method, params })) as T;
  } catch (err) {
    const e = err as { code?: number; message?: string };
    const said = e.message ?? String(err);
    if (e.code === 4001) throw new WalletError(`you declined in your wallet (${method})`, 4001);
    throw new WalletError(`the wallet refused ${method}: ${said}`, e.code ?? null);
  }
}

function utf8Hex(text: string): string {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

function quantity(decimal: string | number): string {
  return "0x" + BigInt(decimal).toString(16);
}

/** Connect `provider`, sign the API's challenge with personal_sign, and keep the token for the API calls. */
export async function signIn(provider: Eip1193, kind: Signer["kind"], label: string, address?: string): Promise<Party> {
  const accounts = await ask<string[]>(provider, "eth_requestAccounts", []);
  const chosen = address ?? accounts[0];
  if (!chosen || !accounts.some((a) => a.toLowerCase() === chosen.toLowerCase())) {
    throw new WalletError("the wallet offered no account to sign in with");
  }
  const challenge = await api.post<{ nonce: string; message: string }>("/v1/auth/challenge", { address: chosen });
  if (!challenge.message.toLowerCase().includes(chosen.toLowerCase())) {
    throw new WalletError("the API's sign-in challenge names another account: not signed");
  }
  const signature = await ask<string>(provider, "personal_sign", [utf8Hex(challenge.message), chosen]);
  const answer = await api.post<TokenAnswer>("/v1/auth/token", { nonce: challenge.nonce, signature });
  setToken(answer.accessToken);
  current = { provider, address: answer.party.address, kind, label };
  return answer.party;
}

export async function signOut(): Promise<void> {
  try {
    await api.post("/v1/auth/logout");
  } catch {
    // the token may have expired already: signed out either way
  }
  setToken(null);
  current = null;
}

/** The party's EIP-712 signature of a document the API served (`TypedDataOut`). */
export async function signTyped(served: TypedData): Promise<string> {
  const me = signer();
  return ask<string>(me.provider, "eth_signTypedData_v4", [me.address, JSON.stringify(served.typedData)]);
}

/** Broadcast a prepared transaction from the party's wallet, hand the API its hash, and wait until indexed. */
export async function send(prepared: Prepared, onStatus: (s: string) => void = () => {}): Promise<Submission> {
  const me = signer();
  const tx = prepared.transaction;
  if (tx.from.toLowerCase() !== me.address.toLowerCase()) {
    throw new WalletError(`the API prepared this for ${tx.from}, but you signed in as ${me.address}`);
  }
  onStatus("waiting for your wallet…");
  const hash = await ask<string>(me.provider, "eth_sendTransaction", [
    {
      type: "0x2",
      from: tx.from,
      to: tx.to,
      data: tx.data,
      value: quantity(tx.value),
      nonce: quantity(tx.nonce),
      gas: quantity(tx.gasLimit),
      maxFeePerGas: quantity(tx.maxFeePerGas),
      maxPriorityFeePerGas: quantity(tx.maxPriorityFeePerGas),
      chainId: quantity(tx.chainId),
    },
  ]);
  onStatus(`sent ${hash.slice(0, 10)}…; the API follows it`);
  let status = await api.post<Submission>(prepared.submitUrl || "/v1/submissions", { txHash: hash });
  for (let i = 0; i < 240; i++) {
    if (status.status === "reverted") {
      throw new WalletError(`the chain refused ${prepared.action}: ${JSON.stringify(status.error)}`);
    }
    if (status.status === "mined" && status.indexed) return status;
    onStatus(status.status === "mined" ? `mined in block ${status.blockNumber}; indexing…` : "pending…");
    await new Promise((r) => setTimeout(r, 500));
    status = await api.get<Submission>(status.statusUrl);
  }
  throw new WalletError(`${prepared.action} was sent (${hash}) but not indexed within two minutes: look again later`);
}
