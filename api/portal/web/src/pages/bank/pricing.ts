// How the desk priced an offer, in words: the quote it recorded with the offer (scoring.pricing, through
// api/desk/), read field by field. The desk prices with no human step; the page shows its work and never asks the
// officer to price. A field the quote lacks is left out of the sentence rather than guessed.

import { html, nothing, type TemplateResult } from "lit-html";
import type { Decline, Pricing } from "./shapes";
import { bps, dateTime, money, short } from "../../ui";

function has<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

/** The quote's headline: price, face, tenor, rate, APR and discount. */
export function priceLine(pricing: Pricing | null, offerPrice: string): string {
  const q = pricing?.quote ?? {};
  const parts = [`${money(q.price ?? offerPrice)}`];
  if (has(q.face)) parts.push(`for ${money(q.face)}`);
  if (has(q.tenor_days)) parts.push(`due in ${q.tenor_days} days`);
  const rate = has(q.rate_bps) ? `${bps(q.rate_bps)} a year` : "";
  const apr = has(q.apr_bps) ? `APR ${bps(q.apr_bps)}` : "";
  const discount = has(q.discount_bps) ? `a discount of ${bps(q.discount_bps)}` : "";
  const terms = [rate && apr ? `${rate} (${apr})` : rate || apr, discount].filter(Boolean).join(", ");
  return terms ? `${parts.join(" ")}: ${terms}` : parts.join(" ");
}

/** Everything the desk recorded about a price, in sentences, with its reasons as it wrote them. */
export function pricingWords(pricing: Pricing | null, offerPrice: string): TemplateResult {
  if (!pricing) {
    return html`<p class="muted">The desk recorded no pricing with this offer: only its signed price stands.</p>`;
  }
  const q = pricing.quote ?? {};
  const request = q.inputs?.request ?? {};
  const sentences: string[] = [`${priceLine(pricing, offerPrice)}.`];
  if (has(q.base_rate_bps)) sentences.push(`Base rate ${bps(q.base_rate_bps)} a year on the bank's curve.`);
  if (has(q.obligor_pd_bps) || has(q.obligor_spread_bps)) {
    const kind = request.obligor_kind === "core" ? "a core enterprise, priced from its record as a debtor" : request.obligor_kind;
    sentences.push(
      `Obligor${kind ? ` (${kind})` : ""}: probability of default ${bps(q.obligor_pd_bps)}, spread ${bps(q.obligor_spread_bps)} a year.`,
    );
  }
  const seller: string[] = [];
  if (has(request.seller_grade)) seller.push(`grade ${request.seller_grade}`);
  if (has(request.seller_pd_bps)) seller.push(`probability of default ${bps(request.seller_pd_bps)}`);
  if (has(request.seller_limit)) seller.push(`limit published ${money(request.seller_limit)}`);
  if (has(request.recourse)) seller.push(request.recourse ? "with recourse" : "without recourse");
  if (has(q.seller_spread_bps)) seller.push(`spread ${bps(q.seller_spread_bps)} a year`);
  if (seller.length) sentences.push(`Seller: ${seller.join(", ")}.`);
  if (has(q.expected_loss_bps)) {
    const lgd = has(q.lgd_bps) ? ` (loss given default ${bps(q.lgd_bps)})` : "";
    sentences.push(`Expected loss ${bps(q.expected_loss_bps)} of face${lgd}.`);
  }
  const block = pricing.asOfBlock ?? request.as_of_block;
  return html`<p>${sentences.join(" ")}</p>
    ${q.reasons?.length
      ? html`<ol class="reasons">
          ${q.reasons.map((r) => html`<li><span class="badge">${r.code.replace(/_/g, " ").toLowerCase()}</span> ${r.text}</li>`)}
        </ol>`
      : nothing}
    <p class="muted">
      Policy <code title=${pricing.policyHash}>${short(pricing.policyHash)}</code>, model
      <code title=${pricing.modelVersion}>${short(pricing.modelVersion)}</code>${has(block)
        ? `, inputs read at block ${block}`
        : ""}: an auditor recomputes this price from them (scf audit replay --offers).
    </p>`;
}

/** The reasons banks gave for making no offer, as they gave them. */
export function declineWords(declines: Decline[]): TemplateResult {
  if (declines.length === 0) return html``;
  return html`${declines.map(
    (d) => html`<p>
      Declined ${dateTime(d.declinedAt)}:
      ${d.reasons.map((r) => html`<span class="badge warn">${r.code.replace(/_/g, " ").toLowerCase()}</span> ${r.text ?? ""} `)}
    </p>`,
  )}`;
}
