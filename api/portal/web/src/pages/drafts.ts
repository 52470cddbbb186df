// Order drafts on either side's page (GET/POST /v1/orders/drafts, api/v1/order_drafts.py): an order on chain needs
// the buyer's and the supplier's EIP-712 signatures over the same terms. One side drafts and signs here; the other
// finds the draft waiting, signs the same typed data in its own wallet and creates the order (POST /v1/orders, then
// the wallet broadcasts). Nothing leaves the page but signatures; the API checks each against the terms.

import { html, type TemplateResult } from "lit-html";
import { keccak256, toUtf8Bytes } from "ethers";
import { api } from "../api";
import type { Party, Prepared, TypedData } from "../types";
import { act, addr, date, ledgerNow, money, parseMoney, table } from "../ui";
import { send, signTyped } from "../wallet";

export interface Draft {
  id: string;
  terms: Record<string, string | boolean>;
  drafter: string;
  signature: string;
  state: string;
  awaiting: string | null;
  orderId: string | null;
  createdAt: number;
}

const DAY = 86_400;
type Side = "buyer" | "supplier";

const same = (a: string | null | undefined, b: string) => (a ?? "").toLowerCase() === b.toLowerCase();

export function readDrafts(): Promise<Draft[]> {
  return api.get<Draft[]>("/v1/orders/drafts");
}

/** The drafts waiting for `me`'s signature, with a button each; then `me`'s own drafts still waiting; then a form. */
export function draftsPart(
  drafts: Draft[],
  me: Party,
  side: Side,
  line: HTMLElement,
  refresh: () => void,
): TemplateResult {
  const other: Side = side === "buyer" ? "supplier" : "buyer";
  const toSign = drafts.filter((d) => same(d.awaiting, me.address));
  const mine = drafts.filter((d) => same(d.drafter, me.address) && d.state === "awaiting");

  const cosign = (d: Draft) => (e: Event) =>
    act(
      e.target as HTMLButtonElement,
      line,
      async (say) => {
        say("sign the order in your wallet…");
        const signature = await signTyped(await api.post<TypedData>("/v1/orders/typed-data", d.terms));
        const body =
          side === "buyer"
            ? { terms: d.terms, buyerSignature: signature, supplierSignature: d.signature }
            : { terms: d.terms, buyerSignature: d.signature, supplierSignature: signature };
        await send(await api.post<Prepared>("/v1/orders", body), say);
        return `order ${String(d.terms.poReference)} co-signed and created on chain`;
      },
      refresh,
    );

  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    return act(
      form.querySelector("button"),
      line,
      async (say) => {
        const counterparty = value("counterparty");
        const amount = parseMoney(value("amount"));
        if (!/^0x[0-9a-fA-F]{40}$/.test(counterparty)) throw new Error(`${other}: a 0x address of 40 hex digits`);
        if (amount === null || amount <= 0n) throw new Error("amount: type an amount such as 1,250.00");
        const ship = Number(value("ship"));
        const deliver = Number(value("deliver"));
        if (!(Number.isInteger(ship) && ship >= 1 && deliver > ship && deliver <= 365)) {
          throw new Error("days: ship in 1 or more, deliver after shipping, within a year");
        }
        const reference = value("po");
        if (!reference) throw new Error("PO reference: the purchase order's number");
        const t = await ledgerNow();
        const terms = {
          buyer: side === "buyer" ? me.address : counterparty,
          supplier: side === "supplier" ? me.address : counterparty,
          amount: amount.toString(),
          shipBy: String(t + ship * DAY),
          deliverBy: String(t + deliver * DAY),
          inspectionRequired: (form.elements.namedItem("inspect") as HTMLInputElement).checked,
          termsHash: keccak256(toUtf8Bytes(`purchase order ${reference}`)),
          poReference: reference,
          // Any uint256 the buyer has not used: random, so two drafts never collide.
          nonce: BigInt(keccak256(crypto.getRandomValues(new Uint8Array(32)))).toString(),
          deadline: String(t + 7 * DAY),
        };
        say("sign the order in your wallet…");
        const signature = await signTyped(await api.post<TypedData>("/v1/orders/typed-data", terms));
        await api.post("/v1/orders/drafts", { terms, signature });
        return `order ${reference} drafted and signed: it waits a week for the ${other}'s signature`;
      },
      refresh,
    );
  };

  return html`
    <h3>Orders to co-sign</h3>
    ${table(
      `Orders your ${other}s drafted and signed: co-sign in your wallet to create them on chain`,
      ["PO reference", other, "amount", "ship by", "deliver by", "sign by", ""],
      toSign.map(
        (d) => html`<tr data-draft=${d.id}>
          <td>${String(d.terms.poReference)}</td>
          <td>${addr(String(d.terms[other]))}</td>
          <td class="num">${money(String(d.terms.amount))}</td>
          <td>${date(String(d.terms.shipBy))}</td>
          <td>${date(String(d.terms.deliverBy))}</td>
          <td>${date(String(d.terms.deadline))}</td>
          <td><button type="button" id=${`cosign-${d.id}`} @click=${cosign(d)}>Co-sign and create</button></td>
        </tr>`,
      ),
      "No order waits for your signature.",
    )}
    <h3>Draft an order</h3>
    <form @submit=${submit} aria-label="draft an order">
      <label for="draft-counterparty">${other === "buyer" ? "Buyer" : "Supplier"}</label>
      <input id="draft-counterparty" name="counterparty" size="44" placeholder="0x…" />
      <label for="draft-amount">Amount</label><input id="draft-amount" name="amount" size="12" />
      <label for="draft-ship">Ship in (days)</label>
      <input id="draft-ship" name="ship" type="number" min="1" value="14" />
      <label for="draft-deliver">Deliver in (days)</label>
      <input id="draft-deliver" name="deliver" type="number" min="2" value="30" />
      <label for="draft-po">PO reference</label><input id="draft-po" name="po" size="14" />
      <label for="draft-inspect">Inspection</label><input id="draft-inspect" name="inspect" type="checkbox" />
      <button type="submit">Sign and send to the ${other}</button>
    </form>
    ${mine.length
      ? html`<p class="muted">
          Waiting for the ${other}'s signature: ${mine.map((d) => String(d.terms.poReference)).join(", ")}.
        </p>`
      : ""}
  `;
}
