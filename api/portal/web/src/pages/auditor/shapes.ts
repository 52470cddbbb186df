// The API shapes only the auditor page reads (the shared ones are in src/types.ts): the audit run and its report
// (ledger/audit/report.py Report.to_json, with `scores` from scoring/audit.py and `offers` from
// scoring/price_audit.py, as `scf audit replay --scores --offers --json` writes them), the decoded histories and
// the scores by supply tier (api/v1/audit_schemas.py). Every uint256 is a decimal string.

export interface Location {
  block?: number;
  tx?: string;
  log_index?: number;
  contract?: string;
  function?: string;
  view?: string;
  key?: string;
  table?: string;
  column?: string;
}

export interface Mismatch {
  kind: string;
  location: Location;
  expected: unknown;
  actual: unknown;
  detail: string;
}

export interface Gap {
  location: Location;
  reason: string;
}

export interface Counts {
  blocks: number;
  logs: number;
  transactions: number;
  quiet_calls: number;
  reverted_calls: number;
  other_transactions: number;
  signatures: number;
  views: number;
  events: Record<string, number>;
  calls: Record<string, number>;
}

/** One published limit as it was published (`published`) and as recomputed (`expected`). */
export interface LimitCheck {
  party: string;
  bank: string;
  block: number;
  as_of_block: number;
  as_of_time: number;
  published: { limit: string; score: number; grade: number; model: string };
  expected: { limit: string; score: number; grade: number; model: string } | null;
  problem: string | null;
  ok: boolean;
}

export interface LimitsPart {
  ok: boolean;
  checked?: number;
  matches?: LimitCheck[];
  mismatches?: LimitCheck[];
  unmodelled?: LimitCheck[];
  notes?: string[];
  models?: string[];
  error?: string;
}

export interface Finding {
  offer: string;
  piece: number;
  bank: string;
  block: number | null;
  tx: string | null;
  field: string;
  detail: string;
  recorded: unknown;
  expected: unknown;
}

export interface NotHeld {
  offer: string;
  piece: number;
  bank: string;
  policy: string;
  detail: string;
}

/** An offer of the API's store with its verdict (api/v1/audit_reads.py offer_rows). */
export interface OfferRow {
  offer: string;
  piece: string;
  bank: string;
  holder: string;
  price: string;
  policy: string | null;
  model: string | null;
  createdAt: number;
  verdict: "agrees" | "differs" | "policy not held" | "not checked";
  acceptedTx: string | null;
}

export interface OffersPart {
  rows?: OfferRow[];
  ok: boolean;
  checked?: number;
  differ?: number;
  agree?: string[];
  accepted?: Record<string, string>;
  mismatches?: Finding[];
  unchecked?: Finding[];
  undated?: Finding[];
  notes?: string[];
  policyNotHeld?: NotHeld[];
  policies?: { name: string; hash: string; file: string }[];
  models?: string[];
  error?: string;
}

export interface Report {
  ok: boolean;
  chainId: number;
  fromBlock: number;
  toBlock: number;
  toBlockHash: string;
  replayedFrom: number;
  digest: string;
  digestLine: string;
  counts: Counts;
  mismatches: Mismatch[];
  mismatchKinds: Record<string, number>;
  gaps: Gap[];
  seconds: number;
  timings: Record<string, number>;
  requested?: { limits: boolean; offers: boolean };
  scores?: LimitsPart;
  offers?: OffersPart;
}

/** GET /v1/audit/runs/{id} (AuditRunOut). */
export interface Run {
  id: string;
  requestedBy: string;
  state: "running" | "done" | "failed";
  createdAt: number;
  finishedAt: number | null;
  ok: boolean | null;
  report: Report | null;
  error: string | null;
}

/** An item of GET /v1/audit/runs (AuditRunSummaryOut). */
export interface RunLine {
  id: string;
  requestedBy: string;
  state: "running" | "done" | "failed";
  createdAt: number;
  finishedAt: number | null;
  ok: boolean | null;
  toBlock: number | null;
  digest: string | null;
  mismatches: number | null;
  seconds: number | null;
  limitsOk: boolean | null;
  offersOk: boolean | null;
  error: string | null;
}

export type Args = Record<string, unknown>;

export interface HistoryEvent {
  blockNumber: number;
  blockTime: number;
  txHash: string;
  txIndex: number;
  logIndex: number;
  contract: string;
  event: string;
  args: Args;
  about: boolean;
}

export interface HistoryCall {
  txHash: string;
  blockNumber: number;
  blockTime: number;
  txIndex: number;
  sender: string;
  contract: string | null;
  function: string | null;
  args: Args | null;
}

export interface RefusedCall {
  txHash: string;
  blockNumber: number;
  blockTime: number | null;
  txIndex: number;
  sender: string;
  contract: string;
  function: string;
  args: Args | null;
  error: string | null;
  errorArgs: Args | null;
}

/** GET /v1/audit/history/{orders|pieces}/{id} (HistoryOut). */
export interface History {
  kind: "order" | "piece";
  id: string;
  rootId: string | null;
  events: HistoryEvent[];
  calls: HistoryCall[];
  refused: RefusedCall[];
  refusedScope: string;
  indexedBlock: number | null;
}

/** GET /v1/audit/scores (ScoresOut). */
export interface Score {
  party: string;
  roles: string[];
  tier: number | null;
  status: string;
  score: number | null;
  pdBps: number | null;
  grade: string | null;
  gradeCode: number;
  limit: string;
}

export interface Scores {
  model: string;
  asOfBlock: number;
  items: Score[];
}

/** A calibration bin of `scf score evaluate --json` (scoring/evaluate.py calibration()). */
export interface CalibrationBin {
  n: number;
  predicted_bps: number;
  observed_bps: number;
  failures: number;
}

/** GET /v1/credit/evaluation (EvaluationOut): the report as `scf score evaluate --json` wrote it. */
export interface Evaluation {
  servingModel: string | null;
  sameModel: boolean;
  report: {
    model?: string;
    population?: string;
    n?: number;
    failures?: number;
    auc?: number | null;
    brier?: number | null;
    mean_pd_bps?: number | null;
    observed_bps?: number | null;
    calibration?: CalibrationBin[];
    baselines?: Record<string, { calibration?: CalibrationBin[]; fitted?: boolean; error?: string }>;
    [more: string]: unknown;
  };
}
