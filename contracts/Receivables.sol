// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IReceivables} from "./interfaces/IReceivables.sol";
import {ITradeEscrow} from "./interfaces/ITradeEscrow.sol";
import {Roles} from "./Roles.sol";

/// @title Receivables
/// @notice Splittable, financeable ERC-721 receivables on a debtor's acknowledgement. See
///         IReceivables for the rules.
/// @dev Repayments go to the root; each leaf claims amount × repaid / face less what it
///      claimed (rounded down), so the leaves together never take more than was repaid and
///      the token balance always equals the roots' repaid less claimed.
contract Receivables is IReceivables, ERC721, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 private constant _ISSUE_TYPEHASH = keccak256(
        "ReceivableIssue(address debtor,address creditor,address token,uint256 faceValue,uint64 maturity,bytes32 invoiceHash,bytes32 fingerprint,bytes32 invoiceCommitment,uint256 orderId,uint256 nonce,uint64 deadline)"
    );
    bytes32 private constant _OFFER_TYPEHASH =
        keccak256("FinanceOffer(uint256 pieceId,address bank,uint256 price,uint64 deadline,uint256 nonce)");

    uint256 private constant _MIN_CHILDREN = 2;
    uint256 private constant _MAX_CHILDREN = 32;
    uint64 private constant _MAX_GRACE_PERIOD = 365 days;
    uint256 private constant _BPS = 10_000;

    IMembership private immutable _membership;
    IERC20 private immutable _token;
    ITradeEscrow private immutable _escrow;

    uint256 private _pieceCount;
    uint64 private _gracePeriod;
    mapping(uint256 rootId => Root) private _roots;
    mapping(uint256 pieceId => Piece) private _pieces;
    mapping(bytes32 fingerprint => uint256 rootId) private _rootIdOfFingerprint;
    mapping(uint256 orderId => uint256 faceValue) private _issuedAgainstOrder;
    mapping(address debtor => mapping(uint256 nonce => bool)) private _nonceUsed;
    mapping(address bank => mapping(uint256 nonce => bool)) private _offerNonceUsed;

    constructor(IMembership membership_, IERC20 token_, ITradeEscrow escrow_)
        ERC721("SCF Receivable", "SCFR")
        EIP712("Receivables", "1")
    {
        _membership = membership_;
        _token = token_;
        _escrow = escrow_;
        _gracePeriod = 7 days;
        emit GracePeriodSet(7 days, msg.sender);
    }

    modifier onlyAdmin() {
        if (!_membership.hasRole(msg.sender, Roles.ADMIN)) revert ReceivablesUnauthorized(msg.sender);
        _;
    }

    // -- receivables ---------------------------------------------------------------------

    /// @inheritdoc IReceivables
    function issue(IssueTerms calldata terms, bytes calldata debtorSignature) external returns (uint256 rootId) {
        address debtor = terms.debtor;
        address creditor = terms.creditor;
        if (msg.sender != debtor && msg.sender != creditor) revert ReceivablesNotParty(debtor, creditor, msg.sender);
        bytes32 fingerprint = terms.fingerprint;
        if (fingerprint == bytes32(0)) revert ReceivablesFingerprintMissing(debtor, creditor);
        uint256 existing = _rootIdOfFingerprint[fingerprint];
        if (existing != 0) revert ReceivablesInvoiceAlreadyIssued(fingerprint, existing);
        if (terms.deadline < block.timestamp) revert ReceivablesSignatureExpired(terms.deadline, block.timestamp);
        if (_nonceUsed[debtor][terms.nonce]) revert ReceivablesNonceUsed(debtor, terms.nonce);
        _checkIssue(terms);
        _requireSigner(_issueDigest(terms), debtorSignature, debtor);

        rootId = ++_pieceCount;
        _nonceUsed[debtor][terms.nonce] = true;
        _rootIdOfFingerprint[fingerprint] = rootId;
        Root storage root = _roots[rootId];
        root.debtor = debtor;
        root.creditor = creditor;
        root.token = terms.token;
        root.faceValue = terms.faceValue;
        root.maturity = terms.maturity;
        root.issuedAt = uint64(block.timestamp);
        root.invoiceHash = terms.invoiceHash;
        root.fingerprint = fingerprint;
        root.invoiceCommitment = terms.invoiceCommitment;
        root.orderId = terms.orderId;
        Piece storage piece = _pieces[rootId];
        piece.rootId = rootId;
        piece.amount = terms.faceValue;
        piece.createdAt = uint64(block.timestamp);
        _emitIssued(rootId, terms);
        _mint(creditor, rootId);
    }

    /// @inheritdoc IReceivables
    function split(uint256 pieceId, Child[] calldata children) external returns (uint256 firstChildId) {
        Piece storage parent = _holderPiece(pieceId);
        if (parent.claimed != 0) revert ReceivablesPieceHasClaims(pieceId, parent.claimed);
        uint256 count = children.length;
        if (count < _MIN_CHILDREN || count > _MAX_CHILDREN) {
            revert ReceivablesInvalidSplitCount(count, _MIN_CHILDREN, _MAX_CHILDREN);
        }
        uint256 sum = 0;
        for (uint256 i = 0; i < count; i++) {
            if (children[i].amount == 0) revert ReceivablesZeroSplitAmount(pieceId, i);
            sum += children[i].amount;
        }
        if (sum != parent.amount) revert ReceivablesSplitSumMismatch(pieceId, sum, parent.amount);

        uint256 rootId = parent.rootId;
        bool financed = parent.financed;
        firstChildId = _pieceCount + 1;
        _pieceCount += count;
        parent.firstChildId = firstChildId;
        parent.childCount = uint32(count);
        emit PieceSplit(pieceId, rootId, msg.sender, firstChildId, uint32(count));
        for (uint256 i = 0; i < count; i++) {
            _createChild(firstChildId + i, pieceId, rootId, children[i], financed);
        }
    }

    /// @inheritdoc IReceivables
    function finance(FinanceOffer calldata offer, bytes calldata bankSignature) external nonReentrant {
        (Piece storage piece, Root storage root) = _checkOffer(offer);
        _requireSigner(_offerDigest(offer), bankSignature, offer.bank);

        _offerNonceUsed[offer.bank][offer.nonce] = true;
        piece.financed = true;
        _emitFinanced(offer, piece, root);
        _transfer(msg.sender, offer.bank, offer.pieceId);
        IERC20(root.token).safeTransferFrom(offer.bank, msg.sender, offer.price);
    }

    /// @inheritdoc IReceivables
    function repay(uint256 rootId, uint256 amount) external nonReentrant {
        Root storage root = _root(rootId);
        uint256 owed = root.faceValue - root.repaid;
        if (amount == 0) revert ReceivablesInvalidAmount(0);
        if (amount > owed) revert ReceivablesRepaymentExceedsOutstanding(rootId, amount, owed);
        root.repaid += amount;
        emit ReceivableRepaid(rootId, msg.sender, amount, root.repaid, owed - amount, root.defaultedAt != 0);
        IERC20(root.token).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IReceivables
    function claim(uint256 pieceId) external nonReentrant returns (uint256 amount) {
        Piece storage piece = _holderPiece(pieceId);
        Root storage root = _roots[piece.rootId];
        amount = _claimable(piece, root);
        if (amount == 0) revert ReceivablesNothingToClaim(pieceId);
        piece.claimed += amount;
        root.claimed += amount;
        emit PieceClaimed(pieceId, piece.rootId, msg.sender, amount, piece.claimed);
        IERC20(root.token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IReceivables
    function markDefaulted(uint256 rootId) external {
        Root storage root = _root(rootId);
        if (root.defaultedAt != 0) revert ReceivablesRootDefaulted(rootId, root.defaultedAt);
        if (root.repaid == root.faceValue) revert ReceivablesRootRepaid(rootId);
        uint256 after_ = uint256(root.maturity) + _gracePeriod;
        if (block.timestamp <= after_) revert ReceivablesGraceNotOver(rootId, after_, block.timestamp);
        root.defaultedAt = uint64(block.timestamp);
        emit ReceivableDefaulted(rootId, root.debtor, root.faceValue - root.repaid, msg.sender);
    }

    // -- administration ------------------------------------------------------------------

    /// @inheritdoc IReceivables
    function setGracePeriod(uint64 gracePeriod_) external onlyAdmin {
        if (gracePeriod_ > _MAX_GRACE_PERIOD) revert ReceivablesInvalidGracePeriod(gracePeriod_, _MAX_GRACE_PERIOD);
        _gracePeriod = gracePeriod_;
        emit GracePeriodSet(gracePeriod_, msg.sender);
    }

    // -- views ---------------------------------------------------------------------------

    /// @inheritdoc IReceivables
    function rootOf(uint256 rootId) external view returns (Root memory) {
        return _roots[rootId];
    }

    /// @inheritdoc IReceivables
    function pieceOf(uint256 pieceId) external view returns (Piece memory) {
        return _pieces[pieceId];
    }

    /// @inheritdoc IReceivables
    function statusOf(uint256 rootId) external view returns (Status) {
        Root storage root = _roots[rootId];
        if (root.faceValue == 0) return Status.NONE;
        if (root.repaid == root.faceValue) return Status.REPAID;
        if (root.defaultedAt != 0) return Status.DEFAULTED;
        return Status.OUTSTANDING;
    }

    /// @inheritdoc IReceivables
    function claimable(uint256 pieceId) external view returns (uint256) {
        Piece storage piece = _pieces[pieceId];
        if (piece.rootId == 0 || piece.childCount != 0) return 0;
        return _claimable(piece, _roots[piece.rootId]);
    }

    /// @inheritdoc IReceivables
    function outstanding(uint256 rootId) external view returns (uint256) {
        return _roots[rootId].faceValue - _roots[rootId].repaid;
    }

    /// @inheritdoc IReceivables
    function pieceCount() external view returns (uint256) {
        return _pieceCount;
    }

    /// @inheritdoc IReceivables
    function rootIdOfFingerprint(bytes32 fingerprint) external view returns (uint256) {
        return _rootIdOfFingerprint[fingerprint];
    }

    /// @inheritdoc IReceivables
    function issuedAgainstOrder(uint256 orderId) external view returns (uint256) {
        return _issuedAgainstOrder[orderId];
    }

    /// @inheritdoc IReceivables
    function nonceUsed(address debtor, uint256 nonce) external view returns (bool) {
        return _nonceUsed[debtor][nonce];
    }

    /// @inheritdoc IReceivables
    function offerNonceUsed(address bank, uint256 nonce) external view returns (bool) {
        return _offerNonceUsed[bank][nonce];
    }

    /// @inheritdoc IReceivables
    function gracePeriod() external view returns (uint64) {
        return _gracePeriod;
    }

    /// @inheritdoc IReceivables
    function membership() external view returns (address) {
        return address(_membership);
    }

    /// @inheritdoc IReceivables
    function settlementToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IReceivables
    function tradeEscrow() external view returns (address) {
        return address(_escrow);
    }

    /// @inheritdoc IReceivables
    function issueDigest(IssueTerms calldata terms) external view returns (bytes32) {
        return _issueDigest(terms);
    }

    /// @inheritdoc IReceivables
    function financeOfferDigest(FinanceOffer calldata offer) external view returns (bytes32) {
        return _offerDigest(offer);
    }

    /// @inheritdoc IReceivables
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // -- internals -----------------------------------------------------------------------

    /// @dev Every mint and transfer: only to an active member, never a piece that was split.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        uint32 children = _pieces[tokenId].childCount;
        if (children != 0) revert ReceivablesPieceSplit(tokenId, children);
        if (!_membership.isActive(to)) revert ReceivablesRecipientNotMember(to);
        from = super._update(to, tokenId, auth);
    }

    function _checkIssue(IssueTerms calldata terms) private {
        address debtor = terms.debtor;
        if (debtor == terms.creditor) revert ReceivablesSelfIssue(debtor);
        if (!_membership.hasRole(debtor, Roles.CORE) && !_membership.hasRole(debtor, Roles.SUPPLIER)) {
            revert ReceivablesDebtorNotEligible(debtor);
        }
        if (!_membership.hasRole(terms.creditor, Roles.SUPPLIER)) revert ReceivablesCreditorNotEligible(terms.creditor);
        if (terms.token != address(_token)) revert ReceivablesTokenNotAllowed(terms.token);
        if (terms.faceValue == 0) revert ReceivablesInvalidAmount(0);
        if (terms.maturity <= block.timestamp) revert ReceivablesInvalidMaturity(terms.maturity, block.timestamp);
        uint256 orderId = terms.orderId;
        if (orderId == 0) return;
        if (!_escrow.isOpenAccount(orderId)) revert ReceivablesOrderNotOpenAccount(orderId);
        ITradeEscrow.Order memory order = _escrow.orderOf(orderId);
        bool inspection = order.terms.inspectionRequired;
        ITradeEscrow.Status ready = inspection ? ITradeEscrow.Status.INSPECTED : ITradeEscrow.Status.DELIVERED;
        if (order.status != ready) revert ReceivablesOrderNotDelivered(orderId, order.status, inspection);
        if (order.terms.buyer != debtor || order.terms.supplier != terms.creditor || order.terms.token != terms.token) {
            revert ReceivablesOrderMismatch(orderId, order.terms.buyer, order.terms.supplier, order.terms.token);
        }
        uint256 issued = _issuedAgainstOrder[orderId];
        if (issued + terms.faceValue > order.terms.amount) {
            revert ReceivablesOrderAmountExceeded(orderId, terms.faceValue, order.terms.amount - issued);
        }
        _issuedAgainstOrder[orderId] = issued + terms.faceValue;
    }

    function _createChild(
        uint256 childId,
        uint256 parentId,
        uint256 rootId,
        Child calldata spec,
        bool financed
    ) private {
        Piece storage child = _pieces[childId];
        child.rootId = rootId;
        child.parentId = parentId;
        child.amount = spec.amount;
        child.ref = spec.ref;
        child.financed = financed;
        child.createdAt = uint64(block.timestamp);
        emit PieceCreated(childId, parentId, rootId, spec.holder, spec.amount, spec.ref, financed);
        _mint(spec.holder, childId); // reverts for a holder that is not an active member
    }

    function _checkOffer(FinanceOffer calldata offer) private view returns (Piece storage piece, Root storage root) {
        uint256 pieceId = offer.pieceId;
        address bank = offer.bank;
        if (offer.deadline < block.timestamp) revert ReceivablesOfferExpired(offer.deadline, block.timestamp);
        if (_offerNonceUsed[bank][offer.nonce]) revert ReceivablesOfferReplayed(bank, offer.nonce);
        piece = _holderPiece(pieceId);
        if (!_membership.hasRole(bank, Roles.BANK)) revert ReceivablesNotBank(bank);
        if (bank == msg.sender) revert ReceivablesSelfFinance(bank);
        if (piece.financed) revert ReceivablesAlreadyFinanced(pieceId);
        if (piece.claimed != 0) revert ReceivablesPieceHasClaims(pieceId, piece.claimed);
        uint256 amount = piece.amount;
        if (offer.price == 0 || offer.price > amount) revert ReceivablesInvalidPrice(pieceId, offer.price, amount);
        uint256 rootId = piece.rootId;
        root = _roots[rootId];
        if (root.defaultedAt != 0) revert ReceivablesRootDefaulted(rootId, root.defaultedAt);
        if (root.repaid == root.faceValue) revert ReceivablesRootRepaid(rootId);
        if (block.timestamp >= root.maturity) revert ReceivablesMatured(rootId, root.maturity, block.timestamp);
    }

    /// @dev Discount rate on face value, simple, per 365-day year, rounded down, in bp.
    function _emitFinanced(FinanceOffer calldata offer, Piece storage piece, Root storage root) private {
        uint256 amount = piece.amount;
        uint64 timeToMaturity = root.maturity - uint64(block.timestamp);
        uint256 discountBps = Math.mulDiv((amount - offer.price) * _BPS, 365 days, amount * timeToMaturity);
        emit PieceFinanced(
            offer.pieceId,
            piece.rootId,
            offer.bank,
            msg.sender,
            offer.price,
            amount,
            discountBps,
            timeToMaturity,
            offer.nonce
        );
    }

    /// @dev The piece `msg.sender` holds and may act on: it exists and was not split.
    function _holderPiece(uint256 pieceId) private view returns (Piece storage piece) {
        piece = _pieces[pieceId];
        if (piece.rootId == 0) revert ReceivablesUnknownPiece(pieceId);
        if (_ownerOf(pieceId) != msg.sender) revert ReceivablesNotHolder(pieceId, msg.sender);
        if (piece.childCount != 0) revert ReceivablesPieceSplit(pieceId, piece.childCount);
    }

    function _root(uint256 rootId) private view returns (Root storage root) {
        if (rootId < 1 || rootId > _pieceCount) revert ReceivablesUnknownPiece(rootId);
        uint256 actual = _pieces[rootId].rootId;
        if (actual != rootId) revert ReceivablesNotRoot(rootId, actual);
        root = _roots[rootId];
    }

    function _claimable(Piece storage piece, Root storage root) private view returns (uint256) {
        return Math.mulDiv(piece.amount, root.repaid, root.faceValue) - piece.claimed;
    }

    function _issueDigest(IssueTerms calldata t) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _ISSUE_TYPEHASH,
                    t.debtor,
                    t.creditor,
                    t.token,
                    t.faceValue,
                    t.maturity,
                    t.invoiceHash,
                    t.fingerprint,
                    t.invoiceCommitment,
                    t.orderId,
                    t.nonce,
                    t.deadline
                )
            )
        );
    }

    function _offerDigest(FinanceOffer calldata o) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_OFFER_TYPEHASH, o.pieceId, o.bank, o.price, o.deadline, o.nonce)));
    }

    function _emitIssued(uint256 rootId, IssueTerms calldata t) private {
        emit ReceivableIssued(
            rootId,
            t.debtor,
            t.creditor,
            t.token,
            t.faceValue,
            t.maturity,
            t.invoiceHash,
            t.fingerprint,
            t.invoiceCommitment,
            t.orderId,
            t.nonce,
            msg.sender
        );
    }

    /// @dev A signer with code (a multisig, a smart account) signs by ERC-1271: its
    ///      `isValidSignature(digest, signature)` decides, and a refusal names no recovered
    ///      signer. A signer without code signs with ECDSA: low s only, and it must recover.
    function _requireSigner(bytes32 digest, bytes calldata signature, address expected) private view {
        if (expected.code.length != 0) {
            if (!SignatureChecker.isValidERC1271SignatureNow(expected, digest, signature)) {
                revert ReceivablesInvalidSigner(expected, address(0));
            }
            return;
        }
        (address recovered, ECDSA.RecoverError failure, bytes32 detail) = ECDSA.tryRecover(digest, signature);
        if (failure == ECDSA.RecoverError.InvalidSignatureS) revert ReceivablesMalleableSignature(uint256(detail));
        if (failure != ECDSA.RecoverError.NoError || recovered != expected) {
            revert ReceivablesInvalidSigner(expected, recovered);
        }
    }
}
