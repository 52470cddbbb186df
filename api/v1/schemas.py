"""The ``/v1`` request and response bodies (pydantic v2).

Conventions: amounts are integers in token units, sent as a JSON integer or a decimal string
(0 < x < 2^256) and answered as decimal strings (exact in every JSON reader); addresses must
be EIP-55 checksummed (a wrong checksum is a typo that would send money elsewhere); hashes
and signatures are ``0x`` hex of fixed length; times are UTC seconds. Every request model
forbids unknown fields, so a client cannot set what the server owns (the token, a status, a
nonce the chain assigns): such a field is a 422 naming it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

UINT256_MAX = 2**256 - 1
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DIGITS = re.compile(r"^[0-9]{1,78}$")


def _checksummed(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    expected = to_checksum_address(value)
    if value != expected:
        raise ValueError(f"EIP-55 checksum does not match (did you mean {expected}?)")
    return expected


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer in token units, as a JSON integer or a decimal string")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a decimal string of digits only (token units, no sign, no decimals)")
        value = int(value)
    if not 0 < value <= UINT256_MAX:
        raise ValueError("must be more than 0 and less than 2**256")
    return value


Address = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]),
    AfterValidator(_checksummed),
]
Amount = Annotated[
    int,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]{1,78}$"},
                {"type": "integer", "minimum": 1, "maximum": UINT256_MAX},
            ],
            "description": "token units, 0 < x < 2**256",
        }
    ),
]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte r||s||v")]
Uint64 = Annotated[int, Field(ge=0, lt=2**64)]
Nonce = Annotated[int, Field(ge=0, lt=2**64)]
Id = Annotated[int, Field(ge=1, lt=2**63)]
AmountOut = Annotated[str, Field(pattern=r"^[0-9]+$", description="token units, decimal")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    error: str
    detail: str
    field: str | None = None


# -- auth ----------------------------------------------------------------------------------


class ChallengeIn(Request):
    address: Address


class ChallengeOut(BaseModel):
    nonce: str
    message: str = Field(description="EIP-4361 text to sign with personal_sign (EIP-191)")
    issuedAt: int
    expiresAt: int


class SignInIn(Request):
    nonce: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    signature: Signature


class PartyOut(BaseModel):
    address: str
    roles: list[str]
    auditor: bool


class TokenOut(BaseModel):
    accessToken: str
    tokenType: str = "bearer"
    expiresAt: int
    party: PartyOut


# -- health --------------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: str
    chainId: int
    headBlock: int | None
    indexedBlock: int | None
    lagBlocks: int | None
    database: str
    contracts: dict[str, str]


# -- parties --------------------------------------------------------------------------------


class MemberOut(BaseModel):
    address: str
    roles: list[str]
    oracleKind: int
    status: str
    kycHash: str
    admittedAt: int
    updatedBlock: int


# -- orders ---------------------------------------------------------------------------------


class MilestoneOut(BaseModel):
    milestone: int
    name: str
    occurredAt: int
    recordedAt: int
    evidenceHash: str
    signers: list[str]
    statusAfter: str
    txHash: str


class DisputeOut(BaseModel):
    openedAt: int
    answerBy: int
    resolveBy: int
    answered: bool
    reasonHash: str
    responseHash: str
    resolvedAt: int | None
    resolution: int | None
    toBuyer: AmountOut | None
    toSupplier: AmountOut | None


class OrderOut(BaseModel):
    orderId: int
    buyer: str
    supplier: str
    token: str
    amount: AmountOut
    shipBy: int
    deliverBy: int
    inspectionRequired: bool
    termsHash: str
    poRefHash: str
    openAccount: bool
    status: str
    createdAt: int
    fundedAt: int
    shippedAt: int
    deliveredAt: int
    closedAt: int
    escrowed: AmountOut
    prepaid: AmountOut
    paidToSupplier: AmountOut
    refundedToBuyer: AmountOut
    updatedBlock: int


class OrderDetailOut(OrderOut):
    milestones: list[MilestoneOut]
    dispute: DisputeOut | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    nextAfter: int | None = Field(description="pass as ?after= for the next page; null on the last page")


# -- receivables ------------------------------------------------------------------------------


class PieceOut(BaseModel):
    pieceId: int
    rootId: int
    parentId: int
    amount: AmountOut
    claimed: AmountOut
    ref: str
    childCount: int
    financed: bool
    holder: str
    createdAt: int
    updatedBlock: int


class ReceivableOut(BaseModel):
    rootId: int
    debtor: str
    creditor: str
    token: str
    faceValue: AmountOut
    maturity: int
    issuedAt: int
    defaultedAt: int
    invoiceHash: str
    invoiceNumber: str
    orderId: int
    repaid: AmountOut
    claimed: AmountOut
    status: str
    updatedBlock: int


class ReceivableDetailOut(ReceivableOut):
    pieces: list[PieceOut] = Field(description="the pieces of the tree this party may see, parents first")


class ReceivablePage(BaseModel):
    items: list[ReceivableOut]
    nextAfter: int | None


class PiecePage(BaseModel):
    items: list[PieceOut]
    nextAfter: int | None


# -- writes: what to sign, and signed transactions ----------------------------------------------


class TransactionOut(BaseModel):
    type: int
    chainId: int
    to: str
    data: str
    value: int
    nonce: int
    gas: int
    maxFeePerGas: int
    maxPriorityFeePerGas: int
    from_: str = Field(alias="from")

    model_config = ConfigDict(populate_by_name=True)


class PreparedOut(BaseModel):
    action: str
    transaction: TransactionOut = Field(description="sign this with your key, then POST it to submitUrl")
    submitUrl: str = "/v1/submissions"


class TypedDataOut(BaseModel):
    typedData: dict[str, Any] = Field(description="EIP-712 document for eth_signTypedData_v4")
    digest: str = Field(description="the EIP-712 digest the contract will check")


class SubmissionIn(Request):
    rawTransaction: Annotated[str, Field(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=131_074)]


class SubmissionOut(BaseModel):
    id: str
    txHash: str
    contract: str
    function: str
    party: str
    status: str = Field(description="pending, mined or reverted")
    blockNumber: int | None
    indexed: bool = Field(description="the indexer has reached the block: the reads show the change")
    error: str | None
    statusUrl: str | None = None


class OrderTermsIn(Request):
    buyer: Address
    supplier: Address
    amount: Amount
    shipBy: Uint64
    deliverBy: Uint64
    inspectionRequired: bool
    termsHash: Bytes32 = Field(description="keccak256 of the terms document (POST /v1/documents gives it)")
    poReference: Annotated[str, Field(min_length=1, max_length=128)]
    nonce: Nonce
    deadline: Uint64
    openAccount: bool = False


class OrderIn(Request):
    terms: OrderTermsIn
    buyerSignature: Signature
    supplierSignature: Signature


class HashIn(Request):
    hash: Bytes32


class PrepaymentIn(Request):
    guarantor: Address
    amount: Amount


class IssueTermsIn(Request):
    debtor: Address
    creditor: Address
    faceValue: Amount
    maturity: Uint64
    invoiceHash: Bytes32
    invoiceNumber: Annotated[str, Field(min_length=1, max_length=64)]
    orderId: Annotated[int, Field(ge=0, lt=2**63)]
    nonce: Nonce
    deadline: Uint64


class IssueIn(Request):
    terms: IssueTermsIn
    debtorSignature: Signature


class ChildIn(Request):
    amount: Amount
    holder: Address
    ref: Bytes32


class SplitIn(Request):
    children: Annotated[list[ChildIn], Field(min_length=2, max_length=32)]


class TransferIn(Request):
    to: Address


class RepayIn(Request):
    amount: Amount


class ApprovalIn(Request):
    spender: Annotated[str, Field(pattern=r"^(TradeEscrow|Receivables)$")]
    amount: Amount


class FinancingRequestIn(Request):
    bank: Address


class FinancingRequestOut(BaseModel):
    id: str
    pieceId: int
    holder: str
    bank: str
    createdAt: int


class OfferTermsIn(Request):
    price: Amount
    deadline: Uint64
    nonce: Nonce


class OfferIn(OfferTermsIn):
    signature: Signature


class OfferOut(BaseModel):
    id: str
    pieceId: int
    holder: str
    bank: str
    price: AmountOut
    deadline: int
    nonce: int
    signature: str
    createdAt: int


class BlockOut(BaseModel):
    number: int
    hash: str
    stateRoot: str


class ProofOut(BaseModel):
    """A piece's state with the EIP-1186 proof of every storage slot it is read from.

    Verify it without trusting this API: ``scf verify receivable ID --rpc YOUR_NODE --proof FILE``
    fetches block ``block.number`` from your node, checks its hash and state root, walks every
    proof up to that root and compares the proved values with ``claim``.
    """

    contract: str
    pieceId: int
    block: BlockOut
    claim: dict[str, Any]
    proof: dict[str, Any] = Field(description="eth_getProof's answer for the contract and the slots")


# -- documents -------------------------------------------------------------------------------------


class DocumentIn(Request):
    kind: Annotated[str, Field(pattern=r"^(invoice|bill_of_lading|terms|other)$")]
    filename: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")]
    mediaType: Annotated[str, Field(pattern=r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", max_length=127)]
    contentBase64: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]
    parties: Annotated[list[Address], Field(max_length=32, description="who else may download it")] = []


class AnchorOut(BaseModel):
    kind: str
    id: int


class DocumentOut(BaseModel):
    id: str
    owner: str
    kind: str
    filename: str
    mediaType: str
    size: int
    keccak256: str = Field(description="put this on chain (termsHash, invoiceHash)")
    sha256: str
    parties: list[str]
    createdAt: int
    anchors: list[AnchorOut] = Field(description="where this hash is on chain, as indexed")


class ShareIn(Request):
    party: Address


# -- audit -----------------------------------------------------------------------------------------


class AuditRunOut(BaseModel):
    id: str
    requestedBy: str
    state: str = Field(description="running, done or failed")
    createdAt: int
    finishedAt: int | None
    ok: bool | None = Field(description="the replay agrees with the chain (null until done)")
    report: dict[str, Any] | None = Field(description="the replay report (mismatches, counts, history digest)")
    error: str | None


# -- credit ----------------------------------------------------------------------------------------


class CreditLimitOut(BaseModel):
    bank: str
    party: str
    limit: AmountOut
    score: int
    grade: int
    modelHash: str
    validUntil: int
    publishedAt: int
    revoked: bool
    updatedBlock: int


class ReasonOut(BaseModel):
    code: str = Field(
        description="stable code: a flag (DOUBLE_FINANCING, CIRCULAR_TRADING), a feature, or INSUFFICIENT_HISTORY"
    )
    text: str = Field(description="the reason in plain words")
    pointsLost: int | None = Field(description="points this feature cost against its best bin (null for flags)")


class DecisionOut(BaseModel):
    party: str
    status: str = Field(
        description="SCORED; INSUFFICIENT_HISTORY (too few verified deliveries to score); NOT_SCORED (a core "
        "enterprise: its record as a debtor instead). Without a score: no grade and a limit of 0"
    )
    score: int | None
    pdBps: int | None = Field(description="probability of default over the model's horizon, basis points")
    grade: str | None
    gradeCode: int = Field(description="the grade's code as CreditRegistry stores it (0: none)")
    limit: AmountOut
    reasons: list[ReasonOut] = Field(description="the top four reasons, flags first")
    flags: list[str]
    model: str = Field(description="the model's version hash (keccak256 of its canonical JSON)")
    chainId: int
    asOfBlock: int = Field(description="the decision uses events at or before this block, and nothing after")
    asOfTime: int = Field(description="that block's time, UTC seconds: the end of every window")
    notes: list[str]
    decisionHash: str = Field(description="keccak256 of the decision's canonical JSON (what `scf score --json` prints)")


class CreditHistoryOut(BaseModel):
    events: int = Field(description="ledger events at or before the as-of block")
    refusedCalls: int | None = Field(description="refused calls seen (null: the index cannot see them)")
    source: str


class CreditReportOut(BaseModel):
    decision: DecisionOut
    features: dict[str, dict[str, int | float | None]] = Field(
        description="every feature of the party, by trailing window (3m, 6m, 12m) and as of the block (asOf); "
        "null where there is nothing to measure"
    )
    modelFeatures: list[str] = Field(description="the features the model scores (the others are shown for context)")
    points: dict[str, int] = Field(description="points per model feature and the base (empty without a score)")
    history: CreditHistoryOut


class LimitEventOut(BaseModel):
    kind: Literal["published", "revoked"]
    bank: str
    party: str
    limit: AmountOut | None
    score: int | None
    grade: int | None
    modelHash: str | None
    validUntil: int | None
    nonce: AmountOut | None
    submitter: str | None
    blockNumber: int
    logIndex: int
    txHash: str
    timestamp: int


class LimitHistoryPage(BaseModel):
    items: list[LimitEventOut]
    nextAfter: int | None = Field(description="pass as ?after= for the next page; null on the last page")


class EvaluationOut(BaseModel):
    servingModel: str | None = Field(description="the version hash of the model this API scores with")
    sameModel: bool = Field(description="whether the report evaluated the serving model")
    report: dict[str, Any] = Field(
        description="`scf score evaluate --json` as written: AUC, KS, Brier, calibration, coverage of tier-2/3 "
        "suppliers, both baselines; bad actors' addresses only for auditors"
    )
