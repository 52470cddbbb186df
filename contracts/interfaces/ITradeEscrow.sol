// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ITradeEscrow
/// @notice Trade Assurance on chain. A purchase order co-signed by buyer and supplier
///         (EIP-712) is escrowed by the buyer, moved along by k-of-n oracle attestations
///         (shipped, delivered, inspection passed / failed) and ends paid out exactly once:
///         released to the supplier, refunded to the buyer, or split by a dispute.
///         Assured pre-payment lets a supplier draw part of a funded order early, up to the
///         limit a bank published in CreditRegistry and backed by that bank's guarantee pool.
/// @dev Windows are measured from when the chain accepted a milestone (block time), not from
///      the event time an oracle reports, so an old event cannot shorten the buyer's window.
interface ITradeEscrow {
    enum Status {
        NONE,
        CREATED,
        FUNDED,
        SHIPPED,
        DELIVERED,
        INSPECTED,
        DISPUTED,
        RELEASED,
        REFUNDED,
        SETTLED,
        CANCELLED
    }

    enum Milestone {
        NONE,
        SHIPPED,
        DELIVERED,
        INSPECTION_PASSED,
        INSPECTION_FAILED
    }

    /// @notice The purchase order both parties sign.
    /// @param poRefHash keccak256 of the purchase-order reference that logistics events quote
    /// @param nonce the buyer's order nonce: each value can be used once
    /// @param deadline last timestamp at which the signed order may be submitted
    struct OrderTerms {
        address buyer;
        address supplier;
        address token;
        uint256 amount;
        uint64 shipBy;
        uint64 deliverBy;
        bool inspectionRequired;
        bytes32 termsHash;
        bytes32 poRefHash;
        uint256 nonce;
        uint64 deadline;
    }

    /// @notice What the oracles sign for a milestone; `evidenceHash` is the GS1 EPCIS event hash.
    struct Attestation {
        uint256 orderId;
        Milestone milestone;
        uint64 occurredAt;
        bytes32 evidenceHash;
    }

    /// @notice What the oracles sign to declare the logistics event behind an attested milestone
    ///         erroneous (an EPCIS 2.0 `errorDeclaration` of that event).
    /// @param evidenceHash the GS1 EPCIS event hash the milestone was attested with; it names the
    ///        order and the milestone (see `evidenceOf`)
    /// @param reasonHash keccak256 of the declaration's reason (or of the declaring event's hash)
    /// @param declaredAt the declaration time (EPCIS `declarationTime`), UTC seconds
    struct ErrorDeclaration {
        bytes32 evidenceHash;
        bytes32 reasonHash;
        uint64 declaredAt;
    }

    /// @notice An order's full on-chain state.
    /// @param escrowed tokens the contract holds for this order now
    /// @param prepaid tokens released early to the supplier under a guarantee
    /// @param deliveredRecordedAt block time the DELIVERED attestation was accepted
    struct Order {
        OrderTerms terms;
        Status status;
        uint64 createdAt;
        uint64 fundedAt;
        uint64 shippedAt;
        uint64 deliveredAt;
        uint64 deliveredRecordedAt;
        uint64 inspectedAt;
        uint64 closedAt;
        uint256 escrowed;
        uint256 prepaid;
        address guarantor;
        uint256 paidToSupplier;
        uint256 refundedToBuyer;
        uint256 guaranteeClaimed;
    }

    struct Dispute {
        uint64 openedAt;
        uint64 answerBy;
        uint64 resolveBy;
        bool answered;
        bytes32 reasonHash;
        bytes32 responseHash;
    }

    struct Windows {
        uint64 claimWindow;
        uint64 answerWindow;
        uint64 resolveWindow;
        uint64 maxAttestationAge;
    }

    // -- errors --------------------------------------------------------------------------

    error TradeEscrowUnauthorized(address caller);
    error TradeEscrowNotParty(uint256 orderId, address caller);
    error TradeEscrowNotBuyer(uint256 orderId, address caller);
    error TradeEscrowNotSupplier(uint256 orderId, address caller);
    error TradeEscrowNotArbiter(address caller);
    error TradeEscrowNotGuarantor(address account);
    error TradeEscrowBuyerNotEligible(address buyer);
    error TradeEscrowSupplierNotEligible(address supplier);
    error TradeEscrowSelfTrade(address party);
    error TradeEscrowTokenNotAllowed(address token);
    error TradeEscrowInvalidAmount(uint256 amount);
    error TradeEscrowInvalidDates(uint64 shipBy, uint64 deliverBy, uint256 nowTimestamp);
    error TradeEscrowSignatureExpired(uint64 deadline, uint256 nowTimestamp);
    error TradeEscrowNonceUsed(address buyer, uint256 nonce);
    error TradeEscrowPoRefTaken(bytes32 poRefHash, uint256 orderId);
    error TradeEscrowMissingPoRef();
    error TradeEscrowMalleableSignature(uint256 index);
    error TradeEscrowInvalidSigner(address expected, address recovered);
    error TradeEscrowUnknownOrder(uint256 orderId);
    error TradeEscrowInvalidStatus(uint256 orderId, Status status);
    error TradeEscrowUnknownMilestone(uint8 milestone);
    error TradeEscrowMilestoneOutOfOrder(uint256 orderId, Milestone milestone, Status status);
    error TradeEscrowInspectionNotRequired(uint256 orderId);
    error TradeEscrowMilestoneAlreadyRecorded(uint256 orderId, Milestone milestone);
    error TradeEscrowMilestoneOutOfSequence(uint256 orderId, uint64 occurredAt, uint64 previousAt);
    error TradeEscrowEvidenceReused(bytes32 evidenceHash);
    error TradeEscrowAttestationFromFuture(uint64 occurredAt, uint256 nowTimestamp);
    error TradeEscrowStaleAttestation(uint64 occurredAt, uint64 maxAge, uint256 nowTimestamp);
    error TradeEscrowUnauthorizedOracle(address signer, uint8 kind);
    error TradeEscrowDuplicateSigner(address signer);
    error TradeEscrowQuorumNotMet(uint256 signers, uint256 threshold);
    error TradeEscrowInvalidThreshold(uint8 kind, uint256 threshold);
    error TradeEscrowShipByNotPassed(uint256 orderId, uint64 shipBy);
    error TradeEscrowClaimWindowOpen(uint256 orderId, uint64 endsAt);
    error TradeEscrowClaimWindowClosed(uint256 orderId, uint64 endedAt);
    error TradeEscrowDisputeWindowNotReached(uint256 orderId, uint64 deliverBy);
    error TradeEscrowAnswerWindowClosed(uint256 orderId, uint64 answerBy);
    error TradeEscrowDisputeStillOpen(uint256 orderId, uint64 answerBy, uint64 resolveBy);
    error TradeEscrowAlreadyAnswered(uint256 orderId);
    error TradeEscrowDisputeExpired(uint256 orderId, uint64 deadline);
    error TradeEscrowInvalidSplit(uint256 orderId, uint256 buyerAmount, uint256 amount);
    error TradeEscrowAlreadyPrepaid(uint256 orderId);
    error TradeEscrowPrepaymentCurrency(address token, address currency);
    error TradeEscrowLimitExceeded(address supplier, uint256 requested, uint256 available);
    error TradeEscrowPoolInsufficient(address guarantor, uint256 requested, uint256 available);
    error TradeEscrowShortfallExceeded(address supplier, uint256 amount, uint256 shortfall);
    error TradeEscrowInvalidWindows();
    error TradeEscrowOpenAccountOrder(uint256 orderId);
    error TradeEscrowEvidenceUnknown(bytes32 evidenceHash);

    // -- events --------------------------------------------------------------------------

    event OrderCreated(
        uint256 indexed orderId,
        address indexed buyer,
        address indexed supplier,
        address token,
        uint256 amount,
        uint64 shipBy,
        uint64 deliverBy,
        bool inspectionRequired,
        bytes32 termsHash,
        bytes32 poRefHash,
        uint256 nonce,
        address submitter
    );
    /// @notice Order `orderId` is on open-account terms: nothing is escrowed; once delivered
    ///         (and inspected when required) the buyer owes the supplier, e.g. by a receivable.
    event OpenAccountOrderCreated(uint256 indexed orderId, address indexed buyer, address indexed supplier);
    /// @param viaPermit true only when this call's permit was accepted by the token (false when
    ///        `fundWithPermit` fell back on an allowance the buyer already had)
    event OrderFunded(uint256 indexed orderId, address indexed buyer, uint256 amount, bool viaPermit);
    event OrderCancelled(uint256 indexed orderId, address indexed by);
    event MilestoneAttested(
        uint256 indexed orderId,
        Milestone indexed milestone,
        uint64 occurredAt,
        bytes32 evidenceHash,
        address[] signers,
        Status status
    );
    /// @notice A quorum of oracles of the milestone's kind declared the event behind it
    ///         erroneous; `DisputeOpened` for the order follows in the same transaction.
    event MilestoneContested(
        uint256 indexed orderId,
        Milestone indexed milestone,
        bytes32 evidenceHash,
        bytes32 reasonHash,
        uint64 declaredAt,
        address[] signers
    );
    event ReceiptConfirmed(uint256 indexed orderId, address indexed buyer);
    event OrderReleased(uint256 indexed orderId, address indexed supplier, uint256 amount, address by);
    event OrderRefunded(
        uint256 indexed orderId, address indexed buyer, uint256 fromEscrow, uint256 fromPool, uint8 reason
    );
    /// @param buyer the order's buyer, who opened the dispute or on whose behalf an oracle quorum's
    ///        `contestMilestone` opened it
    event DisputeOpened(uint256 indexed orderId, address indexed buyer, bytes32 reasonHash, uint64 answerBy, uint64 resolveBy);
    event DisputeAnswered(uint256 indexed orderId, address indexed supplier, bytes32 responseHash);
    event DisputeResolved(
        uint256 indexed orderId,
        uint256 toBuyer,
        uint256 toSupplier,
        uint256 fromPool,
        uint8 how,
        address by
    );
    event PrepaymentReleased(
        uint256 indexed orderId, address indexed supplier, address indexed guarantor, uint256 amount, uint256 limitLeft
    );
    event GuaranteeClaimed(uint256 indexed orderId, address indexed guarantor, address indexed supplier, uint256 amount);
    event ExposureReleased(address indexed guarantor, address indexed supplier, uint256 amount);
    event PoolFunded(address indexed guarantor, uint256 amount, uint256 available);
    event PoolWithdrawn(address indexed guarantor, uint256 amount, uint256 available);
    event ShortfallRepaid(address indexed supplier, address indexed guarantor, uint256 amount, uint256 remaining, address payer);
    event ThresholdSet(uint8 indexed kind, uint256 threshold, address admin);
    event WindowsSet(uint64 claimWindow, uint64 answerWindow, uint64 resolveWindow, uint64 maxAttestationAge, address admin);
    event TokenAllowed(address indexed token, bool allowed, address admin);

    // -- orders --------------------------------------------------------------------------

    /// @notice Records an order co-signed by buyer and supplier; either party submits it.
    function createOrder(OrderTerms calldata terms, bytes calldata buyerSignature, bytes calldata supplierSignature)
        external
        returns (uint256 orderId);

    /// @notice Records an open-account order (EIP-712 type `OpenAccountOrder`, same fields):
    ///         milestones are attested as usual but nothing is escrowed, released or refunded.
    function createOpenAccountOrder(
        OrderTerms calldata terms,
        bytes calldata buyerSignature,
        bytes calldata supplierSignature
    ) external returns (uint256 orderId);

    /// @notice The buyer escrows the amount from its allowance.
    function fund(uint256 orderId) external;

    /// @notice Escrows the amount with the buyer's EIP-2612 permit; anyone may submit it.
    function fundWithPermit(uint256 orderId, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Either party drops an order nobody funded.
    function cancelUnfunded(uint256 orderId) external;

    /// @notice Records a milestone signed by a quorum of oracles of the right kind. Event times
    ///         run in sequence: DELIVERED not before the recorded shipment, an inspection not
    ///         before the delivery (SHIPPED may predate the order: POs get signed after dispatch).
    function attest(Attestation calldata attestation, bytes[] calldata signatures) external;

    /// @notice The buyer confirms receipt: the escrow goes to the supplier now.
    function confirmReceipt(uint256 orderId) external;

    /// @notice Pays the supplier once delivery (and a passed inspection when required) is
    ///         attested and the buyer's claim window has closed without a dispute: strictly after
    ///         `deliveredRecordedAt + claimWindow`, the window's last second being the buyer's.
    function release(uint256 orderId) external;

    /// @notice Refunds the buyer when ship-by has passed with no SHIPPED attestation.
    function refundUnshipped(uint256 orderId) external;

    // -- disputes ------------------------------------------------------------------------

    /// @notice The buyer opens a dispute within the claim window after delivery (up to and
    ///         including `deliveredRecordedAt + claimWindow`), or after deliver-by when the goods
    ///         never arrived.
    function openDispute(uint256 orderId, bytes32 reasonHash) external;

    /// @notice Opens a dispute on the order of an attested milestone whose logistics event a quorum
    ///         of oracles of the milestone's kind declared erroneous; anyone may submit it. As
    ///         with `openDispute` the order must be SHIPPED, DELIVERED or INSPECTED (a closed or
    ///         already disputed order is not reopened) and not on open account, but the buyer's
    ///         claim window and deliver-by do not apply. `declaredAt` must be neither in the
    ///         future nor older than `maxAttestationAge`. The dispute then runs as the buyer's
    ///         would, with `reasonHash` as its reason.
    /// @dev No replay guard is needed: the order leaves those statuses for good, so a declaration
    ///      (and any other for the same order) is accepted at most once.
    function contestMilestone(ErrorDeclaration calldata declaration, bytes[] calldata signatures) external;

    /// @notice The supplier answers within the answer window.
    function answerDispute(uint256 orderId, bytes32 responseHash) external;

    /// @notice An arbiter splits the escrow: `buyerAmount` to the buyer, the rest to the supplier.
    ///         Refused once the dispute has expired (unanswered past `answerBy`, or past
    ///         `resolveBy`): then only `closeExpiredDispute` can end it, in the buyer's favour.
    function arbitrate(uint256 orderId, uint256 buyerAmount) external;

    /// @notice A split both parties signed (EIP-712 Settlement); anyone may submit it.
    ///         Refused once the dispute has expired, as `arbitrate` is.
    function settleDispute(
        uint256 orderId,
        uint256 buyerAmount,
        uint64 deadline,
        bytes calldata buyerSignature,
        bytes calldata supplierSignature
    ) external;

    /// @notice Refunds the buyer in full when the supplier did not answer in time or the
    ///         dispute was not resolved before its deadline.
    function closeExpiredDispute(uint256 orderId) external;

    // -- assured pre-payment -------------------------------------------------------------

    /// @notice The supplier, still an active SUPPLIER member, draws `amount` of a funded order
    ///         now, against `guarantor`'s limit and guarantee pool.
    function requestPrepayment(uint256 orderId, address guarantor, uint256 amount) external;

    /// @notice A bank adds currency to its guarantee pool.
    function fundPool(uint256 amount) external;

    /// @notice A bank takes back unreserved currency from its pool.
    function withdrawPool(uint256 amount) external;

    /// @notice Repays a supplier's recorded shortfall into the guarantor's pool; anyone may pay.
    function repayShortfall(address supplier, address guarantor, uint256 amount) external;

    // -- administration ------------------------------------------------------------------

    function setThreshold(uint8 kind, uint256 threshold) external;

    /// @notice Replaces the windows: each non-zero (resolve at least answer), none above 365 days.
    function setWindows(Windows calldata windows) external;

    function setTokenAllowed(address token, bool allowed) external;

    // -- views ---------------------------------------------------------------------------

    function orderOf(uint256 orderId) external view returns (Order memory);

    function disputeOf(uint256 orderId) external view returns (Dispute memory);

    /// @notice The one order quoting a purchase-order reference hash (0 when none).
    function orderIdOfPoRef(bytes32 poRefHash) external view returns (uint256);

    /// @notice True for an order created with `createOpenAccountOrder`.
    function isOpenAccount(uint256 orderId) external view returns (bool);

    function orderCount() external view returns (uint256);

    function nonceUsed(address buyer, uint256 nonce) external view returns (bool);

    function evidenceUsed(bytes32 evidenceHash) external view returns (bool);

    /// @notice The order and milestone `evidenceHash` was attested for ((0, NONE) when unused).
    function evidenceOf(bytes32 evidenceHash) external view returns (uint256 orderId, Milestone milestone);

    function threshold(uint8 kind) external view returns (uint256);

    function windows() external view returns (Windows memory);

    function tokenAllowed(address token) external view returns (bool);

    /// @notice `guarantor`'s limit for `supplier` less what is drawn and unpaid.
    function availableLimit(address guarantor, address supplier) external view returns (uint256);

    function exposure(address guarantor, address supplier) external view returns (uint256);

    function shortfall(address guarantor, address supplier) external view returns (uint256);

    /// @notice (available, reserved) currency in `guarantor`'s pool.
    function pool(address guarantor) external view returns (uint256 available, uint256 reserved);

    function membership() external view returns (address);

    function creditRegistry() external view returns (address);

    function orderDigest(OrderTerms calldata terms) external view returns (bytes32);

    function openAccountOrderDigest(OrderTerms calldata terms) external view returns (bytes32);

    function attestationDigest(Attestation calldata attestation) external view returns (bytes32);

    function errorDeclarationDigest(ErrorDeclaration calldata declaration) external view returns (bytes32);

    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
