// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMembership} from "./IMembership.sol";

/// @title ITradeEscrow
/// @notice Trade Assurance on chain. A purchase order co-signed by buyer and supplier
///         (EIP-712) is escrowed by the buyer, moved along by k-of-n oracle attestations
///         (shipped, delivered, inspection passed / failed) and ends paid out exactly once:
///         released to the supplier, refunded to the buyer, or split by a dispute.
///         Assured pre-payment lets a supplier draw part of a funded order early, up to the
///         limit a bank published in CreditRegistry and backed by that bank's guarantee pool,
///         on an offer the bank signed for that order (EIP-712 `PrepaymentOffer`) that prices
///         the guarantee with a fee the bank takes out of the draw.
/// @dev Windows are measured from when the chain accepted a milestone (block time), not from
///      the event time an oracle reports, so an old event cannot shorten the buyer's window.
///      Every enum here is ABI-encoded as `uint8`; selectors and event topics name `uint8`.
///      Parties sign as their address can: a party without code (a key) with ECDSA, low s only;
///      a party with code (a multisig such as a Safe, a smart account) by ERC-1271, its
///      `isValidSignature(digest, signature)` answering `0x1626ba7e` when the call is made
///      (a contract's answer can change, so it counts only then). Oracles are services with
///      keys: their quorum signatures are ECDSA only.
interface ITradeEscrow {
    /// @notice Where an order stands. CREATED (signed, nothing escrowed) → FUNDED → SHIPPED →
    ///         DELIVERED → INSPECTED (when inspection is required), then one final status:
    ///         RELEASED (escrow paid to the supplier), REFUNDED (paid back to the buyer),
    ///         SETTLED (a dispute split it) or CANCELLED (dropped unfunded, or an open-account
    ///         order whose inspection failed). DISPUTED holds the escrow until the dispute ends.
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

    /// @notice A logistics milestone oracles attest. SHIPPED and DELIVERED are signed by CARRIER
    ///         oracles, INSPECTION_PASSED and INSPECTION_FAILED by INSPECTOR oracles. NONE (0) is
    ///         never attested; `evidenceOf` answers it for an unused evidence hash.
    enum Milestone {
        NONE,
        SHIPPED,
        DELIVERED,
        INSPECTION_PASSED,
        INSPECTION_FAILED
    }

    /// @notice Why an order's escrow went back to the buyer outside a dispute (`OrderRefunded`).
    ///         UNSHIPPED: ship-by passed with no SHIPPED attestation (`refundUnshipped`).
    ///         INSPECTION_FAILED: an oracle quorum attested INSPECTION_FAILED. NONE (0) is never
    ///         emitted.
    enum RefundReason {
        NONE,
        UNSHIPPED,
        INSPECTION_FAILED
    }

    /// @notice How a dispute ended (`DisputeResolved`). ARBITER: an arbiter split the escrow
    ///         (`arbitrate`). SETTLEMENT: buyer and supplier signed a split (`settleDispute`).
    ///         UNANSWERED: the supplier did not answer by `answerBy`, so the buyer got everything
    ///         back (`closeExpiredDispute`). EXPIRED: nobody resolved it by `resolveBy`, so the
    ///         buyer got everything back (`closeExpiredDispute`). NONE (0) is never emitted.
    enum Resolution {
        NONE,
        ARBITER,
        SETTLEMENT,
        UNANSWERED,
        EXPIRED
    }

    /// @notice The purchase order both parties sign.
    /// @param buyer who pays into escrow (an active CORE or SUPPLIER member)
    /// @param supplier who ships and is paid (an active SUPPLIER member)
    /// @param token the ERC-20 the order is paid in; must be allowed (`tokenAllowed`)
    /// @param amount the order's price in the token's smallest unit
    /// @param shipBy last timestamp for the SHIPPED attestation; after it the buyer can be refunded
    /// @param deliverBy timestamp after which a shipped order that never arrived can be disputed
    /// @param inspectionRequired true when an INSPECTION_PASSED attestation must precede release
    /// @param termsHash hash of the off-chain commercial terms
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
    /// @param prepaid tokens drawn from the escrow early under a guarantee (the supplier's net
    ///        plus the guarantor's fee); the guarantee covers all of it
    /// @param guarantor the bank whose offer backs the pre-payment (zero when none)
    /// @param prepaymentFee the part of `prepaid` the guarantor took as its fee
    /// @param paidToSupplier tokens paid to the supplier so far (a pre-payment counts net of fee)
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
        uint256 prepaymentFee;
        uint256 paidToSupplier;
        uint256 refundedToBuyer;
        uint256 guaranteeClaimed;
    }

    /// @notice An order's dispute (all zero when none was opened).
    /// @param answerBy last timestamp for the supplier's answer
    /// @param resolveBy last timestamp for an arbiter's or a co-signed resolution
    /// @param reasonHash the buyer's (or the oracles' declaration's) reason
    /// @param responseHash the supplier's answer (0 until answered)
    struct Dispute {
        uint64 openedAt;
        uint64 answerBy;
        uint64 resolveBy;
        bool answered;
        bytes32 reasonHash;
        bytes32 responseHash;
    }

    /// @notice What a bank signs to back a pre-payment of order `orderId` and price it: the
    ///         supplier draws `amount` of the escrow now, `fee` of it goes to the bank and
    ///         `amount - fee` to the supplier, and the bank's pool guarantees all of `amount`.
    /// @param orderId the order the offer is for; the offer is good for no other order
    /// @param guarantor the bank that signs, whose limit and pool back the pre-payment
    /// @param amount tokens drawn from the escrow, the exposure and pool reservation it creates
    /// @param fee the bank's price for the guarantee, in token units; below `amount` (0 allowed)
    /// @param deadline last timestamp at which the offer may be accepted
    /// @param nonce the bank's pre-payment offer nonce: each value can be used once, on any order
    struct PrepaymentOffer {
        uint256 orderId;
        address guarantor;
        uint256 amount;
        uint256 fee;
        uint64 deadline;
        uint256 nonce;
    }

    /// @notice The time windows, in seconds.
    /// @param claimWindow how long after DELIVERED is recorded the buyer may open a dispute
    /// @param answerWindow how long the supplier has to answer a dispute
    /// @param resolveWindow how long after opening a dispute may still be resolved
    /// @param maxAttestationAge the oldest event (or declaration) time an oracle may report
    struct Windows {
        uint64 claimWindow;
        uint64 answerWindow;
        uint64 resolveWindow;
        uint64 maxAttestationAge;
    }

    // -- errors --------------------------------------------------------------------------

    /// @notice Only an active ADMIN member may change thresholds, windows or allowed tokens.
    /// @param caller the account that tried
    error TradeEscrowUnauthorized(address caller);
    /// @notice Only the order's buyer or supplier may do this (submit signed terms, cancel).
    /// @param orderId the order (0 when submitting terms: no order exists yet)
    /// @param caller the account that tried
    error TradeEscrowNotParty(uint256 orderId, address caller);
    /// @notice Only the order's buyer may do this (fund, confirm receipt, open a dispute, fall back
    ///         on its own allowance after a refused permit).
    /// @param orderId the order
    /// @param caller the account that tried
    error TradeEscrowNotBuyer(uint256 orderId, address caller);
    /// @notice Only the order's supplier may do this (answer a dispute, draw a pre-payment).
    /// @param orderId the order
    /// @param caller the account that tried
    error TradeEscrowNotSupplier(uint256 orderId, address caller);
    /// @notice Only an active ARBITER member may split a disputed escrow.
    /// @param caller the account that tried
    error TradeEscrowNotArbiter(address caller);
    /// @notice Guarantee pools and pre-payment guarantees are for active BANK members only.
    /// @param account the named guarantor, or the caller funding a pool
    error TradeEscrowNotGuarantor(address account);
    /// @notice The buyer must be an active CORE or SUPPLIER member when the order is created.
    /// @param buyer the order's buyer
    error TradeEscrowBuyerNotEligible(address buyer);
    /// @notice The supplier must be an active SUPPLIER member when the order is created and when
    ///         it draws a pre-payment.
    /// @param supplier the order's supplier
    error TradeEscrowSupplierNotEligible(address supplier);
    /// @notice Buyer and supplier are the same account.
    /// @param party that account
    error TradeEscrowSelfTrade(address party);
    /// @notice Orders cannot be paid in this token; an admin allows tokens with `setTokenAllowed`.
    /// @param token the token the terms name
    error TradeEscrowTokenNotAllowed(address token);
    /// @notice The amount is zero, or a pre-payment exceeds the order amount.
    /// @param amount the amount refused
    error TradeEscrowInvalidAmount(uint256 amount);
    /// @notice Ship-by must be in the future and deliver-by not before ship-by.
    /// @param shipBy the terms' ship-by
    /// @param deliverBy the terms' deliver-by
    /// @param nowTimestamp the block time of the refusal
    error TradeEscrowInvalidDates(uint64 shipBy, uint64 deliverBy, uint256 nowTimestamp);
    /// @notice The signed order (or dispute settlement) was submitted after its deadline; have it
    ///         signed again with a later deadline.
    /// @param deadline the signed deadline
    /// @param nowTimestamp the block time of the refusal
    error TradeEscrowSignatureExpired(uint64 deadline, uint256 nowTimestamp);
    /// @notice The buyer already used this order nonce; sign with a fresh one.
    /// @param buyer the order's buyer
    /// @param nonce the nonce already used
    error TradeEscrowNonceUsed(address buyer, uint256 nonce);
    /// @notice Another order already quotes this purchase-order reference.
    /// @param poRefHash the reference hash
    /// @param orderId the order that holds it
    error TradeEscrowPoRefTaken(bytes32 poRefHash, uint256 orderId);
    /// @notice The terms carry no purchase-order reference hash (zero), so no logistics event
    ///         could name the order.
    error TradeEscrowMissingPoRef();
    /// @notice A signature has its s value in the upper half of the curve order (a malleable
    ///         copy of a valid one); submit the canonical (low-s) form.
    /// @param index which signature: 0 buyer, 1 supplier for co-signed calls; 0 for a
    ///        pre-payment offer's guarantor; the position in `signatures` for an oracle quorum
    error TradeEscrowMalleableSignature(uint256 index);
    /// @notice A co-signed call's (or a pre-payment offer's) signature is not the expected party's:
    ///         it recovers to another key, or `expected` is a contract whose ERC-1271
    ///         `isValidSignature` refused it (answered otherwise than the magic value, or reverted).
    /// @param expected the buyer, supplier or guarantor who had to sign
    /// @param recovered who did sign (zero for a malformed signature, or when `expected` is a
    ///        contract that refused the signature)
    error TradeEscrowInvalidSigner(address expected, address recovered);
    /// @notice No order has this id.
    /// @param orderId the id asked for
    error TradeEscrowUnknownOrder(uint256 orderId);
    /// @notice The order is not in a status that allows this call.
    /// @param orderId the order
    /// @param status its current status
    error TradeEscrowInvalidStatus(uint256 orderId, Status status);
    /// @notice The attestation names no milestone (NONE).
    /// @param milestone the milestone named
    error TradeEscrowUnknownMilestone(Milestone milestone);
    /// @notice The milestone does not follow the order's current status: SHIPPED needs FUNDED
    ///         (CREATED on open account), DELIVERED needs SHIPPED, an inspection needs DELIVERED.
    /// @param orderId the order
    /// @param milestone the milestone attested
    /// @param status the order's current status
    error TradeEscrowMilestoneOutOfOrder(uint256 orderId, Milestone milestone, Status status);
    /// @notice An inspection was attested for an order whose terms require none.
    /// @param orderId the order
    error TradeEscrowInspectionNotRequired(uint256 orderId);
    /// @notice This milestone was already recorded for the order; each counts once.
    /// @param orderId the order
    /// @param milestone the milestone attested again
    error TradeEscrowMilestoneAlreadyRecorded(uint256 orderId, Milestone milestone);
    /// @notice The event time is earlier than the milestone before it (delivery before shipment,
    ///         inspection before delivery).
    /// @param orderId the order
    /// @param occurredAt the event time attested
    /// @param previousAt the event time of the previous milestone
    error TradeEscrowMilestoneOutOfSequence(uint256 orderId, uint64 occurredAt, uint64 previousAt);
    /// @notice This EPCIS event hash already backs a milestone; one event attests one milestone.
    /// @param evidenceHash the event hash
    error TradeEscrowEvidenceReused(bytes32 evidenceHash);
    /// @notice An oracle reported an event (or declaration) time later than the block time.
    /// @param occurredAt the time reported
    /// @param nowTimestamp the block time of the refusal
    error TradeEscrowAttestationFromFuture(uint64 occurredAt, uint256 nowTimestamp);
    /// @notice An oracle reported an event (or declaration) time older than `maxAttestationAge`.
    /// @param occurredAt the time reported
    /// @param maxAge the window's `maxAttestationAge`, in seconds
    /// @param nowTimestamp the block time of the refusal
    error TradeEscrowStaleAttestation(uint64 occurredAt, uint64 maxAge, uint256 nowTimestamp);
    /// @notice A quorum signature is not from an active oracle of the kind the milestone needs
    ///         (or does not recover at all).
    /// @param signer who signed (zero when the signature does not recover)
    /// @param kind the oracle kind required
    error TradeEscrowUnauthorizedOracle(address signer, IMembership.OracleKind kind);
    /// @notice The same oracle signed twice; each signer counts once towards the quorum.
    /// @param signer the oracle
    error TradeEscrowDuplicateSigner(address signer);
    /// @notice Too few oracle signatures for the milestone's kind.
    /// @param signers how many signed
    /// @param threshold how many are needed (`threshold(kind)`)
    error TradeEscrowQuorumNotMet(uint256 signers, uint256 threshold);
    /// @notice A threshold must be set for CARRIER, INSPECTOR or CUSTOMS (1, 2 or 3) and be at
    ///         least one.
    /// @param kind the oracle kind code given; stays a raw `uint8` because it may name no kind
    /// @param threshold the threshold given
    error TradeEscrowInvalidThreshold(uint8 kind, uint256 threshold);
    /// @notice A refund for non-shipment must wait until ship-by has passed.
    /// @param orderId the order
    /// @param shipBy its ship-by; a refund is possible strictly after it
    error TradeEscrowShipByNotPassed(uint256 orderId, uint64 shipBy);
    /// @notice Release must wait until the buyer's claim window has closed.
    /// @param orderId the order
    /// @param endsAt the window's last second (`deliveredRecordedAt + claimWindow`); release is
    ///        possible strictly after it
    error TradeEscrowClaimWindowOpen(uint256 orderId, uint64 endsAt);
    /// @notice The buyer's claim window after delivery has closed; no dispute can be opened.
    /// @param orderId the order
    /// @param endedAt the window's last second
    error TradeEscrowClaimWindowClosed(uint256 orderId, uint64 endedAt);
    /// @notice A shipped order that has not arrived can be disputed only after deliver-by.
    /// @param orderId the order
    /// @param deliverBy its deliver-by; a dispute is possible strictly after it
    error TradeEscrowDisputeWindowNotReached(uint256 orderId, uint64 deliverBy);
    /// @notice The supplier's time to answer the dispute has passed.
    /// @param orderId the order
    /// @param answerBy the last second to answer
    error TradeEscrowAnswerWindowClosed(uint256 orderId, uint64 answerBy);
    /// @notice The dispute has not expired yet: it can only be closed once the supplier has
    ///         missed `answerBy` or nobody resolved it by `resolveBy`.
    /// @param orderId the order
    /// @param answerBy the supplier's answer deadline
    /// @param resolveBy the resolution deadline
    error TradeEscrowDisputeStillOpen(uint256 orderId, uint64 answerBy, uint64 resolveBy);
    /// @notice The supplier already answered this dispute.
    /// @param orderId the order
    error TradeEscrowAlreadyAnswered(uint256 orderId);
    /// @notice The dispute has expired, so it cannot be split any more; `closeExpiredDispute`
    ///         refunds the buyer in full.
    /// @param orderId the order
    /// @param deadline the deadline that passed: `answerBy` when unanswered, else `resolveBy`
    error TradeEscrowDisputeExpired(uint256 orderId, uint64 deadline);
    /// @notice The buyer's share of a split exceeds the order amount.
    /// @param orderId the order
    /// @param buyerAmount the buyer's share asked for
    /// @param amount the order amount
    error TradeEscrowInvalidSplit(uint256 orderId, uint256 buyerAmount, uint256 amount);
    /// @notice The order already had its one pre-payment.
    /// @param orderId the order
    error TradeEscrowAlreadyPrepaid(uint256 orderId);
    /// @notice The pre-payment offer was accepted after its deadline; ask the bank for a new one.
    /// @param deadline the offer's deadline
    /// @param nowTimestamp the block time of the refusal
    error TradeEscrowPrepaymentOfferExpired(uint64 deadline, uint256 nowTimestamp);
    /// @notice The bank's pre-payment offer nonce was already used: an offer is accepted at most
    ///         once.
    /// @param guarantor the bank
    /// @param nonce the nonce already used
    error TradeEscrowPrepaymentOfferReplayed(address guarantor, uint256 nonce);
    /// @notice A pre-payment offer's fee must be below its amount, so the supplier receives
    ///         something.
    /// @param fee the offer's fee
    /// @param amount the offer's amount
    error TradeEscrowInvalidFee(uint256 fee, uint256 amount);
    /// @notice Pre-payment needs an order paid in the settlement currency the limits and pools
    ///         are kept in.
    /// @param token the order's token
    /// @param currency the settlement currency (CreditRegistry's `currency()`)
    error TradeEscrowPrepaymentCurrency(address token, address currency);
    /// @notice The pre-payment exceeds what is left of the supplier's limit from this guarantor.
    /// @param supplier the supplier
    /// @param requested the amount asked for
    /// @param available the limit less what is drawn and unpaid (`availableLimit`)
    error TradeEscrowLimitExceeded(address supplier, uint256 requested, uint256 available);
    /// @notice The guarantor's pool holds too little unreserved currency for this pre-payment
    ///         or withdrawal.
    /// @param guarantor the bank whose pool it is
    /// @param requested the amount asked for
    /// @param available the pool's unreserved currency
    error TradeEscrowPoolInsufficient(address guarantor, uint256 requested, uint256 available);
    /// @notice The repayment is zero or more than the supplier owes this guarantor.
    /// @param supplier the supplier
    /// @param amount the amount offered
    /// @param shortfall what the supplier owes the guarantor's pool
    error TradeEscrowShortfallExceeded(address supplier, uint256 amount, uint256 shortfall);
    /// @notice Windows must each be non-zero and at most 365 days, with resolve at least answer.
    error TradeEscrowInvalidWindows();
    /// @notice The order is on open account: nothing is escrowed, so it cannot be funded,
    ///         confirmed, released, disputed or contested.
    /// @param orderId the order
    error TradeEscrowOpenAccountOrder(uint256 orderId);
    /// @notice No milestone was attested with this EPCIS event hash, so there is nothing to contest.
    /// @param evidenceHash the event hash
    error TradeEscrowEvidenceUnknown(bytes32 evidenceHash);

    // -- events --------------------------------------------------------------------------

    /// @notice Order `orderId` was created from terms both parties signed (escrow or open account).
    /// @param orderId the new order's id
    /// @param buyer who pays
    /// @param supplier who ships and is paid
    /// @param token the payment token
    /// @param amount the order's price in token units
    /// @param shipBy last timestamp for the SHIPPED attestation
    /// @param deliverBy timestamp after which an undelivered shipment can be disputed
    /// @param inspectionRequired whether an inspection must pass before release
    /// @param termsHash hash of the off-chain commercial terms
    /// @param poRefHash keccak256 of the purchase-order reference
    /// @param nonce the buyer's order nonce, now used
    /// @param submitter the party that submitted the signed terms
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
    /// @param orderId the order (its `OrderCreated` comes first in the same transaction)
    /// @param buyer who owes
    /// @param supplier who is owed
    event OpenAccountOrderCreated(uint256 indexed orderId, address indexed buyer, address indexed supplier);
    /// @notice The buyer's `amount` is now held in escrow for order `orderId`.
    /// @param orderId the order, now FUNDED
    /// @param buyer who paid
    /// @param amount tokens escrowed
    /// @param viaPermit true only when this call's permit was accepted by the token (false when
    ///        `fundWithPermit` fell back on an allowance the buyer already had)
    event OrderFunded(uint256 indexed orderId, address indexed buyer, uint256 amount, bool viaPermit);
    /// @notice An unfunded order was dropped by one of its parties.
    /// @param orderId the order, now CANCELLED
    /// @param by the buyer or supplier who cancelled it
    event OrderCancelled(uint256 indexed orderId, address indexed by);
    /// @notice A quorum of oracles attested `milestone` for order `orderId`.
    /// @param orderId the order
    /// @param milestone the milestone recorded
    /// @param occurredAt the event time the oracles report (not the block time)
    /// @param evidenceHash the GS1 EPCIS event hash, now used
    /// @param signers the oracles whose signatures made the quorum, in submission order
    /// @param status the order's status after the milestone
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
    /// @param orderId the order
    /// @param milestone the milestone contested
    /// @param evidenceHash the event hash the milestone was attested with
    /// @param reasonHash keccak256 of the declaration's reason
    /// @param declaredAt the declaration time the oracles report
    /// @param signers the oracles whose signatures made the quorum
    event MilestoneContested(
        uint256 indexed orderId,
        Milestone indexed milestone,
        bytes32 evidenceHash,
        bytes32 reasonHash,
        uint64 declaredAt,
        address[] signers
    );
    /// @notice The buyer confirmed receipt; `OrderReleased` follows in the same transaction.
    /// @param orderId the order
    /// @param buyer the buyer
    event ReceiptConfirmed(uint256 indexed orderId, address indexed buyer);
    /// @notice The escrow was paid to the supplier and the order is RELEASED.
    /// @param orderId the order
    /// @param supplier who was paid
    /// @param amount tokens paid now (the escrow less any pre-payment already drawn)
    /// @param by who triggered the release (the buyer confirming, or anyone after the claim window)
    event OrderReleased(uint256 indexed orderId, address indexed supplier, uint256 amount, address by);
    /// @notice The buyer got the order amount back and the order is REFUNDED.
    /// @param orderId the order
    /// @param buyer who was refunded
    /// @param fromEscrow the part paid from the order's escrow
    /// @param fromPool the part paid from the guarantor's pool (a pre-payment the supplier drew)
    /// @param reason why: UNSHIPPED or INSPECTION_FAILED
    event OrderRefunded(
        uint256 indexed orderId, address indexed buyer, uint256 fromEscrow, uint256 fromPool, RefundReason reason
    );
    /// @notice A dispute was opened on order `orderId`, which is now DISPUTED.
    /// @param orderId the order
    /// @param buyer the order's buyer, who opened the dispute or on whose behalf an oracle quorum's
    ///        `contestMilestone` opened it
    /// @param reasonHash the buyer's reason (or the oracles' declaration's)
    /// @param answerBy last timestamp for the supplier's answer
    /// @param resolveBy last timestamp for a resolution
    event DisputeOpened(uint256 indexed orderId, address indexed buyer, bytes32 reasonHash, uint64 answerBy, uint64 resolveBy);
    /// @notice The supplier answered the dispute.
    /// @param orderId the order
    /// @param supplier the supplier
    /// @param responseHash hash of the supplier's off-chain answer
    event DisputeAnswered(uint256 indexed orderId, address indexed supplier, bytes32 responseHash);
    /// @notice The dispute ended and the order's money was split; the order is SETTLED (split by
    ///         arbiter or agreement) or REFUNDED (expired).
    /// @param orderId the order
    /// @param toBuyer the buyer's share
    /// @param toSupplier paid to the supplier now: its share less any pre-payment it drew (zero
    ///        when the pre-payment exceeds its share)
    /// @param fromPool the part of the buyer's share paid from the guarantor's pool
    /// @param how ARBITER, SETTLEMENT, UNANSWERED or EXPIRED
    /// @param by who submitted the resolution
    event DisputeResolved(
        uint256 indexed orderId, uint256 toBuyer, uint256 toSupplier, uint256 fromPool, Resolution how, address by
    );
    /// @notice The supplier drew `amount` of a funded order early on `guarantor`'s signed offer:
    ///         `amount - fee` went to the supplier and `fee` to the guarantor, both from the escrow.
    /// @param orderId the order
    /// @param supplier who was paid `amount - fee`
    /// @param guarantor the bank whose offer, limit and pool back the pre-payment; paid `fee`
    /// @param amount tokens drawn from the escrow, reserved in the guarantor's pool and added
    ///        to the supplier's exposure
    /// @param fee the guarantor's fee out of `amount`
    /// @param limitLeft the supplier's limit from this guarantor still available afterwards
    /// @param nonce the guarantor's pre-payment offer nonce, now used
    event PrepaymentReleased(
        uint256 indexed orderId,
        address indexed supplier,
        address indexed guarantor,
        uint256 amount,
        uint256 fee,
        uint256 limitLeft,
        uint256 nonce
    );
    /// @notice The guarantor's pool paid the buyer for a pre-payment the supplier did not earn;
    ///         the amount is recorded as the supplier's shortfall.
    /// @param orderId the order
    /// @param guarantor the bank whose pool paid
    /// @param supplier the supplier who now owes it
    /// @param amount tokens paid from the pool
    event GuaranteeClaimed(uint256 indexed orderId, address indexed guarantor, address indexed supplier, uint256 amount);
    /// @notice Part of the supplier's exposure to the guarantor ended (pre-payment earned, or
    ///         shortfall repaid) and the same amount of limit is free again.
    /// @param guarantor the bank
    /// @param supplier the supplier
    /// @param amount exposure released
    event ExposureReleased(address indexed guarantor, address indexed supplier, uint256 amount);
    /// @notice A bank added currency to its guarantee pool.
    /// @param guarantor the bank
    /// @param amount tokens added
    /// @param available the pool's unreserved currency afterwards
    event PoolFunded(address indexed guarantor, uint256 amount, uint256 available);
    /// @notice A bank took unreserved currency out of its guarantee pool.
    /// @param guarantor the bank
    /// @param amount tokens withdrawn
    /// @param available the pool's unreserved currency afterwards
    event PoolWithdrawn(address indexed guarantor, uint256 amount, uint256 available);
    /// @notice Someone repaid part of a supplier's shortfall into the guarantor's pool.
    /// @param supplier whose shortfall it is
    /// @param guarantor the bank whose pool was refilled
    /// @param amount tokens repaid
    /// @param remaining the shortfall still owed
    /// @param payer who paid
    event ShortfallRepaid(address indexed supplier, address indexed guarantor, uint256 amount, uint256 remaining, address payer);
    /// @notice The oracle quorum for `kind` is now `threshold` signatures.
    /// @param kind CARRIER, INSPECTOR or CUSTOMS
    /// @param threshold distinct oracle signatures needed
    /// @param admin who set it (the deployer for the initial thresholds of 1)
    event ThresholdSet(IMembership.OracleKind indexed kind, uint256 threshold, address admin);
    /// @notice The time windows changed (see `Windows`).
    /// @param claimWindow seconds after DELIVERED is recorded for the buyer to dispute
    /// @param answerWindow seconds for the supplier to answer a dispute
    /// @param resolveWindow seconds from opening to resolving a dispute
    /// @param maxAttestationAge oldest event time an oracle may report, in seconds
    /// @param admin who set them (the deployer for the initial windows)
    event WindowsSet(uint64 claimWindow, uint64 answerWindow, uint64 resolveWindow, uint64 maxAttestationAge, address admin);
    /// @notice Orders may (or may no longer) be paid in `token`; existing orders keep their token.
    /// @param token the token
    /// @param allowed whether new orders may use it
    /// @param admin who changed it (the deployer for the settlement currency)
    event TokenAllowed(address indexed token, bool allowed, address admin);

    // -- orders --------------------------------------------------------------------------

    /// @notice Records an order co-signed by buyer and supplier; either party submits it.
    ///         A party that is a contract wallet signs by ERC-1271 (see the contract's notes).
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
    /// @dev The settlement token's permit is ECDSA only: a contract-wallet buyer approves and
    ///      calls `fund` from the wallet instead.
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

    /// @notice The supplier, still an active SUPPLIER member, accepts `offer`, signed by
    ///         `offer.guarantor` (an active BANK member) and not past `offer.deadline`:
    ///         `offer.amount` of the funded order `offer.orderId` leaves the escrow now,
    ///         `offer.amount - offer.fee` to the supplier and `offer.fee` to the guarantor,
    ///         against the guarantor's limit and guarantee pool for the whole `offer.amount`.
    ///         When the buyer is later owed more than is left in escrow, the pool pays the
    ///         difference, up to `offer.amount`.
    function requestPrepayment(PrepaymentOffer calldata offer, bytes calldata guarantorSignature) external;

    /// @notice A bank adds currency to its guarantee pool.
    function fundPool(uint256 amount) external;

    /// @notice A bank takes back unreserved currency from its pool.
    function withdrawPool(uint256 amount) external;

    /// @notice Repays a supplier's recorded shortfall into the guarantor's pool; anyone may pay.
    function repayShortfall(address supplier, address guarantor, uint256 amount) external;

    // -- administration ------------------------------------------------------------------

    /// @notice Sets how many distinct oracles of `kind` (1 CARRIER, 2 INSPECTOR, 3 CUSTOMS) must
    ///         sign a milestone; admin only.
    /// @dev `kind` stays a raw `uint8` here: as an enum, an out-of-range value would be refused by
    ///      the ABI decoder with empty revert data instead of `TradeEscrowInvalidThreshold`.
    function setThreshold(uint8 kind, uint256 threshold) external;

    /// @notice Replaces the windows: each non-zero (resolve at least answer), none above 365 days.
    function setWindows(Windows calldata windows) external;

    /// @notice Allows or forbids `token` for new orders; admin only. Existing orders keep theirs.
    function setTokenAllowed(address token, bool allowed) external;

    // -- views ---------------------------------------------------------------------------

    /// @notice The order's full state (all zero, status NONE, for an unknown id).
    function orderOf(uint256 orderId) external view returns (Order memory);

    /// @notice The order's dispute (all zero when none was opened).
    function disputeOf(uint256 orderId) external view returns (Dispute memory);

    /// @notice The one order quoting a purchase-order reference hash (0 when none).
    function orderIdOfPoRef(bytes32 poRefHash) external view returns (uint256);

    /// @notice True for an order created with `createOpenAccountOrder`.
    function isOpenAccount(uint256 orderId) external view returns (bool);

    /// @notice The number of orders ever created (the last order id).
    function orderCount() external view returns (uint256);

    /// @notice True when `buyer` has already used order nonce `nonce`.
    function nonceUsed(address buyer, uint256 nonce) external view returns (bool);

    /// @notice True when an EPCIS event hash already backs a milestone.
    function evidenceUsed(bytes32 evidenceHash) external view returns (bool);

    /// @notice The order and milestone `evidenceHash` was attested for ((0, NONE) when unused).
    function evidenceOf(bytes32 evidenceHash) external view returns (uint256 orderId, Milestone milestone);

    /// @notice The oracle quorum for `kind` (0 for a code that names no kind).
    /// @dev A raw `uint8`, as in `setThreshold`: any code may be asked and answers 0 when unset.
    function threshold(uint8 kind) external view returns (uint256);

    /// @notice The current time windows.
    function windows() external view returns (Windows memory);

    /// @notice True when new orders may be paid in `token`.
    function tokenAllowed(address token) external view returns (bool);

    /// @notice `guarantor`'s limit for `supplier` less what is drawn and unpaid.
    function availableLimit(address guarantor, address supplier) external view returns (uint256);

    /// @notice Pre-payments `guarantor` backs for `supplier` that are not yet earned or repaid.
    function exposure(address guarantor, address supplier) external view returns (uint256);

    /// @notice True when `guarantor` has already used pre-payment offer nonce `nonce`.
    function prepaymentNonceUsed(address guarantor, uint256 nonce) external view returns (bool);

    /// @notice What `supplier` owes `guarantor`'s pool for pre-payments the pool refunded.
    function shortfall(address guarantor, address supplier) external view returns (uint256);

    /// @notice (available, reserved) currency in `guarantor`'s pool.
    function pool(address guarantor) external view returns (uint256 available, uint256 reserved);

    /// @notice The Membership registry consulted for every role.
    function membership() external view returns (address);

    /// @notice The CreditRegistry whose limits back assured pre-payment.
    function creditRegistry() external view returns (address);

    /// @notice The EIP-712 digest buyer and supplier sign for an escrow order (type `Order`).
    function orderDigest(OrderTerms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest buyer and supplier sign for an open-account order
    ///         (type `OpenAccountOrder`).
    function openAccountOrderDigest(OrderTerms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest each oracle signs for a milestone (type `Attestation`).
    function attestationDigest(Attestation calldata attestation) external view returns (bytes32);

    /// @notice The EIP-712 digest each oracle signs to contest a milestone (type `ErrorDeclaration`).
    function errorDeclarationDigest(ErrorDeclaration calldata declaration) external view returns (bytes32);

    /// @notice The EIP-712 digest a bank signs to offer a priced pre-payment guarantee (type
    ///         `PrepaymentOffer`).
    function prepaymentOfferDigest(PrepaymentOffer calldata offer) external view returns (bytes32);

    /// @notice EIP-712 domain separator of the escrow (name "TradeEscrow", version "1").
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
