// The API's shapes the pages read (the OpenAPI at /openapi.json is the full contract). Amounts are decimal strings.

export interface Party {
  address: string;
  roles: string[];
  auditor: boolean;
}

export interface TokenAnswer {
  accessToken: string;
  expiresAt: number;
  party: Party;
}

export interface Transaction {
  type: 2;
  chainId: number;
  to: string;
  data: string;
  value: string;
  nonce: string;
  gasLimit: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  from: string;
}

export interface Prepared {
  action: string;
  transaction: Transaction;
  submitUrl: string;
}

export interface Submission {
  id: string;
  txHash: string;
  status: "pending" | "mined" | "reverted";
  blockNumber: number | null;
  indexed: boolean;
  error: unknown;
  statusUrl: string;
}

export interface TypedData {
  typedData: Record<string, unknown>;
  digest: string;
}

/** GET /v1/orders (OrderOut): times in UTC seconds; uint64 ones as decimal strings. */
export interface Order {
  orderId: string;
  buyer: string;
  supplier: string;
  token: string;
  amount: string;
  shipBy: string;
  deliverBy: string;
  inspectionRequired: boolean;
  openAccount: boolean;
  status: string;
  createdAt: number;
  fundedAt: number;
  shippedAt: number;
  deliveredAt: number;
  closedAt: number;
  escrowed: string;
  prepaid: string;
  paidToSupplier: string;
  refundedToBuyer: string;
}

export interface Piece {
  pieceId: string;
  rootId: string;
  parentId: string;
  amount: string;
  claimed: string;
  ref: string;
  childCount: number;
  financed: boolean;
  holder: string;
  createdAt: number;
  updatedBlock: number;
}

export interface Receivable {
  rootId: string;
  debtor: string;
  creditor: string;
  token: string;
  faceValue: string;
  maturity: string;
  issuedAt: number;
  defaultedAt: number;
  [more: string]: unknown;
}

export interface ReceivableDetail extends Receivable {
  pieces: Piece[];
}

export interface Pricing {
  [field: string]: unknown;
}

export interface Offer {
  id: string;
  pieceId: string;
  holder: string;
  bank: string;
  price: string;
  deadline: string;
  nonce: string;
  signature: string;
  createdAt: number;
  pricing: Pricing | null;
}

export interface Decline {
  [field: string]: unknown;
}

export interface FinancingRequest {
  id: string;
  pieceId: string;
  holder: string;
  bank: string | null;
  state: string;
  createdAt: number;
  expiresAt: number | null;
  withdrawnAt: number | null;
  offers: number;
  declines: Decline[];
}

export interface Health {
  status: string;
  chainId: number;
  headBlock: number | null;
  indexedBlock: number | null;
  lagBlocks: number | null;
  contracts: Record<string, string>;
}

export interface PortalConfig {
  chainId: number;
  devnet: boolean;
  rpcUrl: string | null;
  devWallet: boolean;
  contracts: Record<string, string>;
  token: { symbol: string; decimals: number };
}

export interface DevParty {
  label: string;
  name: string;
  does: string;
  address: string;
  key: string;
}
