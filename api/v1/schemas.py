"""The ``/v1`` request and response bodies (pydantic v2).

Conventions: addresses must be EIP-55 checksummed (a wrong checksum is a typo that would send
money elsewhere); hashes and signatures are ``0x`` hex of fixed length; times are UTC seconds.
Every request model forbids unknown fields, so a client cannot set what the server owns (the
token, a status, a nonce the chain assigns): such a field is a 422 naming it.

Integers: **a JavaScript client must never see a number it cannot represent.** ``JSON.parse``
rounds integers above 2^53 - 1 (``Number.MAX_SAFE_INTEGER``), ethers refuses them and a wallet
signs the rounded value, so an integer is a JSON number only where whatever produces it keeps
it below 2^53, and a decimal string everywhere else. The line is the one the index's SQL draws
(``UInt`` versus ``BIGINT``, see ``ledger/index/sql/models.py``):

* **decimal strings** (``"9007199254740993"``): every ``uint256`` / ``int256`` whatever its
  value — amounts, prices, limits, order, root and piece ids, nonces (also the page cursors,
  which are ids) — and every narrower integer a *party chooses* whose type reaches 2^53: the
  ``uint64`` ship-by, deliver-by, maturity, deadlines, valid-until and occurred-at times. The
  same holds inside the documents the API serves: each integer of a typed-data ``message`` (a
  decimal string is what ``eth_signTypedData_v4`` and ethers' ``TypedDataEncoder`` take for
  ``uint`` types) and a prepared transaction's ``value``, ``nonce``, ``gasLimit`` and fees.
* **JSON numbers** (the schema says ``maximum: 2^53 - 1``): integers bounded far below 2^53
  by what produces them — block numbers and log positions, the block times the contracts
  record (``createdAt``, ``fundedAt``, ...: a block's time is its producer's clock), the times
  this API stamps itself, chain ids (EIP-712 ``domain.chainId`` and a transaction's
  ``chainId`` stay numbers, as wallets compare them with their own; MetaMask refuses any chain
  id above 4503599627370476, EIP-2294's safe range), the transaction
  ``type``, enum codes, ``uint8`` to ``uint32`` values (grades, scores, child counts), basis
  points, sizes and counts; and a party's choice only where the request schema itself caps it
  below 2^53.

Requests take each wide integer as a decimal string, or as a JSON integer up to 2^53 - 1
(what clients written before this rule send); a larger JSON integer is refused with a 422
naming the field, because a JavaScript client would already have rounded it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from api.v1.declines import DeclineOut

UINT256_MAX = 2**256 - 1
#: ``Number.MAX_SAFE_INTEGER``: the largest integer every JSON reader holds exactly.
MAX_SAFE_INTEGER = 2**53 - 1
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DIGITS = re.compile(r"^[0-9]{1,78}$")
_DECIMAL = {"type": "string", "pattern": r"^[0-9]{1,78}$"}


def _checksummed(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    expected = to_checksum_address(value)
    if value != expected:
        raise ValueError(f"EIP-55 checksum does not match (did you mean {expected}?)")
    return expected


def _bound(limit: int) -> str:
    return f"2**{limit.bit_length()} - 1" if limit & (limit + 1) == 0 and limit > 1 else str(limit)


def _wide(low: int, high: int, what: str) -> Callable[[Any], int]:
    """The validator of a wide integer in a request: a decimal string, or a JSON integer a JavaScript client can
    have written exactly (up to 2^53 - 1), between ``low`` and ``high``."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f'must be {what} as a decimal string, e.g. "42"')
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value):
                raise ValueError("must be a decimal string of digits only (no sign, decimals, exponent or spaces)")
            value = int(value)
        elif value > MAX_SAFE_INTEGER:
            raise ValueError(
                "a JSON integer above 2**53 - 1 may already have been rounded by the client that wrote it: "
                "send it as a decimal string"
            )
        if not low <= value <= high:
            raise ValueError(f"must be at least {low} and at most {_bound(high)}")
        return value

    return parse


def _wide_schema(low: int, high: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [_DECIMAL, {"type": "integer", "minimum": low, "maximum": min(high, MAX_SAFE_INTEGER)}],
            "description": f"{description}; a decimal string (a JSON integer only up to 2**53 - 1)",
        }
    )


def _decimal(value: int) -> str:
    return str(value)


def _served(value: Any) -> int:
    # What the server itself produced: an int, or (from code that formats amounts) its decimal text.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or (isinstance(value, str) and not _DIGITS.fullmatch(value))
    ):
        raise ValueError("must be a non-negative integer")
    return int(value)


Address = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]),
    AfterValidator(_checksummed),
]
Amount = Annotated[
    int, PlainValidator(_wide(1, UINT256_MAX, "an amount in token units")), _wide_schema(1, UINT256_MAX, "token units")
]
#: A fee in token units (0 allowed): a pre-payment offer's (``api.v1.prepayments``).
Fee = Annotated[
    int, PlainValidator(_wide(0, UINT256_MAX, "a fee in token units")), _wide_schema(0, UINT256_MAX, "token units")
]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte r||s||v")]
#: A party's signature where the API checks it and keeps no copy: a key's 65-byte r||s||v, or a contract wallet's
#: ERC-1271 signature (a Safe's is 65 bytes per owner), which the wallet itself judges (``ledger.eth.signatures``).
WalletSignature = Annotated[
    str,
    Field(
        pattern=r"^0x(?:[0-9a-fA-F]{2}){65,2048}$",
        description="a key's 65-byte r||s||v, or a contract wallet's ERC-1271 signature (65 to 2048 bytes)",
    ),
]
#: A uint64 a party chooses (a time, a deadline).
Uint64 = Annotated[int, PlainValidator(_wide(0, 2**64 - 1, "a uint64")), _wide_schema(0, 2**64 - 1, "uint64")]
#: A party's uint256 nonce.
Nonce = Annotated[int, PlainValidator(_wide(0, UINT256_MAX, "a uint256")), _wide_schema(0, UINT256_MAX, "uint256")]
#: An order id in a request (0: none); the index keeps ids in 63 bits.
OrderRef = Annotated[
    int, PlainValidator(_wide(0, 2**63 - 1, "an order id")), _wide_schema(0, 2**63 - 1, "an order id, 0 for none")
]
#: A uint256 (or a party's uint64) in an answer: always a decimal string.
UintOut = Annotated[int, PlainValidator(_served), PlainSerializer(_decimal, return_type=str), WithJsonSchema(_DECIMAL)]
#: An integer in an answer that stays below 2^53 by construction (block numbers, block times, counts, codes).
SafeInt = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
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
    issuedAt: SafeInt
    expiresAt: SafeInt


class SignInIn(Request):
    nonce: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    signature: WalletSignature


class PartyOut(BaseModel):
    address: str
    roles: list[str]
    auditor: bool


class TokenOut(BaseModel):
    accessToken: str
    tokenType: str = "bearer"
    expiresAt: SafeInt
    party: PartyOut


# -- health --------------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: str
    chainId: SafeInt
    headBlock: SafeInt | None
    indexedBlock: SafeInt | None
    lagBlocks: SafeInt | None
    database: str
    contracts: dict[str, str]
    now: SafeInt | None = Field(
        default=None,
        description="UTC seconds the ledger's deadlines and maturities are measured against: the later of the API's "
        "clock and the indexed head's block time (a devnet's chain runs ahead of the wall); null without the index",
    )


# -- parties --------------------------------------------------------------------------------


class MemberOut(BaseModel):
    address: str
    roles: list[str]
    oracleKind: SafeInt
    status: str
    kycHash: str
    admittedAt: SafeInt
    updatedBlock: SafeInt


# -- orders ---------------------------------------------------------------------------------


class MilestoneOut(BaseModel):
    milestone: SafeInt
    name: str
    occurredAt: UintOut = Field(description="UTC seconds, as the oracles attested it (uint64, decimal)")
    recordedAt: SafeInt
    evidenceHash: str
    signers: list[str]
    statusAfter: str
    txHash: str


class DisputeOut(BaseModel):
    openedAt: SafeInt
    answerBy: SafeInt = Field(description="openedAt plus a window of at most a year")
    resolveBy: SafeInt
    answered: bool
    reasonHash: str
    responseHash: str
    resolvedAt: SafeInt | None
    resolution: SafeInt | None
    toBuyer: AmountOut | None
    toSupplier: AmountOut | None


class OrderOut(BaseModel):
    orderId: UintOut
    buyer: str
    supplier: str
    token: str
    amount: AmountOut
    shipBy: UintOut = Field(description="UTC seconds (uint64, decimal)")
    deliverBy: UintOut = Field(description="UTC seconds (uint64, decimal)")
    inspectionRequired: bool
    termsHash: str
    poRefHash: str
    openAccount: bool
    status: str
    createdAt: SafeInt
    fundedAt: SafeInt
    shippedAt: SafeInt
    deliveredAt: SafeInt
    closedAt: SafeInt
    escrowed: AmountOut
    prepaid: AmountOut
    paidToSupplier: AmountOut
    refundedToBuyer: AmountOut
    updatedBlock: SafeInt


class OrderDetailOut(OrderOut):
    milestones: list[MilestoneOut]
    dispute: DisputeOut | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    nextAfter: UintOut | None = Field(description="pass as ?after= for the next page; null on the last page")


# -- receivables ------------------------------------------------------------------------------


class PieceOut(BaseModel):
    pieceId: UintOut
    rootId: UintOut
    parentId: UintOut
    amount: AmountOut
    claimed: AmountOut
    ref: str
    childCount: SafeInt
    financed: bool
    holder: str
    createdAt: SafeInt
    updatedBlock: SafeInt


class ReceivableOut(BaseModel):
    rootId: UintOut
    debtor: str
    creditor: str
    token: str
    faceValue: AmountOut
    maturity: UintOut = Field(description="UTC seconds (uint64, decimal)")
    issuedAt: SafeInt
    defaultedAt: SafeInt
    invoiceHash: str
    fingerprint: str = Field(description="the invoice's keyed fingerprint (ledger/domain/FINGERPRINTS.md)")
    invoiceCommitment: str = Field(description="keccak256(salt || normalised invoice number), the parties' salt")
    orderId: UintOut = Field(description='the open-account order it pays, "0" for none')
    repaid: AmountOut
    claimed: AmountOut
    status: str
    updatedBlock: SafeInt


class ReceivableDetailOut(ReceivableOut):
    pieces: list[PieceOut] = Field(description="the pieces of the tree this party may see, parents first")


class ReceivablePage(BaseModel):
    items: list[ReceivableOut]
    nextAfter: UintOut | None


class PiecePage(BaseModel):
    items: list[PieceOut]
    nextAfter: UintOut | None


# -- writes: what to sign, and signed transactions ----------------------------------------------


class TransactionOut(BaseModel):
    """An unsigned EIP-1559 transaction with the field names and formats wallets take: hand it as it is to
    ethers v6 ``signer.signTransaction(tx)`` / ``sendTransaction(tx)`` (which check ``from`` against the
    signer). eth-account and web3.py name the gas limit ``gas`` and want integers: map it for them."""

    type: Literal[2] = Field(description="EIP-1559")
    chainId: SafeInt
    to: str
    data: str
    value: UintOut = Field(description='wei, decimal (always "0": ledger calls carry no value)')
    nonce: UintOut = Field(description="the sender's next nonce (pending), decimal")
    gasLimit: UintOut = Field(description="the simulation's gas with a margin, decimal")
    maxFeePerGas: UintOut = Field(description="wei per gas, decimal")
    maxPriorityFeePerGas: UintOut = Field(description="wei per gas, decimal")
    from_: str = Field(alias="from", description="the party that must sign it")

    model_config = ConfigDict(populate_by_name=True)


class PreparedOut(BaseModel):
    action: str
    transaction: TransactionOut = Field(description="sign this with your key, then POST it to submitUrl")
    submitUrl: str = "/v1/submissions"


class TypedDataOut(BaseModel):
    typedData: dict[str, Any] = Field(
        description="EIP-712 document for eth_signTypedData_v4: every integer of `message` is a decimal string, "
        "`domain.chainId` a number. For ethers v6 `signTypedData(domain, types, message)`, leave "
        "`EIP712Domain` out of `types` (ethers derives it from the domain)"
    )
    digest: str = Field(description="the EIP-712 digest the contract will check")


class IssueTypedDataOut(TypedDataOut):
    invoiceSalt: str | None = Field(None, description="the commitment's salt if the server chose it: keep it off chain")


class SubmissionIn(Request):
    """Exactly one of the two: the signed bytes for the API to broadcast (the relayer pays the gas), or the
    hash of a transaction the party broadcast itself (a browser wallet signs only by sending; no top-up)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["rawTransaction"]}, {"required": ["txHash"]}]})

    rawTransaction: Annotated[str, Field(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=131_074)] | None = None
    txHash: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")] | None = None


class OrderCreatedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orderId: UintOut


class ReceivableIssuedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rootId: UintOut
    pieceId: UintOut = Field(description="a root is the first piece of its tree: the same id")


class PiecesCreatedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pieceIds: list[UintOut] = Field(description="the new pieces, in the order of the split's children")


class PieceFinancedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pieceId: UintOut = Field(description="the piece the bank bought and now holds")


class SubmissionOut(BaseModel):
    id: str
    txHash: str
    contract: str
    function: str
    party: str
    status: str = Field(description="pending, mined or reverted")
    blockNumber: SafeInt | None
    indexed: bool = Field(description="the indexer has reached the block: the reads show the change")
    error: str | None
    created: OrderCreatedOut | ReceivableIssuedOut | PiecesCreatedOut | PieceFinancedOut | None = Field(
        default=None,
        description="once mined, what the transaction made, read from the ledger's events in its receipt: the "
        "order (createOrder, createOpenAccountOrder), the root (issue), the new pieces (split), the piece "
        "financed (finance); null while pending, when reverted, and for the other actions",
    )
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
    buyerSignature: WalletSignature
    supplierSignature: WalletSignature


class HashIn(Request):
    hash: Bytes32


class IssueTermsIn(Request):
    """The invoice goes on chain as ``fingerprint`` and ``invoiceCommitment`` (sent, or computed by a server holding
    the consortium key from ``invoiceNumber``, ``invoiceDate``, ``invoiceAmount``), never as its number."""

    debtor: Address
    creditor: Address
    faceValue: Amount
    maturity: Uint64
    invoiceHash: Bytes32
    fingerprint: Bytes32 | None = Field(None, description="HMAC-SHA256 under the consortium key (FINGERPRINTS.md)")
    invoiceCommitment: Bytes32 | None = Field(None, description="keccak256(salt || normalised invoice number)")
    invoiceNumber: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # never stored, never on chain
    invoiceAmount: Nonce | None = Field(None, description="the invoice's amount in token units (default: faceValue)")
    invoiceDate: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD, UTC")] | None = None
    invoiceSalt: Bytes32 | None = Field(None, description="the commitment's salt (default: derived under the key)")
    orderId: OrderRef
    nonce: Nonce
    deadline: Uint64


class IssueIn(Request):
    terms: IssueTermsIn
    debtorSignature: WalletSignature


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


#: How long a financing request stays open (``api.v1.financing``): by default, at least, at most (seconds).
REQUEST_TERM, REQUEST_TERM_MIN, REQUEST_TERM_MAX = 7 * 86_400, 60, 90 * 86_400
RequestState = Literal["open", "offered", "declined", "accepted", "expired", "withdrawn"]
#: A request's ``expiresIn``, of financing or pre-payment alike (``api.v1.request_book``): whole seconds in the term.
RequestTerm = Annotated[int, Field(strict=True, ge=REQUEST_TERM_MIN, le=REQUEST_TERM_MAX)]


class FinancingRequestIn(Request):
    bank: Address | None = Field(default=None, description="the bank asked; omitted or null: every active bank")
    expiresIn: RequestTerm = Field(
        default=REQUEST_TERM, description="seconds the request stays open (never past the receivable's maturity)"
    )


class FinancingRequestOut(BaseModel):
    id: str
    pieceId: UintOut
    holder: str
    bank: str | None = Field(description="the bank asked; null: every active bank")
    state: RequestState = Field(description="see api.v1.financing.state_of: withdrawn > accepted > expired > ...")
    createdAt: SafeInt
    expiresAt: SafeInt | None = Field(description="null: asked before requests expired (open while sellable)")
    withdrawnAt: SafeInt | None
    offers: SafeInt = Field(description="offers made under it that you may see (a bank: its own)")
    declines: list[DeclineOut] = Field(default=[], description="the reasons banks gave for no offer (api.v1.declines)")


class FinancingRequestPage(BaseModel):
    items: list[FinancingRequestOut]
    nextAfter: str | None = Field(description="pass as ?after= for the next page; null on the last page")


class OfferTermsIn(Request):
    price: Amount
    deadline: Uint64
    nonce: Nonce


class PricingIn(Request):
    """How the bank priced an offer, kept with it for audit; the offer's signed price stays authoritative."""

    policyHash: Bytes32 = Field(description="the pricing policy's hash (scoring.policy)")
    modelVersion: Bytes32 = Field(description="the scoring model's version hash")
    quote: dict[str, Any] = Field(description="scoring.pricing.Quote.to_json(), at most 16 KB; its price the offer's")


class PricingOut(BaseModel):
    policyHash: str
    modelVersion: str
    quote: dict[str, Any]
    asOfBlock: SafeInt | None = Field(default=None, description="the block its inputs were read at, if recorded")


class OfferIn(OfferTermsIn):
    signature: WalletSignature
    pricing: PricingIn | None = None


class OfferOut(BaseModel):
    id: str
    pieceId: UintOut
    holder: str
    bank: str
    price: AmountOut
    deadline: UintOut
    nonce: UintOut
    signature: str
    createdAt: SafeInt
    pricing: PricingOut | None = Field(default=None, description="how the bank priced it, if it said")


class BlockOut(BaseModel):
    number: SafeInt
    hash: str
    stateRoot: str


class ProofOut(BaseModel):
    """A piece's state with the EIP-1186 proof of every storage slot it is read from.

    Verify it without trusting this API: ``scf verify receivable ID --rpc YOUR_NODE --proof FILE``
    fetches block ``block.number`` from your node, checks its hash and state root, walks every
    proof up to that root and compares the proved values with ``claim``.
    """

    contract: str
    pieceId: UintOut
    block: BlockOut
    claim: dict[str, Any]
    proof: dict[str, Any] = Field(description="eth_getProof's answer for the contract and the slots")


# -- documents -------------------------------------------------------------------------------------


#: Unicode categories refused in a filename: controls, format characters (zero-width, bidi overrides that
#: disguise ``invoice\u202efdp.exe``), line and paragraph separators, surrogates, private use, unassigned.
_FILENAME_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
FILENAME_MAX_BYTES = 255


def _filename(value: str) -> str:
    if any(ch in "/\\" for ch in value):
        raise ValueError("must be a bare file name, without / or \\")
    if any(unicodedata.category(ch) in _FILENAME_REFUSED for ch in value):
        raise ValueError("must not contain control, format, separator or unassigned characters")
    if value.strip() in ("", ".", "..") or value != value.strip():
        raise ValueError("must be a name with no leading or trailing spaces, and not . or ..")
    if len(value.encode("utf-8", "surrogatepass")) > FILENAME_MAX_BYTES:
        raise ValueError(f"must be at most {FILENAME_MAX_BYTES} bytes in UTF-8")
    return value


#: A document's file name (``api.v1.document_schemas``): a bare name in any script, checked by ``_filename``.
Filename = Annotated[
    str,
    Field(
        min_length=1,
        max_length=FILENAME_MAX_BYTES,
        pattern=r"^[^/\\\x00-\x1f\x7f]+$",
        description="a bare name (no path), any script; no control characters; at most 255 bytes in UTF-8",
    ),
    AfterValidator(_filename),
]


class AnchorOut(BaseModel):
    kind: str
    id: UintOut = Field(description="the order or root id")


# -- audit -----------------------------------------------------------------------------------------


class AuditRunOut(BaseModel):
    id: str
    requestedBy: str
    state: str = Field(description="running, done or failed")
    createdAt: SafeInt
    finishedAt: SafeInt | None
    ok: bool | None = Field(description="the replay agrees with the chain (null until done)")
    report: dict[str, Any] | None = Field(description="the replay report (mismatches, counts, history digest)")
    error: str | None


# -- credit ----------------------------------------------------------------------------------------


class CreditLimitOut(BaseModel):
    bank: str
    party: str
    limit: AmountOut
    score: SafeInt
    grade: SafeInt
    modelHash: str
    validUntil: UintOut
    publishedAt: SafeInt
    revoked: bool
    updatedBlock: SafeInt


class ReasonOut(BaseModel):
    code: str = Field(
        description="stable code: a flag (DOUBLE_FINANCING, CIRCULAR_TRADING), a feature, or INSUFFICIENT_HISTORY"
    )
    text: str = Field(description="the reason in plain words")
    pointsLost: SafeInt | None = Field(
        description="points this feature cost against the population's typical "
        "(negative: points gained, in favourable; null for flags)"
    )


class DecisionOut(BaseModel):
    party: str
    status: str = Field(
        description="SCORED; INSUFFICIENT_HISTORY (too few verified deliveries to score); NOT_SCORED (a core "
        "enterprise: its record as a debtor instead). Without a score: no grade and a limit of 0"
    )
    score: SafeInt | None
    pdBps: SafeInt | None = Field(description="probability of default over the model's horizon, basis points")
    grade: str | None
    gradeCode: SafeInt = Field(description="the grade's code as CreditRegistry stores it (0: none)")
    limit: AmountOut
    reasons: list[ReasonOut] = Field(
        description="the top four reasons, flags first; then the features whose points fall below the population's "
        "typical points, by shortfall, each a fact with the party's and the typical value (pointsLost: the "
        "shortfall against typical; against the best bin only for a model that records no typical values, as the "
        "reason and the notes then say)"
    )
    favourable: list[ReasonOut] = Field(
        description="the features above the population's typical points, by surplus, in the same words (pointsLost: "
        "minus the points gained against typical); never an adverse reason; empty without a score"
    )
    flags: list[str]
    model: str = Field(description="the model's version hash (keccak256 of its canonical JSON)")
    chainId: SafeInt
    asOfBlock: SafeInt = Field(description="the decision uses events at or before this block, and nothing after")
    asOfTime: SafeInt = Field(description="that block's time, UTC seconds: the end of every window")
    notes: list[str]
    decisionHash: str = Field(description="keccak256 of the decision's canonical JSON (what `scf score --json` prints)")


class CreditHistoryOut(BaseModel):
    events: SafeInt = Field(description="ledger events at or before the as-of block")
    refusedCalls: SafeInt | None = Field(description="refused calls seen (null: the index cannot see them)")
    source: str


class CreditReportOut(BaseModel):
    decision: DecisionOut
    features: dict[str, dict[str, SafeInt | float | None]] = Field(
        description="every feature of the party, by trailing window (3m, 6m, 12m) and as of the block (asOf); "
        "null where there is nothing to measure"
    )
    modelFeatures: list[str] = Field(description="the features the model scores (the others are shown for context)")
    points: dict[str, SafeInt] = Field(description="points per model feature and the base (empty without a score)")
    history: CreditHistoryOut


class LimitEventOut(BaseModel):
    kind: Literal["published", "revoked"]
    bank: str
    party: str
    limit: AmountOut | None
    score: SafeInt | None
    grade: SafeInt | None
    modelHash: str | None
    validUntil: UintOut | None
    nonce: AmountOut | None
    submitter: str | None
    blockNumber: SafeInt
    logIndex: SafeInt
    txHash: str
    timestamp: SafeInt


class LimitHistoryPage(BaseModel):
    items: list[LimitEventOut]
    nextAfter: SafeInt | None = Field(description="pass as ?after= for the next page; null on the last page")


class EvaluationOut(BaseModel):
    servingModel: str | None = Field(description="the version hash of the model this API scores with")
    sameModel: bool = Field(description="whether the report evaluated the serving model")
    report: dict[str, Any] = Field(
        description="`scf score evaluate --json` as written: AUC, KS, Brier, calibration, coverage of tier-2/3 "
        "suppliers, both baselines; bad actors' addresses only for auditors"
    )


class ConsentTermsIn(Request):
    bank: Address = Field(description="the bank that may read your credit report")
    expiresAt: Uint64 = Field(description="UTC seconds; in the future and at most a year away")
    nonce: Nonce = Field(description="any uint256 you have not used in a consent before")


class ConsentIn(ConsentTermsIn):
    signature: WalletSignature = Field(description="your EIP-712 signature of the typed data served for these terms")


class ConsentOut(BaseModel):
    id: str
    supplier: str = Field(description="the party whose credit report the consent opens")
    bank: str
    expiresAt: SafeInt
    nonce: UintOut
    signature: str
    createdAt: SafeInt
    revokedAt: SafeInt | None
    state: Literal["active", "revoked", "expired"]


class ConsentPage(BaseModel):
    items: list[ConsentOut]
    nextAfter: SafeInt | None = Field(description="pass as ?after= for the next page; null on the last page")
