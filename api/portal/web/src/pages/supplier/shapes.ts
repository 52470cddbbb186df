// The API shapes only the supplier page reads (the shared ones are in src/types.ts). Every uint256 is a decimal
// string, as the OpenAPI says; times the API or a block stamped are numbers of UTC seconds.

import type { Order, ReceivableDetail } from "../../types";

export interface ReasonWords {
  code: string;
  text: string;
}

/** A bank's answer with no offer (api/v1/declines.py DeclineOut). */
export interface DeclineOut {
  bank: string;
  reasons: ReasonWords[];
  declinedAt: number;
}

/** What a bank recorded about how it priced an offer (PricingOut; its quote is scoring.pricing.Quote.to_json()). */
export interface PricingOut {
  policyHash: string;
  modelVersion: string;
  quote: {
    result?: string;
    apr_bps?: number | null;
    discount_bps?: number;
    tenor_days?: number;
    reasons?: ReasonWords[];
    [more: string]: unknown;
  };
  asOfBlock: number | null;
}

/** GET /v1/events item of type piece.financed: the PieceFinanced log, seen by the seller and the buying bank. */
export interface FinancedEvent {
  cursor: string;
  occurredAt: number;
  data: {
    pieceId: string;
    rootId: string;
    bank: string;
    seller: string;
    price: string;
    amount: string;
    discountBps: string;
    timeToMaturity: string;
    txHash: string;
    blockNumber: number;
  };
}

export interface EventPage<T> {
  items: T[];
  nextAfter: string;
  hasMore: boolean;
}

export interface Member {
  address: string;
  roles: string[];
  status: string;
}

export interface Milestone {
  milestone: number;
  name: string;
  occurredAt: string;
  recordedAt: number;
  evidenceHash: string;
  signers: string[];
  statusAfter: string;
  txHash: string;
}

export interface Dispute {
  openedAt: number;
  answerBy: number;
  resolveBy: number;
  answered: boolean;
  resolvedAt: number | null;
  resolution: number | null;
}

/** GET /v1/orders/{id} (OrderDetailOut). */
export interface OrderDetail extends Order {
  milestones: Milestone[];
  dispute: Dispute | null;
}

export interface CreditReason {
  code: string;
  text: string;
  pointsLost: number | null;
}

export interface Decision {
  party: string;
  status: string;
  score: number | null;
  pdBps: number | null;
  grade: string | null;
  limit: string;
  reasons: CreditReason[];
  favourable: CreditReason[];
  flags: string[];
  model: string;
  asOfBlock: number;
  asOfTime: number;
  notes: string[];
  decisionHash: string;
}

/** A LimitPublished or LimitRevoked log (LimitEventOut): a revocation carries no limit, score or grade. */
export interface LimitEvent {
  kind: "published" | "revoked";
  bank: string;
  party: string;
  limit: string | null;
  score: number | null;
  grade: number | null;
  modelHash: string | null;
  validUntil: string | null;
  blockNumber: number;
  txHash: string;
  timestamp: number;
}

export interface Anchor {
  kind: string;
  id: string;
}

export interface DocumentOut {
  id: string;
  owner: string;
  kind: string;
  filename: string;
  mediaType: string;
  size: number;
  keccak256: string;
  parties: string[];
  createdAt: number;
  anchors: Anchor[];
}

/** GET /v1/receivables/{rootId} with the fields src/types.ts's Receivable leaves to its index signature. */
export interface RootDetail extends ReceivableDetail {
  status: string;
  /** The invoice's keyed fingerprint: the invoice number itself is never on chain nor in the API. */
  fingerprint: string;
  invoiceCommitment: string;
  orderId: string;
  repaid: string;
  claimed: string;
}
