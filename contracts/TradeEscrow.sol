// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ICreditRegistry} from "./interfaces/ICreditRegistry.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ITradeEscrow} from "./interfaces/ITradeEscrow.sol";
import {Roles} from "./Roles.sol";

/// @title TradeEscrow
/// @notice Trade Assurance escrow with oracle-attested milestones, disputes and assured
///         pre-payment. See ITradeEscrow for the rules.
/// @dev Every path that ends an order goes through `_payout`, which pays out exactly the
///      order's escrow plus any guarantee claimed, once: the token balance always equals the
///      open escrows plus the guarantee pools. A pre-payment takes its `amount` out of the
///      order's escrow and pays all of it out at once (net to the supplier, the fee to the
///      guarantor) while moving the same amount from the guarantor's available pool to its
///      reserved pool, so it keeps that equality too.
contract TradeEscrow is ITradeEscrow, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 private constant _ORDER_TYPEHASH = keccak256(
        "Order(address buyer,address supplier,address token,uint256 amount,uint64 shipBy,uint64 deliverBy,bool inspectionRequired,bytes32 termsHash,bytes32 poRefHash,uint256 nonce,uint64 deadline)"
    );
    bytes32 private constant _OPEN_ACCOUNT_ORDER_TYPEHASH = keccak256(
        "OpenAccountOrder(address buyer,address supplier,address token,uint256 amount,uint64 shipBy,uint64 deliverBy,bool inspectionRequired,bytes32 termsHash,bytes32 poRefHash,uint256 nonce,uint64 deadline)"
    );
    bytes32 private constant _ATTESTATION_TYPEHASH =
        keccak256("Attestation(uint256 orderId,uint8 milestone,uint64 occurredAt,bytes32 evidenceHash)");
    bytes32 private constant _ERROR_DECLARATION_TYPEHASH =
        keccak256("ErrorDeclaration(bytes32 evidenceHash,bytes32 reasonHash,uint64 declaredAt)");
    bytes32 private constant _SETTLEMENT_TYPEHASH =
        keccak256("Settlement(uint256 orderId,uint256 buyerAmount,uint64 deadline)");
    bytes32 private constant _PREPAYMENT_OFFER_TYPEHASH = keccak256(
        "PrepaymentOffer(uint256 orderId,address guarantor,uint256 amount,uint256 fee,uint64 deadline,uint256 nonce)"
    );

    uint64 private constant _MAX_WINDOW = 365 days;

    /// @dev What an evidence hash was attested for (milestone NONE: never used). One slot: order
    ///      ids count up from 1 by one per order and never reach 2^64.
    struct EvidenceUse {
        uint64 orderId;
        Milestone milestone;
    }

    IMembership private immutable _membership;
    ICreditRegistry private immutable _registry;
    IERC20 private immutable _currency;

    uint256 private _orderCount;
    mapping(uint256 orderId => Order) private _orders;
    mapping(uint256 orderId => Dispute) private _disputes;
    mapping(uint256 orderId => bool) private _openAccount;
    mapping(bytes32 poRefHash => uint256 orderId) private _orderIdOfPoRef;
    mapping(address buyer => mapping(uint256 nonce => bool)) private _nonceUsed;
    mapping(bytes32 evidenceHash => EvidenceUse) private _evidence;
    // Keyed by the raw kind code, as `setThreshold` and `threshold` take it (see ITradeEscrow).
    mapping(uint8 kind => uint256) private _thresholds;
    mapping(address token => bool) private _tokenAllowed;
    mapping(address guarantor => uint256) private _poolAvailable;
    mapping(address guarantor => uint256) private _poolReserved;
    mapping(address guarantor => mapping(address supplier => uint256)) private _exposure;
    mapping(address guarantor => mapping(address supplier => uint256)) private _shortfall;
    mapping(address guarantor => mapping(uint256 nonce => bool)) private _prepaymentNonceUsed;
    Windows private _windows;

    constructor(IMembership membership_, ICreditRegistry registry_) EIP712("TradeEscrow", "1") {
        _membership = membership_;
        _registry = registry_;
        _currency = IERC20(registry_.currency());
        _tokenAllowed[address(_currency)] = true;
        emit TokenAllowed(address(_currency), true, msg.sender);
        for (uint8 kind = uint8(IMembership.OracleKind.CARRIER); kind <= uint8(IMembership.OracleKind.CUSTOMS); kind++) {
            _thresholds[kind] = 1;
            emit ThresholdSet(IMembership.OracleKind(kind), 1, msg.sender);
        }
        _windows = Windows({
            claimWindow: 30 days,
            answerWindow: 3 days,
            resolveWindow: 15 days,
            maxAttestationAge: 30 days
        });
        emit WindowsSet(30 days, 3 days, 15 days, 30 days, msg.sender);
    }

    modifier onlyAdmin() {
        if (!_membership.hasRole(msg.sender, Roles.ADMIN)) revert TradeEscrowUnauthorized(msg.sender);
        _;
    }

    // -- orders --------------------------------------------------------------------------

    /// @inheritdoc ITradeEscrow
    function createOrder(OrderTerms calldata terms, bytes calldata buyerSignature, bytes calldata supplierSignature)
        external
        returns (uint256 orderId)
    {
        orderId = _create(terms, _ORDER_TYPEHASH, buyerSignature, supplierSignature);
    }

    /// @inheritdoc ITradeEscrow
    function createOpenAccountOrder(
        OrderTerms calldata terms,
        bytes calldata buyerSignature,
        bytes calldata supplierSignature
    ) external returns (uint256 orderId) {
        // A distinct type hash: an escrow order's signatures cannot be replayed as open account.
        orderId = _create(terms, _OPEN_ACCOUNT_ORDER_TYPEHASH, buyerSignature, supplierSignature);
        _openAccount[orderId] = true;
        emit OpenAccountOrderCreated(orderId, terms.buyer, terms.supplier);
    }

    /// @inheritdoc ITradeEscrow
    function fund(uint256 orderId) external nonReentrant {
        Order storage order = _expect(orderId, Status.CREATED);
        _refuseOpenAccount(orderId);
        if (msg.sender != order.terms.buyer) revert TradeEscrowNotBuyer(orderId, msg.sender);
        _fund(orderId, order, false);
    }

    /// @inheritdoc ITradeEscrow
    function fundWithPermit(uint256 orderId, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        Order storage order = _expect(orderId, Status.CREATED);
        _refuseOpenAccount(orderId);
        // A permit seen in the mempool can be submitted to the token first; then it is spent
        // but the allowance exists. Only the buyer may fall back on that allowance: anyone
        // else would be funding the buyer's order without the buyer's consent.
        bool permitted = false; // true only once the token accepted this permit
        try IERC20Permit(order.terms.token).permit(
            order.terms.buyer, address(this), order.terms.amount, deadline, v, r, s
        ) {
            permitted = true;
        } catch {
            if (msg.sender != order.terms.buyer) revert TradeEscrowNotBuyer(orderId, msg.sender);
        }
        _fund(orderId, order, permitted);
    }

    /// @inheritdoc ITradeEscrow
    function cancelUnfunded(uint256 orderId) external {
        Order storage order = _expect(orderId, Status.CREATED);
        if (msg.sender != order.terms.buyer && msg.sender != order.terms.supplier) {
            revert TradeEscrowNotParty(orderId, msg.sender);
        }
        order.status = Status.CANCELLED;
        order.closedAt = uint64(block.timestamp);
        emit OrderCancelled(orderId, msg.sender);
    }

    /// @inheritdoc ITradeEscrow
    function attest(Attestation calldata attestation, bytes[] calldata signatures) external nonReentrant {
        uint256 orderId = attestation.orderId;
        Order storage order = _existing(orderId);
        Milestone milestone = attestation.milestone;
        IMembership.OracleKind kind = _oracleKindFor(milestone);
        _requireRecent(attestation.occurredAt);
        if (_evidence[attestation.evidenceHash].milestone != Milestone.NONE) {
            revert TradeEscrowEvidenceReused(attestation.evidenceHash);
        }
        _checkMilestone(orderId, order, milestone, attestation.occurredAt);
        address[] memory signers = _recoverQuorum(_attestationDigest(attestation), signatures, kind);

        // orderId <= _orderCount (the order exists), far below 2^64.
        _evidence[attestation.evidenceHash] = EvidenceUse(uint64(orderId), milestone);
        if (milestone == Milestone.SHIPPED) {
            order.shippedAt = attestation.occurredAt;
            order.status = Status.SHIPPED;
        } else if (milestone == Milestone.DELIVERED) {
            order.deliveredAt = attestation.occurredAt;
            order.deliveredRecordedAt = uint64(block.timestamp);
            order.status = Status.DELIVERED;
        } else {
            order.inspectedAt = attestation.occurredAt;
            bool passed = milestone == Milestone.INSPECTION_PASSED;
            // Rejected goods on open account: nothing was escrowed and nothing is owed.
            order.status = passed ? Status.INSPECTED : (_openAccount[orderId] ? Status.CANCELLED : Status.REFUNDED);
            if (!passed && _openAccount[orderId]) order.closedAt = uint64(block.timestamp);
        }
        emit MilestoneAttested(
            orderId, milestone, attestation.occurredAt, attestation.evidenceHash, signers, order.status
        );
        if (order.status == Status.REFUNDED) _refund(orderId, order, RefundReason.INSPECTION_FAILED);
    }

    /// @inheritdoc ITradeEscrow
    function confirmReceipt(uint256 orderId) external nonReentrant {
        Order storage order = _existing(orderId);
        _refuseOpenAccount(orderId);
        if (msg.sender != order.terms.buyer) revert TradeEscrowNotBuyer(orderId, msg.sender);
        Status status = order.status;
        if (status != Status.SHIPPED && status != Status.DELIVERED && status != Status.INSPECTED) {
            revert TradeEscrowInvalidStatus(orderId, status);
        }
        emit ReceiptConfirmed(orderId, msg.sender);
        _release(orderId, order);
    }

    /// @inheritdoc ITradeEscrow
    function release(uint256 orderId) external nonReentrant {
        Order storage order = _existing(orderId);
        _refuseOpenAccount(orderId);
        Status status = order.status;
        bool ready = status == Status.INSPECTED || (status == Status.DELIVERED && !order.terms.inspectionRequired);
        if (!ready) revert TradeEscrowInvalidStatus(orderId, status);
        uint64 endsAt = order.deliveredRecordedAt + _windows.claimWindow;
        // The window's last second (now == endsAt) still belongs to the buyer's dispute.
        if (block.timestamp <= endsAt) revert TradeEscrowClaimWindowOpen(orderId, endsAt);
        _release(orderId, order);
    }

    /// @inheritdoc ITradeEscrow
    function refundUnshipped(uint256 orderId) external nonReentrant {
        Order storage order = _expect(orderId, Status.FUNDED);
        if (block.timestamp <= order.terms.shipBy) revert TradeEscrowShipByNotPassed(orderId, order.terms.shipBy);
        order.status = Status.REFUNDED;
        _refund(orderId, order, RefundReason.UNSHIPPED);
    }

    // -- disputes ------------------------------------------------------------------------

    /// @inheritdoc ITradeEscrow
    function openDispute(uint256 orderId, bytes32 reasonHash) external {
        Order storage order = _existing(orderId);
        _refuseOpenAccount(orderId);
        if (msg.sender != order.terms.buyer) revert TradeEscrowNotBuyer(orderId, msg.sender);
        Status status = order.status;
        if (status == Status.DELIVERED || status == Status.INSPECTED) {
            uint64 endsAt = order.deliveredRecordedAt + _windows.claimWindow;
            if (block.timestamp > endsAt) revert TradeEscrowClaimWindowClosed(orderId, endsAt);
        } else if (status == Status.SHIPPED) {
            // Goods that never arrive: the buyer may claim once deliver-by has passed.
            if (block.timestamp <= order.terms.deliverBy) {
                revert TradeEscrowDisputeWindowNotReached(orderId, order.terms.deliverBy);
            }
        } else {
            revert TradeEscrowInvalidStatus(orderId, status);
        }
        _openDispute(orderId, order, reasonHash);
    }

    /// @inheritdoc ITradeEscrow
    function contestMilestone(ErrorDeclaration calldata declaration, bytes[] calldata signatures) external {
        EvidenceUse memory use = _evidence[declaration.evidenceHash];
        if (use.milestone == Milestone.NONE) revert TradeEscrowEvidenceUnknown(declaration.evidenceHash);
        _requireRecent(declaration.declaredAt);
        uint256 orderId = use.orderId;
        _refuseOpenAccount(orderId);
        Order storage order = _orders[orderId];
        Status status = order.status;
        // No claim window here: an oracle quorum retracting its own evidence outranks a buyer's claim.
        if (status != Status.SHIPPED && status != Status.DELIVERED && status != Status.INSPECTED) {
            revert TradeEscrowInvalidStatus(orderId, status);
        }
        address[] memory signers =
            _recoverQuorum(_errorDeclarationDigest(declaration), signatures, _oracleKindFor(use.milestone));
        emit MilestoneContested(
            orderId, use.milestone, declaration.evidenceHash, declaration.reasonHash, declaration.declaredAt, signers
        );
        _openDispute(orderId, order, declaration.reasonHash);
    }

    /// @inheritdoc ITradeEscrow
    function answerDispute(uint256 orderId, bytes32 responseHash) external {
        Order storage order = _expect(orderId, Status.DISPUTED);
        if (msg.sender != order.terms.supplier) revert TradeEscrowNotSupplier(orderId, msg.sender);
        Dispute storage dispute = _disputes[orderId];
        if (dispute.answered) revert TradeEscrowAlreadyAnswered(orderId);
        if (block.timestamp > dispute.answerBy) revert TradeEscrowAnswerWindowClosed(orderId, dispute.answerBy);
        dispute.answered = true;
        dispute.responseHash = responseHash;
        emit DisputeAnswered(orderId, msg.sender, responseHash);
    }

    /// @inheritdoc ITradeEscrow
    function arbitrate(uint256 orderId, uint256 buyerAmount) external nonReentrant {
        if (!_membership.hasRole(msg.sender, Roles.ARBITER)) revert TradeEscrowNotArbiter(msg.sender);
        Order storage order = _expect(orderId, Status.DISPUTED);
        _requireUnexpired(orderId);
        _resolve(orderId, order, buyerAmount, Status.SETTLED, Resolution.ARBITER);
    }

    /// @inheritdoc ITradeEscrow
    function settleDispute(
        uint256 orderId,
        uint256 buyerAmount,
        uint64 deadline,
        bytes calldata buyerSignature,
        bytes calldata supplierSignature
    ) external nonReentrant {
        Order storage order = _expect(orderId, Status.DISPUTED);
        _requireUnexpired(orderId);
        if (deadline < block.timestamp) revert TradeEscrowSignatureExpired(deadline, block.timestamp);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(_SETTLEMENT_TYPEHASH, orderId, buyerAmount, deadline)));
        _requireSigner(digest, buyerSignature, order.terms.buyer, 0);
        _requireSigner(digest, supplierSignature, order.terms.supplier, 1);
        _resolve(orderId, order, buyerAmount, Status.SETTLED, Resolution.SETTLEMENT);
    }

    /// @inheritdoc ITradeEscrow
    function closeExpiredDispute(uint256 orderId) external nonReentrant {
        Order storage order = _expect(orderId, Status.DISPUTED);
        Dispute storage dispute = _disputes[orderId];
        Resolution how;
        if (!dispute.answered && block.timestamp > dispute.answerBy) {
            how = Resolution.UNANSWERED;
        } else if (block.timestamp > dispute.resolveBy) {
            how = Resolution.EXPIRED;
        } else {
            revert TradeEscrowDisputeStillOpen(orderId, dispute.answerBy, dispute.resolveBy);
        }
        _resolve(orderId, order, order.terms.amount, Status.REFUNDED, how);
    }

    // -- assured pre-payment -------------------------------------------------------------

    /// @inheritdoc ITradeEscrow
    function requestPrepayment(PrepaymentOffer calldata offer, bytes calldata guarantorSignature)
        external
        nonReentrant
    {
        (Order storage order, uint256 available) = _checkPrepaymentOffer(offer);
        address guarantor = offer.guarantor;
        _requireSigner(_prepaymentOfferDigest(offer), guarantorSignature, guarantor, 0);

        address supplier = order.terms.supplier;
        uint256 amount = offer.amount;
        uint256 fee = offer.fee;
        _prepaymentNonceUsed[guarantor][offer.nonce] = true;
        // The whole `amount` leaves the escrow and is guaranteed; the fee is the bank's share of it.
        order.prepaid = amount;
        order.guarantor = guarantor;
        order.prepaymentFee = fee;
        order.escrowed -= amount;
        order.paidToSupplier = amount - fee;
        _exposure[guarantor][supplier] += amount;
        _poolAvailable[guarantor] -= amount;
        _poolReserved[guarantor] += amount;
        emit PrepaymentReleased(offer.orderId, supplier, guarantor, amount, fee, available - amount, offer.nonce);
        _currency.safeTransfer(supplier, amount - fee);
        if (fee != 0) _currency.safeTransfer(guarantor, fee);
    }

    /// @inheritdoc ITradeEscrow
    function fundPool(uint256 amount) external nonReentrant {
        if (!_membership.hasRole(msg.sender, Roles.BANK)) revert TradeEscrowNotGuarantor(msg.sender);
        if (amount == 0) revert TradeEscrowInvalidAmount(amount);
        uint256 available = _poolAvailable[msg.sender] + amount;
        _poolAvailable[msg.sender] = available;
        emit PoolFunded(msg.sender, amount, available);
        _currency.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ITradeEscrow
    function withdrawPool(uint256 amount) external nonReentrant {
        uint256 available = _poolAvailable[msg.sender];
        if (amount == 0) revert TradeEscrowInvalidAmount(amount);
        if (amount > available) revert TradeEscrowPoolInsufficient(msg.sender, amount, available);
        _poolAvailable[msg.sender] = available - amount;
        emit PoolWithdrawn(msg.sender, amount, available - amount);
        _currency.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ITradeEscrow
    function repayShortfall(address supplier, address guarantor, uint256 amount) external nonReentrant {
        uint256 owed = _shortfall[guarantor][supplier];
        if (amount == 0 || amount > owed) revert TradeEscrowShortfallExceeded(supplier, amount, owed);
        _shortfall[guarantor][supplier] = owed - amount;
        _exposure[guarantor][supplier] -= amount;
        _poolAvailable[guarantor] += amount;
        emit ShortfallRepaid(supplier, guarantor, amount, owed - amount, msg.sender);
        emit ExposureReleased(guarantor, supplier, amount);
        _currency.safeTransferFrom(msg.sender, address(this), amount);
    }

    // -- administration ------------------------------------------------------------------

    /// @inheritdoc ITradeEscrow
    function setThreshold(uint8 kind, uint256 threshold_) external onlyAdmin {
        if (kind == 0 || kind > uint8(IMembership.OracleKind.CUSTOMS) || threshold_ == 0) {
            revert TradeEscrowInvalidThreshold(kind, threshold_);
        }
        _thresholds[kind] = threshold_;
        // In range now (checked above), so the conversion cannot panic.
        emit ThresholdSet(IMembership.OracleKind(kind), threshold_, msg.sender);
    }

    /// @inheritdoc ITradeEscrow
    function setWindows(Windows calldata w) external onlyAdmin {
        // At most 365 days each: `deliveredRecordedAt + claimWindow` and `now + resolveWindow`
        // then never overflow uint64.
        if (
            w.claimWindow == 0 || w.answerWindow == 0 || w.resolveWindow < w.answerWindow || w.maxAttestationAge == 0
                || w.claimWindow > _MAX_WINDOW || w.answerWindow > _MAX_WINDOW || w.resolveWindow > _MAX_WINDOW
                || w.maxAttestationAge > _MAX_WINDOW
        ) revert TradeEscrowInvalidWindows();
        _windows = w;
        emit WindowsSet(w.claimWindow, w.answerWindow, w.resolveWindow, w.maxAttestationAge, msg.sender);
    }

    /// @inheritdoc ITradeEscrow
    function setTokenAllowed(address token, bool allowed) external onlyAdmin {
        _tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed, msg.sender);
    }

    // -- views ---------------------------------------------------------------------------

    /// @inheritdoc ITradeEscrow
    function orderOf(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    /// @inheritdoc ITradeEscrow
    function disputeOf(uint256 orderId) external view returns (Dispute memory) {
        return _disputes[orderId];
    }

    /// @inheritdoc ITradeEscrow
    function orderIdOfPoRef(bytes32 poRefHash) external view returns (uint256) {
        return _orderIdOfPoRef[poRefHash];
    }

    /// @inheritdoc ITradeEscrow
    function orderCount() external view returns (uint256) {
        return _orderCount;
    }

    /// @inheritdoc ITradeEscrow
    function nonceUsed(address buyer, uint256 nonce) external view returns (bool) {
        return _nonceUsed[buyer][nonce];
    }

    /// @inheritdoc ITradeEscrow
    function evidenceUsed(bytes32 evidenceHash) external view returns (bool) {
        return _evidence[evidenceHash].milestone != Milestone.NONE;
    }

    /// @inheritdoc ITradeEscrow
    function evidenceOf(bytes32 evidenceHash) external view returns (uint256 orderId, Milestone milestone) {
        EvidenceUse memory use = _evidence[evidenceHash];
        return (use.orderId, use.milestone);
    }

    /// @inheritdoc ITradeEscrow
    function threshold(uint8 kind) external view returns (uint256) {
        return _thresholds[kind];
    }

    /// @inheritdoc ITradeEscrow
    function windows() external view returns (Windows memory) {
        return _windows;
    }

    /// @inheritdoc ITradeEscrow
    function tokenAllowed(address token) external view returns (bool) {
        return _tokenAllowed[token];
    }

    /// @inheritdoc ITradeEscrow
    function availableLimit(address guarantor, address supplier) external view returns (uint256) {
        return _availableLimit(guarantor, supplier);
    }

    /// @inheritdoc ITradeEscrow
    function exposure(address guarantor, address supplier) external view returns (uint256) {
        return _exposure[guarantor][supplier];
    }

    /// @inheritdoc ITradeEscrow
    function shortfall(address guarantor, address supplier) external view returns (uint256) {
        return _shortfall[guarantor][supplier];
    }

    /// @inheritdoc ITradeEscrow
    function prepaymentNonceUsed(address guarantor, uint256 nonce) external view returns (bool) {
        return _prepaymentNonceUsed[guarantor][nonce];
    }

    /// @inheritdoc ITradeEscrow
    function pool(address guarantor) external view returns (uint256 available, uint256 reserved) {
        return (_poolAvailable[guarantor], _poolReserved[guarantor]);
    }

    /// @inheritdoc ITradeEscrow
    function membership() external view returns (address) {
        return address(_membership);
    }

    /// @inheritdoc ITradeEscrow
    function creditRegistry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ITradeEscrow
    function orderDigest(OrderTerms calldata terms) external view returns (bytes32) {
        return _hashTypedDataV4(_hashTerms(_ORDER_TYPEHASH, terms));
    }

    /// @inheritdoc ITradeEscrow
    function openAccountOrderDigest(OrderTerms calldata terms) external view returns (bytes32) {
        return _hashTypedDataV4(_hashTerms(_OPEN_ACCOUNT_ORDER_TYPEHASH, terms));
    }

    /// @inheritdoc ITradeEscrow
    function isOpenAccount(uint256 orderId) external view returns (bool) {
        return _openAccount[orderId];
    }

    /// @inheritdoc ITradeEscrow
    function attestationDigest(Attestation calldata attestation) external view returns (bytes32) {
        return _attestationDigest(attestation);
    }

    /// @inheritdoc ITradeEscrow
    function errorDeclarationDigest(ErrorDeclaration calldata declaration) external view returns (bytes32) {
        return _errorDeclarationDigest(declaration);
    }

    /// @inheritdoc ITradeEscrow
    function prepaymentOfferDigest(PrepaymentOffer calldata offer) external view returns (bytes32) {
        return _prepaymentOfferDigest(offer);
    }

    /// @inheritdoc ITradeEscrow
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // -- internals -----------------------------------------------------------------------

    function _create(OrderTerms calldata terms, bytes32 typeHash, bytes calldata buyerSig, bytes calldata supplierSig)
        private
        returns (uint256 orderId)
    {
        if (msg.sender != terms.buyer && msg.sender != terms.supplier) revert TradeEscrowNotParty(0, msg.sender);
        if (terms.deadline < block.timestamp) revert TradeEscrowSignatureExpired(terms.deadline, block.timestamp);
        _checkTerms(terms);
        if (_nonceUsed[terms.buyer][terms.nonce]) revert TradeEscrowNonceUsed(terms.buyer, terms.nonce);
        uint256 existing = _orderIdOfPoRef[terms.poRefHash];
        if (existing != 0) revert TradeEscrowPoRefTaken(terms.poRefHash, existing);
        bytes32 digest = _hashTypedDataV4(_hashTerms(typeHash, terms));
        _requireSigner(digest, buyerSig, terms.buyer, 0);
        _requireSigner(digest, supplierSig, terms.supplier, 1);

        orderId = ++_orderCount;
        _nonceUsed[terms.buyer][terms.nonce] = true;
        _orderIdOfPoRef[terms.poRefHash] = orderId;
        Order storage order = _orders[orderId];
        order.terms = terms;
        order.status = Status.CREATED;
        order.createdAt = uint64(block.timestamp);
        _emitCreated(orderId, terms);
    }

    function _refuseOpenAccount(uint256 orderId) private view {
        if (_openAccount[orderId]) revert TradeEscrowOpenAccountOrder(orderId);
    }

    function _checkTerms(OrderTerms calldata terms) private view {
        if (terms.buyer == terms.supplier) revert TradeEscrowSelfTrade(terms.buyer);
        if (!_membership.hasRole(terms.buyer, Roles.CORE) && !_membership.hasRole(terms.buyer, Roles.SUPPLIER)) {
            revert TradeEscrowBuyerNotEligible(terms.buyer);
        }
        if (!_membership.hasRole(terms.supplier, Roles.SUPPLIER)) revert TradeEscrowSupplierNotEligible(terms.supplier);
        if (!_tokenAllowed[terms.token]) revert TradeEscrowTokenNotAllowed(terms.token);
        if (terms.amount == 0) revert TradeEscrowInvalidAmount(0);
        if (terms.shipBy <= block.timestamp || terms.deliverBy < terms.shipBy) {
            revert TradeEscrowInvalidDates(terms.shipBy, terms.deliverBy, block.timestamp);
        }
        if (terms.poRefHash == bytes32(0)) revert TradeEscrowMissingPoRef();
    }

    function _hashTerms(bytes32 typeHash, OrderTerms calldata t) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                typeHash,
                t.buyer,
                t.supplier,
                t.token,
                t.amount,
                t.shipBy,
                t.deliverBy,
                t.inspectionRequired,
                t.termsHash,
                t.poRefHash,
                t.nonce,
                t.deadline
            )
        );
    }

    function _attestationDigest(Attestation calldata a) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(_ATTESTATION_TYPEHASH, a.orderId, uint8(a.milestone), a.occurredAt, a.evidenceHash))
        );
    }

    function _errorDeclarationDigest(ErrorDeclaration calldata d) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(_ERROR_DECLARATION_TYPEHASH, d.evidenceHash, d.reasonHash, d.declaredAt))
        );
    }

    function _prepaymentOfferDigest(PrepaymentOffer calldata o) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(_PREPAYMENT_OFFER_TYPEHASH, o.orderId, o.guarantor, o.amount, o.fee, o.deadline, o.nonce)
            )
        );
    }

    /// @dev Every check of `requestPrepayment` but the signature, in the order the errors are
    ///      reported: the offer's own validity (deadline, nonce), the order and its supplier, the
    ///      amounts, then the guarantor's role, limit and pool. Returns the order and the
    ///      supplier's limit from the guarantor still available before the draw.
    function _checkPrepaymentOffer(PrepaymentOffer calldata offer)
        private
        view
        returns (Order storage order, uint256 available)
    {
        uint256 orderId = offer.orderId;
        address guarantor = offer.guarantor;
        uint256 amount = offer.amount;
        if (offer.deadline < block.timestamp) {
            revert TradeEscrowPrepaymentOfferExpired(offer.deadline, block.timestamp);
        }
        if (_prepaymentNonceUsed[guarantor][offer.nonce]) {
            revert TradeEscrowPrepaymentOfferReplayed(guarantor, offer.nonce);
        }
        order = _expect(orderId, Status.FUNDED);
        address supplier = order.terms.supplier;
        if (msg.sender != supplier) revert TradeEscrowNotSupplier(orderId, msg.sender);
        // A supplier suspended (or stripped of the role) since the order was signed draws nothing.
        if (!_membership.hasRole(supplier, Roles.SUPPLIER)) revert TradeEscrowSupplierNotEligible(supplier);
        if (order.prepaid != 0) revert TradeEscrowAlreadyPrepaid(orderId);
        if (order.terms.token != address(_currency)) {
            revert TradeEscrowPrepaymentCurrency(order.terms.token, address(_currency));
        }
        if (amount == 0 || amount > order.terms.amount) revert TradeEscrowInvalidAmount(amount);
        if (offer.fee >= amount) revert TradeEscrowInvalidFee(offer.fee, amount);
        if (!_membership.hasRole(guarantor, Roles.BANK)) revert TradeEscrowNotGuarantor(guarantor);
        available = _availableLimit(guarantor, supplier);
        if (amount > available) revert TradeEscrowLimitExceeded(supplier, amount, available);
        uint256 poolAvailable = _poolAvailable[guarantor];
        if (amount > poolAvailable) revert TradeEscrowPoolInsufficient(guarantor, amount, poolAvailable);
    }

    function _emitCreated(uint256 orderId, OrderTerms calldata t) private {
        emit OrderCreated(
            orderId,
            t.buyer,
            t.supplier,
            t.token,
            t.amount,
            t.shipBy,
            t.deliverBy,
            t.inspectionRequired,
            t.termsHash,
            t.poRefHash,
            t.nonce,
            msg.sender
        );
    }

    /// @dev `index` says which signature of a call failed (0 buyer, 1 supplier; 0 for the
    ///      guarantor of a pre-payment offer). A party with code (a multisig, a smart account)
    ///      signs by ERC-1271: its `isValidSignature(digest, signature)` decides, and a refusal
    ///      (or a revert, or an answer that is not the magic value) names no recovered signer.
    ///      A party without code signs with ECDSA: low s only, and the signer must recover.
    function _requireSigner(bytes32 digest, bytes calldata signature, address expected, uint256 index) private view {
        if (expected.code.length != 0) {
            if (!SignatureChecker.isValidERC1271SignatureNow(expected, digest, signature)) {
                revert TradeEscrowInvalidSigner(expected, address(0));
            }
            return;
        }
        (address recovered, ECDSA.RecoverError failure,) = ECDSA.tryRecover(digest, signature);
        if (failure == ECDSA.RecoverError.InvalidSignatureS) revert TradeEscrowMalleableSignature(index);
        if (failure != ECDSA.RecoverError.NoError || recovered != expected) {
            revert TradeEscrowInvalidSigner(expected, recovered);
        }
    }

    /// @dev Oracles sign with ECDSA only: they are services holding a key, and a quorum is counted
    ///      from the signers the signatures recover to (no signer is named up front to ask by ERC-1271).
    function _recoverQuorum(bytes32 digest, bytes[] calldata signatures, IMembership.OracleKind kind)
        private
        view
        returns (address[] memory signers)
    {
        uint256 count = signatures.length;
        signers = new address[](count);
        for (uint256 i = 0; i < count; i++) {
            (address signer, ECDSA.RecoverError failure,) = ECDSA.tryRecover(digest, signatures[i]);
            if (failure == ECDSA.RecoverError.InvalidSignatureS) revert TradeEscrowMalleableSignature(i);
            if (failure != ECDSA.RecoverError.NoError || !_membership.isOracle(signer, kind)) {
                revert TradeEscrowUnauthorizedOracle(signer, kind);
            }
            for (uint256 j = 0; j < i; j++) {
                if (signers[j] == signer) revert TradeEscrowDuplicateSigner(signer);
            }
            signers[i] = signer;
        }
        uint256 needed = _thresholds[uint8(kind)];
        if (count < needed) revert TradeEscrowQuorumNotMet(count, needed);
    }

    function _oracleKindFor(Milestone milestone) private pure returns (IMembership.OracleKind) {
        if (milestone == Milestone.SHIPPED || milestone == Milestone.DELIVERED) {
            return IMembership.OracleKind.CARRIER;
        }
        if (milestone == Milestone.INSPECTION_PASSED || milestone == Milestone.INSPECTION_FAILED) {
            return IMembership.OracleKind.INSPECTOR;
        }
        revert TradeEscrowUnknownMilestone(milestone);
    }

    /// @dev Event times run in sequence (DELIVERED not before SHIPPED, an inspection not before
    ///      DELIVERED); SHIPPED itself may predate the order, as a PO is sometimes signed after dispatch.
    function _checkMilestone(uint256 orderId, Order storage order, Milestone milestone, uint64 occurredAt)
        private
        view
    {
        Status status = order.status;
        uint64 previousAt = 0; // SHIPPED has no predecessor
        if (milestone == Milestone.SHIPPED) {
            if (order.shippedAt != 0) revert TradeEscrowMilestoneAlreadyRecorded(orderId, milestone);
            Status ready = _openAccount[orderId] ? Status.CREATED : Status.FUNDED;
            if (status != ready) revert TradeEscrowMilestoneOutOfOrder(orderId, milestone, status);
        } else if (milestone == Milestone.DELIVERED) {
            if (order.deliveredAt != 0) revert TradeEscrowMilestoneAlreadyRecorded(orderId, milestone);
            if (status != Status.SHIPPED) revert TradeEscrowMilestoneOutOfOrder(orderId, milestone, status);
            previousAt = order.shippedAt;
        } else {
            if (!order.terms.inspectionRequired) revert TradeEscrowInspectionNotRequired(orderId);
            if (order.inspectedAt != 0) revert TradeEscrowMilestoneAlreadyRecorded(orderId, milestone);
            if (status != Status.DELIVERED) revert TradeEscrowMilestoneOutOfOrder(orderId, milestone, status);
            previousAt = order.deliveredAt;
        }
        if (occurredAt < previousAt) revert TradeEscrowMilestoneOutOfSequence(orderId, occurredAt, previousAt);
    }

    /// @dev A time an oracle reports (an event or a declaration): neither in the future nor older
    ///      than `maxAttestationAge`.
    function _requireRecent(uint64 at) private view {
        if (at > block.timestamp) revert TradeEscrowAttestationFromFuture(at, block.timestamp);
        uint64 maxAge = _windows.maxAttestationAge;
        if (block.timestamp - at > maxAge) revert TradeEscrowStaleAttestation(at, maxAge, block.timestamp);
    }

    /// @dev The dispute starts now, whoever opened it; `DisputeOpened` names the order's buyer.
    function _openDispute(uint256 orderId, Order storage order, bytes32 reasonHash) private {
        Windows memory w = _windows;
        uint64 answerBy = uint64(block.timestamp) + w.answerWindow;
        uint64 resolveBy = uint64(block.timestamp) + w.resolveWindow;
        order.status = Status.DISPUTED;
        _disputes[orderId] = Dispute({
            openedAt: uint64(block.timestamp),
            answerBy: answerBy,
            resolveBy: resolveBy,
            answered: false,
            reasonHash: reasonHash,
            responseHash: bytes32(0)
        });
        emit DisputeOpened(orderId, order.terms.buyer, reasonHash, answerBy, resolveBy);
    }

    /// @dev An expired dispute (unanswered past answer-by, or past resolve-by) can only be closed
    ///      in the buyer's favour, by `closeExpiredDispute`.
    function _requireUnexpired(uint256 orderId) private view {
        Dispute storage dispute = _disputes[orderId];
        if (!dispute.answered && block.timestamp > dispute.answerBy) {
            revert TradeEscrowDisputeExpired(orderId, dispute.answerBy);
        }
        if (block.timestamp > dispute.resolveBy) revert TradeEscrowDisputeExpired(orderId, dispute.resolveBy);
    }

    function _existing(uint256 orderId) private view returns (Order storage order) {
        order = _orders[orderId];
        if (order.status == Status.NONE) revert TradeEscrowUnknownOrder(orderId);
    }

    function _expect(uint256 orderId, Status expected) private view returns (Order storage order) {
        order = _existing(orderId);
        if (order.status != expected) revert TradeEscrowInvalidStatus(orderId, order.status);
    }

    function _fund(uint256 orderId, Order storage order, bool viaPermit) private {
        uint256 amount = order.terms.amount;
        order.status = Status.FUNDED;
        order.fundedAt = uint64(block.timestamp);
        order.escrowed = amount;
        emit OrderFunded(orderId, order.terms.buyer, amount, viaPermit);
        IERC20(order.terms.token).safeTransferFrom(order.terms.buyer, address(this), amount);
    }

    function _availableLimit(address guarantor, address supplier) private view returns (uint256) {
        uint256 limit = _registry.limitOf(guarantor, supplier);
        uint256 used = _exposure[guarantor][supplier];
        return limit > used ? limit - used : 0;
    }

    function _release(uint256 orderId, Order storage order) private {
        order.status = Status.RELEASED;
        (, uint256 toSupplier,) = _payout(orderId, order, 0);
        emit OrderReleased(orderId, order.terms.supplier, toSupplier, msg.sender);
        _transferOut(order, 0, toSupplier);
    }

    function _refund(uint256 orderId, Order storage order, RefundReason reason) private {
        uint256 amount = order.terms.amount;
        (uint256 fromEscrow,, uint256 fromPool) = _payout(orderId, order, amount);
        emit OrderRefunded(orderId, order.terms.buyer, fromEscrow, fromPool, reason);
        _transferOut(order, amount, 0);
    }

    function _resolve(uint256 orderId, Order storage order, uint256 buyerAmount, Status status, Resolution how)
        private
    {
        if (buyerAmount > order.terms.amount) revert TradeEscrowInvalidSplit(orderId, buyerAmount, order.terms.amount);
        order.status = status;
        (, uint256 toSupplier, uint256 fromPool) = _payout(orderId, order, buyerAmount);
        emit DisputeResolved(orderId, buyerAmount, toSupplier, fromPool, how, msg.sender);
        _transferOut(order, buyerAmount, toSupplier);
    }

    /// @dev Splits what is left of an order: the buyer's share comes from the escrow first and
    ///      from the guarantee pool for any part already drawn as a pre-payment (the supplier's
    ///      net and the guarantor's fee alike: the guarantee covers the whole draw); what the
    ///      pool pays is recorded as the supplier's shortfall and keeps its limit in use.
    function _payout(uint256 orderId, Order storage order, uint256 buyerShare)
        private
        returns (uint256 fromEscrowToBuyer, uint256 toSupplier, uint256 fromPool)
    {
        uint256 escrowed = order.escrowed;
        fromEscrowToBuyer = buyerShare < escrowed ? buyerShare : escrowed;
        fromPool = buyerShare - fromEscrowToBuyer;
        toSupplier = escrowed - fromEscrowToBuyer;
        order.escrowed = 0;
        order.closedAt = uint64(block.timestamp);
        order.paidToSupplier += toSupplier;
        order.refundedToBuyer = buyerShare;
        order.guaranteeClaimed = fromPool;
        uint256 prepaid = order.prepaid;
        if (prepaid != 0) {
            address guarantor = order.guarantor;
            address supplier = order.terms.supplier;
            _poolReserved[guarantor] -= prepaid;
            _poolAvailable[guarantor] += prepaid - fromPool;
            _exposure[guarantor][supplier] -= prepaid - fromPool;
            if (fromPool != 0) {
                _shortfall[guarantor][supplier] += fromPool;
                emit GuaranteeClaimed(orderId, guarantor, supplier, fromPool);
            }
            if (prepaid > fromPool) emit ExposureReleased(guarantor, supplier, prepaid - fromPool);
        }
    }

    function _transferOut(Order storage order, uint256 toBuyer, uint256 toSupplier) private {
        IERC20 token = IERC20(order.terms.token);
        if (toBuyer != 0) token.safeTransfer(order.terms.buyer, toBuyer);
        if (toSupplier != 0) token.safeTransfer(order.terms.supplier, toSupplier);
    }
}
