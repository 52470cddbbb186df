// What an offer costs the seller, in exact integer arithmetic: money stays BigInt token units from the API's
// decimal strings to the last digit, and a percentage is formatted from a scaled BigInt (no float ever holds an
// amount). The APR is the banks' own definition (scoring/pricing.py: apr_bps = (face − price) × 365 ÷ (price ×
// days)): simple interest on the money the seller receives now, for the time left until the receivable matures.
// The chain's PieceFinanced `discountBps` is another measure (the discount as a yearly rate on the face value).

const YEAR_SECONDS = 365n * 86_400n;

/** `num / den` as a percentage with `digits` decimals, rounded toward zero as the banks' quotes and the chain's
 * discountBps are (so a quote's "APR 4.68%" reads 4.68 % here too): 2n/3n → "66.66 %". Null when den is 0. */
export function percent(num: bigint, den: bigint, digits = 2): string | null {
  if (den === 0n) return null;
  const negative = num < 0n !== den < 0n && num !== 0n;
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  const scale = 10n ** BigInt(digits);
  const scaled = (n * 100n * scale) / d; // percent × 10^digits, rounded toward zero
  const whole = scaled / scale;
  const frac = (scaled % scale).toString().padStart(digits, "0");
  return `${negative ? "−" : ""}${whole.toLocaleString("en-US")}${digits > 0 ? `.${frac}` : ""}\u00a0%`; // kept on one line
}

/** Whole and tenth days in `seconds`, exact: 3_542_400 → "41.0". */
export function days(seconds: bigint): string {
  const tenths = (seconds * 10n + 43_200n) / 86_400n;
  return `${tenths / 10n}.${tenths % 10n}`;
}

export interface OfferCost {
  /** amount − price, token units */
  discount: bigint;
  /** discount ÷ amount */
  discountPct: string | null;
  /** seconds from now to the receivable's maturity (≤ 0: matured) */
  secondsLeft: bigint;
  /** discount ÷ price × 365 days ÷ time left; null when the receivable has matured or the price is 0 */
  apr: string | null;
}

/** The cost of selling a piece of `amount` for `price` at `now` (UTC seconds), the receivable maturing `maturity`. */
export function offerCost(amount: bigint, price: bigint, now: number, maturity: bigint): OfferCost {
  const discount = amount - price;
  const secondsLeft = maturity - BigInt(Math.floor(now));
  const apr = secondsLeft > 0n && price > 0n ? percent(discount * YEAR_SECONDS, price * secondsLeft) : null;
  return { discount, discountPct: percent(discount, amount), secondsLeft, apr };
}
