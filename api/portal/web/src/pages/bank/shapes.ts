// The API's shapes only the bank's page reads (the OpenAPI at /openapi.json is the contract). Amounts are decimal
// strings of token units; nothing here is turned into a float.

export type HeldState = "outstanding" | "overdue" | "defaulted" | "repaid" | "claimed";

/** One piece the bank financed and holds (GET /v1/banks/me/portfolio `pieces`). */
export interface FinancedPiece {
  pieceId: string;
  rootId: string;
  obligor: string;
  seller: string;
  sellerTier: number | null;
  price: string;
  amount: string;
  collected: string;
  claimable: string;
  due: string;
  maturity: string;
  bucket: string | null;
  defaultedAt: number;
  financedAt: number;
  discountBps: string;
  nonce: string;
  state: HeldState;
}

export interface Portfolio {
  bank: string;
  now: number;
  indexedBlock: number | null;
  pieces: FinancedPiece[];
  notHeld: number;
  counts: Record<HeldState, number>;
  byObligor: { obligor: string; pieces: number; due: string; paid: string }[];
  ladder: { bucket: string; pieces: number; due: string }[];
  totals: { paid: string; amount: string; collected: string; claimable: string; due: string };
  returnSoFar: { pieces: number; paid: string; collected: string; net: string };
  tiers: { asOfBlock: number | null; note: string };
}

/** A limit this bank published (GET /v1/credit/limits). */
export interface CreditLimit {
  bank: string;
  party: string;
  limit: string;
  score: number;
  grade: number;
  modelHash: string;
  validUntil: string;
  publishedAt: number;
  revoked: boolean;
  updatedBlock: number;
}

/** The bank's guarantee pool for pre-shipment finance (GET /v1/banks/me/pool). */
export interface Pool {
  bank: string;
  now: number;
  indexedBlock: number | null;
  available: string;
  reserved: string;
  offered: string;
}

/** A receivable root as GET /v1/receivables/{id} answers it (the fields the inbox reads). */
export interface RootOut {
  rootId: string;
  debtor: string;
  faceValue: string;
  maturity: string;
  defaultedAt: number;
}

/** A scoring.pricing quote as a desk records it with its offer (`pricing.quote`): the fields the page puts in words.
 * Every field is optional: a bank's own program may record less, and the page shows what there is. */
export interface Quote {
  result?: string;
  price?: string;
  face?: string;
  tenor_days?: number;
  rate_bps?: number;
  apr_bps?: number;
  discount_bps?: number;
  base_rate_bps?: number;
  obligor_pd_bps?: number | null;
  obligor_spread_bps?: number;
  seller_pd_bps?: number | null;
  seller_spread_bps?: number;
  expected_loss_bps?: number;
  lgd_bps?: number;
  reasons?: { code: string; text: string }[];
  inputs?: {
    request?: {
      obligor_kind?: string;
      seller_grade?: string | null;
      seller_pd_bps?: number | null;
      seller_limit?: string | null;
      recourse?: boolean;
      as_of_block?: number;
    };
  };
}

export interface Pricing {
  policyHash: string;
  modelVersion: string;
  quote: Quote;
  asOfBlock: number | null;
}

export interface Reason {
  code: string;
  text?: string;
  [more: string]: unknown;
}

export interface Decline {
  bank: string;
  reasons: Reason[];
  declinedAt: number;
}
