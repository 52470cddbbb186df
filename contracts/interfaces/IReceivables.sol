// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITradeEscrow} from "./ITradeEscrow.sol";

/// @title IReceivables
/// @notice Digital payable certificates. A debtor (a core enterprise or any member buyer)
///         acknowledges what it owes a supplier for a delivered open-account order or a
///         standalone invoice (EIP-712 `ReceivableIssue`); the receivable is an ERC-721 token
///         that its holder may split into children for its own suppliers, sell once to a bank
///         (EIP-712 `FinanceOffer`) and, once the debtor repays the root, claim pro rata.
/// @dev Token ids: one counter for every piece; a root's token id is its root id. A piece that
///      was split keeps its owner but is locked: not transferable, financeable or claimable;
///      only the leaves of a tree hold claims. Children of a financed piece count as financed.
///      Money: the contract holds exactly what was repaid less what was claimed, per root.
interface IReceivables {
    /// @notice Lifecycle of a root (computed): OUTSTANDING until repaid in full, DEFAULTED once
    ///         marked after maturity + grace (recoveries are still accepted), REPAID when the
    ///         repayments reach the face value (also after a default).
    enum Status {
        NONE,
        OUTSTANDING,
        REPAID,
        DEFAULTED
    }

    /// @notice What the debtor signs. The invoice number itself never comes on chain: the
    ///         parties keep it off chain and the contract only sees two opaque values.
    /// @param fingerprint the invoice's fingerprint: HMAC-SHA256 under the consortium's key over
    ///        the normalised debtor, creditor, invoice number, amount and invoice date (the rule
    ///        is published in ledger/domain/FINGERPRINTS.md); written once, never zero
    /// @param invoiceCommitment keccak256(salt || normalised invoice number) with a random 32-byte
    ///        salt the parties keep, so one of them can later prove the number to a bank
    /// @param orderId the open-account TradeEscrow order paid by this receivable, 0 for none
    /// @param nonce the debtor's issuance nonce: each value can be used once
    /// @param deadline last timestamp at which the signed terms may be submitted
    struct IssueTerms {
        address debtor;
        address creditor;
        address token;
        uint256 faceValue;
        uint64 maturity;
        bytes32 invoiceHash;
        bytes32 fingerprint;
        bytes32 invoiceCommitment;
        uint256 orderId;
        uint256 nonce;
        uint64 deadline;
    }

    /// @notice What a bank signs to buy piece `pieceId` for `price`.
    /// @param nonce the bank's offer nonce: each value can be used once, on any piece
    struct FinanceOffer {
        uint256 pieceId;
        address bank;
        uint256 price;
        uint64 deadline;
        uint256 nonce;
    }

    /// @notice One child of a split: `amount` to `holder`, paying for sub-order `ref`.
    struct Child {
        uint256 amount;
        address holder;
        bytes32 ref;
    }

    /// @notice A root's terms and its money.
    /// @param repaid total paid by the debtor (and anyone else) so far
    /// @param claimed total the leaf holders have claimed so far
    struct Root {
        address debtor;
        address creditor;
        address token;
        uint256 faceValue;
        uint64 maturity;
        uint64 issuedAt;
        uint64 defaultedAt;
        bytes32 invoiceHash;
        bytes32 fingerprint;
        bytes32 invoiceCommitment;
        uint256 orderId;
        uint256 repaid;
        uint256 claimed;
    }

    /// @notice One node of a receivable tree (the root included: parentId 0, rootId = its id).
    /// @param ref the sub-order reference the piece pays for (0 for a root)
    /// @param firstChildId children are `firstChildId .. firstChildId + childCount - 1`
    struct Piece {
        uint256 rootId;
        uint256 parentId;
        uint256 amount;
        uint256 claimed;
        bytes32 ref;
        uint256 firstChildId;
        uint32 childCount;
        bool financed;
        uint64 createdAt;
    }

    // -- errors --------------------------------------------------------------------------

    /// @notice Only an active ADMIN member may change the grace period.
    /// @param caller the account that tried
    error ReceivablesUnauthorized(address caller);
    /// @notice Only the debtor or the creditor of the signed terms may submit them.
    /// @param debtor the terms' debtor
    /// @param creditor the terms' creditor
    /// @param caller the account that tried
    error ReceivablesNotParty(address debtor, address creditor, address caller);
    /// @notice The debtor must be an active CORE or SUPPLIER member.
    /// @param debtor the terms' debtor
    error ReceivablesDebtorNotEligible(address debtor);
    /// @notice The creditor must be an active SUPPLIER member.
    /// @param creditor the terms' creditor
    error ReceivablesCreditorNotEligible(address creditor);
    /// @notice Debtor and creditor are the same account: nobody can owe itself.
    /// @param party that account
    error ReceivablesSelfIssue(address party);
    /// @notice Receivables are denominated in the settlement token only (`settlementToken()`).
    /// @param token the token the terms name
    error ReceivablesTokenNotAllowed(address token);
    /// @notice A face value or a repayment of zero.
    /// @param amount the amount refused (0)
    error ReceivablesInvalidAmount(uint256 amount);
    /// @notice Maturity must be in the future at issuance.
    /// @param maturity the terms' maturity
    /// @param nowTimestamp the block time of the refusal
    error ReceivablesInvalidMaturity(uint64 maturity, uint256 nowTimestamp);
    /// @notice The signed terms were submitted after their deadline; have them signed again.
    /// @param deadline the signed deadline
    /// @param nowTimestamp the block time of the refusal
    error ReceivablesSignatureExpired(uint64 deadline, uint256 nowTimestamp);
    /// @notice The debtor already used this issuance nonce; sign with a fresh one.
    /// @param debtor the debtor
    /// @param nonce the nonce already used
    error ReceivablesNonceUsed(address debtor, uint256 nonce);
    /// @notice The signature's s is in the upper half of the curve order (a malleable copy of a
    ///         valid signature); submit the canonical (low-s) form.
    /// @param s the signature's s value
    error ReceivablesMalleableSignature(uint256 s);
    /// @notice The signature is not the expected signer's (the debtor's for `issue`, the bank's
    ///         for `finance`): it recovers to another key, or the signer is a contract wallet
    ///         whose ERC-1271 `isValidSignature` refused it (a signer with code decides itself).
    /// @param expected who had to sign
    /// @param recovered who did sign (zero for a malformed signature, or when `expected` is a
    ///        contract that refused the signature)
    error ReceivablesInvalidSigner(address expected, address recovered);
    /// @notice The terms carry a zero fingerprint: every invoice needs its fingerprint (a zero
    ///         one would name no invoice and could never be refused as a duplicate).
    /// @param debtor the terms' debtor
    /// @param creditor the terms' creditor
    error ReceivablesFingerprintMissing(address debtor, address creditor);
    /// @notice A receivable was already issued for an invoice with this fingerprint (the same
    ///         debtor, creditor, invoice number up to cosmetic variants, amount and date,
    ///         whichever bank or flow computed it); an invoice can be issued once, ever.
    /// @param fingerprint the invoice's fingerprint
    /// @param rootId the receivable already issued for it
    error ReceivablesInvoiceAlreadyIssued(bytes32 fingerprint, uint256 rootId);
    /// @notice A receivable can only pay for an open-account order (escrow orders are paid from
    ///         escrow); this id names none.
    /// @param orderId the order the terms name
    error ReceivablesOrderNotOpenAccount(uint256 orderId);
    /// @notice The order has not been delivered yet (nor inspected, when its terms require an
    ///         inspection), so the buyer owes nothing on it.
    /// @param orderId the order
    /// @param status the order's current status in TradeEscrow
    /// @param inspectionRequired whether the order needs INSPECTED rather than DELIVERED
    error ReceivablesOrderNotDelivered(uint256 orderId, ITradeEscrow.Status status, bool inspectionRequired);
    /// @notice The order's buyer, supplier or token differ from the receivable's debtor, creditor
    ///         or token.
    /// @param orderId the order
    /// @param buyer the order's buyer
    /// @param supplier the order's supplier
    /// @param token the order's token
    error ReceivablesOrderMismatch(uint256 orderId, address buyer, address supplier, address token);
    /// @notice Receivables issued against the order would exceed its amount.
    /// @param orderId the order
    /// @param faceValue the face value asked for
    /// @param available the order amount less what receivables already cover
    error ReceivablesOrderAmountExceeded(uint256 orderId, uint256 faceValue, uint256 available);
    /// @notice No piece (or root) has this id.
    /// @param pieceId the id asked for
    error ReceivablesUnknownPiece(uint256 pieceId);
    /// @notice Repayment and default apply to roots only; this piece is a child.
    /// @param pieceId the piece given
    /// @param rootId the root it belongs to: repay or mark that one
    error ReceivablesNotRoot(uint256 pieceId, uint256 rootId);
    /// @notice Only the piece's current holder may split, finance or claim it.
    /// @param pieceId the piece
    /// @param caller the account that tried
    error ReceivablesNotHolder(uint256 pieceId, address caller);
    /// @notice The piece was split and is locked: only its children can move, be financed or claim.
    /// @param pieceId the piece
    /// @param childCount how many children it was split into
    error ReceivablesPieceSplit(uint256 pieceId, uint32 childCount);
    /// @notice The holder already claimed part of this piece, so it can no longer be split or sold.
    /// @param pieceId the piece
    /// @param claimed what was claimed on it so far
    error ReceivablesPieceHasClaims(uint256 pieceId, uint256 claimed);
    /// @notice A split needs between `minCount` and `maxCount` children.
    /// @param count how many children were given
    /// @param minCount the fewest allowed
    /// @param maxCount the most allowed
    error ReceivablesInvalidSplitCount(uint256 count, uint256 minCount, uint256 maxCount);
    /// @notice Every child of a split must have an amount above zero.
    /// @param pieceId the piece being split
    /// @param index the position of the zero child in `children`
    error ReceivablesZeroSplitAmount(uint256 pieceId, uint256 index);
    /// @notice The children's amounts must add up to the piece's amount exactly.
    /// @param pieceId the piece being split
    /// @param sum what the children add up to
    /// @param amount the piece's amount
    error ReceivablesSplitSumMismatch(uint256 pieceId, uint256 sum, uint256 amount);
    /// @notice Pieces can only be held by active members (issued, split or transferred to one).
    /// @param recipient the account refused
    error ReceivablesRecipientNotMember(address recipient);
    /// @notice The offer's signer is not an active BANK member.
    /// @param bank the offer's bank
    error ReceivablesNotBank(address bank);
    /// @notice The bank already holds the piece; it cannot buy it from itself.
    /// @param bank the bank
    error ReceivablesSelfFinance(address bank);
    /// @notice The finance offer was accepted after its deadline; ask the bank for a new one.
    /// @param deadline the offer's deadline
    /// @param nowTimestamp the block time of the refusal
    error ReceivablesOfferExpired(uint64 deadline, uint256 nowTimestamp);
    /// @notice The bank's offer nonce was already used: an offer is accepted at most once.
    /// @param bank the bank
    /// @param nonce the nonce already used
    error ReceivablesOfferReplayed(address bank, uint256 nonce);
    /// @notice The piece (or the piece it was split from) was already sold to a bank; a claim is
    ///         never financed twice.
    /// @param pieceId the piece
    error ReceivablesAlreadyFinanced(uint256 pieceId);
    /// @notice The price must be above zero and at most the piece's face amount.
    /// @param pieceId the piece
    /// @param price the offer's price
    /// @param amount the piece's face amount
    error ReceivablesInvalidPrice(uint256 pieceId, uint256 price, uint256 amount);
    /// @notice The receivable has reached maturity; it can no longer be financed.
    /// @param rootId the root
    /// @param maturity its maturity
    /// @param nowTimestamp the block time of the refusal
    error ReceivablesMatured(uint256 rootId, uint64 maturity, uint256 nowTimestamp);
    /// @notice The root was marked DEFAULTED: it cannot be financed or marked again.
    /// @param rootId the root
    /// @param defaultedAt when it was marked
    error ReceivablesRootDefaulted(uint256 rootId, uint64 defaultedAt);
    /// @notice The root is repaid in full: nothing is left to finance or to default on.
    /// @param rootId the root
    error ReceivablesRootRepaid(uint256 rootId);
    /// @notice The repayment is more than is still owed on the root.
    /// @param rootId the root
    /// @param amount the repayment offered
    /// @param outstanding what is still owed
    error ReceivablesRepaymentExceedsOutstanding(uint256 rootId, uint256 amount, uint256 outstanding);
    /// @notice The leaf's share of what was repaid is all claimed already (or nothing was repaid).
    /// @param pieceId the leaf
    error ReceivablesNothingToClaim(uint256 pieceId);
    /// @notice A root can be marked DEFAULTED only after maturity plus the grace period.
    /// @param rootId the root
    /// @param defaultableAfter maturity + grace period; marking is possible strictly after it
    /// @param nowTimestamp the block time of the refusal
    error ReceivablesGraceNotOver(uint256 rootId, uint256 defaultableAfter, uint256 nowTimestamp);
    /// @notice The grace period exceeds its maximum.
    /// @param gracePeriod the grace period asked for, in seconds
    /// @param maxGracePeriod the longest allowed, in seconds
    error ReceivablesInvalidGracePeriod(uint64 gracePeriod, uint64 maxGracePeriod);

    // -- events --------------------------------------------------------------------------

    /// @notice Root `rootId` (also its token id) was issued to `creditor` for the invoice whose
    ///         fingerprint is `fingerprint`; the invoice number stays off chain.
    /// @param rootId the new root's id (= its ERC-721 token id)
    /// @param debtor who owes the face value
    /// @param creditor who holds the receivable now
    /// @param token the settlement token it is paid in
    /// @param faceValue what the debtor owes, in token units
    /// @param maturity when the debtor must have repaid
    /// @param invoiceHash hash of the invoice document
    /// @param fingerprint the invoice's keyed fingerprint, unique for ever
    /// @param invoiceCommitment the parties' salted commitment to the invoice number
    /// @param orderId the open-account order it pays for, 0 for none
    /// @param nonce the debtor's issuance nonce, now used
    /// @param submitter the debtor or creditor who submitted it
    event ReceivableIssued(
        uint256 indexed rootId,
        address indexed debtor,
        address indexed creditor,
        address token,
        uint256 faceValue,
        uint64 maturity,
        bytes32 invoiceHash,
        bytes32 fingerprint,
        bytes32 invoiceCommitment,
        uint256 orderId,
        uint256 nonce,
        address submitter
    );
    /// @notice `holder` split `pieceId` into `childCount` children numbered from `firstChildId`.
    /// @param pieceId the piece split, locked from now on
    /// @param rootId its root
    /// @param holder its holder, who split it
    /// @param firstChildId the first child's id; the children are consecutive
    /// @param childCount how many children
    event PieceSplit(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed holder, uint256 firstChildId, uint32 childCount
    );
    /// @notice One child of a split: with PieceSplit and ReceivableIssued the whole tree.
    /// @param pieceId the child's id (= its ERC-721 token id)
    /// @param parentId the piece it was split from
    /// @param rootId its root
    /// @param holder who holds it
    /// @param amount its face amount
    /// @param ref the sub-order it pays for
    /// @param financed true when the parent was financed (children of a financed piece count as financed)
    event PieceCreated(
        uint256 indexed pieceId,
        uint256 indexed parentId,
        uint256 indexed rootId,
        address holder,
        uint256 amount,
        bytes32 ref,
        bool financed
    );
    /// @notice `bank` paid `price` to `seller` for `pieceId` (face `amount`) and holds it now.
    ///         `discountBps` = (amount - price) / amount × (365 days / time to maturity), in bp.
    /// @param pieceId the piece sold
    /// @param rootId its root
    /// @param bank the buyer, holder from now on
    /// @param seller the previous holder, who was paid
    /// @param price what the bank paid, in token units
    /// @param amount the piece's face amount
    /// @param discountBps the annualised discount on face, in basis points, rounded down
    /// @param timeToMaturity seconds from the sale to the root's maturity
    /// @param nonce the bank's offer nonce, now used
    event PieceFinanced(
        uint256 indexed pieceId,
        uint256 indexed rootId,
        address indexed bank,
        address seller,
        uint256 price,
        uint256 amount,
        uint256 discountBps,
        uint64 timeToMaturity,
        uint256 nonce
    );
    /// @notice `payer` paid `amount` on `rootId`; `afterDefault` marks a recovery.
    /// @param rootId the root
    /// @param payer who paid (usually the debtor; anyone may)
    /// @param amount paid now
    /// @param repaid total repaid on the root so far
    /// @param outstanding what is still owed
    /// @param afterDefault true when the root had been marked DEFAULTED
    event ReceivableRepaid(
        uint256 indexed rootId,
        address indexed payer,
        uint256 amount,
        uint256 repaid,
        uint256 outstanding,
        bool afterDefault
    );
    /// @notice `holder` of leaf `pieceId` claimed `amount`; `claimed` is the leaf's total now.
    /// @param pieceId the leaf
    /// @param rootId its root
    /// @param holder who claimed and was paid
    /// @param amount paid now
    /// @param claimed total claimed on the leaf so far
    event PieceClaimed(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed holder, uint256 amount, uint256 claimed
    );
    /// @notice Root `rootId` was marked DEFAULTED: unpaid after maturity plus the grace period.
    ///         Repayments are still accepted (as recoveries).
    /// @param rootId the root
    /// @param debtor who defaulted
    /// @param outstanding what was still owed when it was marked
    /// @param by who marked it (anyone may)
    event ReceivableDefaulted(uint256 indexed rootId, address indexed debtor, uint256 outstanding, address by);
    /// @notice The grace period after maturity before a root can be marked DEFAULTED changed.
    /// @param gracePeriod the new grace period, in seconds
    /// @param admin who set it (the deployer for the initial 7 days)
    event GracePeriodSet(uint64 gracePeriod, address admin);

    // -- receivables ---------------------------------------------------------------------

    /// @notice Issues a root to `terms.creditor` with the debtor's signature; debtor or
    ///         creditor submits. The fingerprint is unique for ever.
    function issue(IssueTerms calldata terms, bytes calldata debtorSignature) external returns (uint256 rootId);

    /// @notice The holder splits `pieceId` into 2..32 `children` whose amounts (each > 0) sum
    ///         to the piece's, each held by an active member; the piece is locked from then on.
    function split(uint256 pieceId, Child[] calldata children) external returns (uint256 firstChildId);

    /// @notice The holder accepts `offer`: the bank pays `offer.price` (from its allowance to
    ///         this contract) to the holder and becomes the holder, in one transaction.
    function finance(FinanceOffer calldata offer, bytes calldata bankSignature) external;

    /// @notice Pays `amount` of what is still owed on `rootId` from the caller's allowance.
    function repay(uint256 rootId, uint256 amount) external;

    /// @notice The holder of leaf `pieceId` takes its pro-rata share of what was repaid.
    function claim(uint256 pieceId) external returns (uint256 amount);

    /// @notice Marks `rootId` DEFAULTED once maturity + grace period has passed unpaid.
    function markDefaulted(uint256 rootId) external;

    // -- administration ------------------------------------------------------------------

    /// @notice Sets the grace period after maturity before a root can be marked DEFAULTED (at
    ///         most 365 days); admin only.
    function setGracePeriod(uint64 seconds_) external;

    // -- views ---------------------------------------------------------------------------

    /// @notice A root's terms and money (all zero for an id that is no root).
    function rootOf(uint256 rootId) external view returns (Root memory);

    /// @notice One piece of a tree (all zero for an unknown id).
    function pieceOf(uint256 pieceId) external view returns (Piece memory);

    /// @notice The root's lifecycle status (NONE for an id that is no root).
    function statusOf(uint256 rootId) external view returns (Status);

    /// @notice What the current holder of leaf `pieceId` could claim now.
    function claimable(uint256 pieceId) external view returns (uint256);

    /// @notice What the debtor still owes on `rootId`.
    function outstanding(uint256 rootId) external view returns (uint256);

    /// @notice The number of pieces ever created (the last token id).
    function pieceCount() external view returns (uint256);

    /// @notice The root issued for the invoice with this fingerprint (0 when none).
    function rootIdOfFingerprint(bytes32 fingerprint) external view returns (uint256);

    /// @notice Face value already issued against `orderId`.
    function issuedAgainstOrder(uint256 orderId) external view returns (uint256);

    /// @notice True when `debtor` has already used issuance nonce `nonce`.
    function nonceUsed(address debtor, uint256 nonce) external view returns (bool);

    /// @notice True when an offer with `bank`'s nonce `nonce` was already accepted.
    function offerNonceUsed(address bank, uint256 nonce) external view returns (bool);

    /// @notice Seconds after maturity before an unpaid root can be marked DEFAULTED.
    function gracePeriod() external view returns (uint64);

    /// @notice The Membership registry consulted for every role and every holder.
    function membership() external view returns (address);

    /// @notice The one token receivables are denominated and repaid in.
    function settlementToken() external view returns (address);

    /// @notice The TradeEscrow whose open-account orders receivables pay for.
    function tradeEscrow() external view returns (address);

    /// @notice The EIP-712 digest the debtor signs (type `ReceivableIssue`).
    function issueDigest(IssueTerms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest a bank signs to offer to buy a piece (type `FinanceOffer`).
    function financeOfferDigest(FinanceOffer calldata offer) external view returns (bytes32);

    /// @notice EIP-712 domain separator of the receivables (name "Receivables", version "1").
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
