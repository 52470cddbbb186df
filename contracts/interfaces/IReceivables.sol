// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

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

    /// @notice What the debtor signs.
    /// @param invoiceNumber the invoice number as printed, in ASCII; the contract normalises it
    ///        into the canonical invoice key (see `normaliseInvoiceNumber`) and refuses any byte
    ///        outside its alphabet
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
        string invoiceNumber;
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
        bytes32 invoiceKey;
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

    error ReceivablesUnauthorized(address caller);
    error ReceivablesNotParty(address debtor, address creditor, address caller);
    error ReceivablesDebtorNotEligible(address debtor);
    error ReceivablesCreditorNotEligible(address creditor);
    error ReceivablesSelfIssue(address party);
    error ReceivablesTokenNotAllowed(address token);
    error ReceivablesInvalidAmount(uint256 amount);
    error ReceivablesInvalidMaturity(uint64 maturity, uint256 nowTimestamp);
    error ReceivablesSignatureExpired(uint64 deadline, uint256 nowTimestamp);
    error ReceivablesNonceUsed(address debtor, uint256 nonce);
    /// @notice The signature's s is in the upper half of the curve order (`s` is that value).
    error ReceivablesMalleableSignature(uint256 s);
    error ReceivablesInvalidSigner(address expected, address recovered);
    /// @notice The invoice number is empty once normalised or longer than `maxLength` bytes.
    error ReceivablesInvalidInvoiceNumber(string invoiceNumber, uint256 maxLength);
    /// @notice Byte `character` at byte offset `position` of `invoiceNumber` is outside the
    ///         invoice-number alphabet (ASCII letters, digits and the separators of
    ///         `normaliseInvoiceNumber`): any non-ASCII byte, a control character or other
    ///         punctuation. Fold the number to ASCII first (off chain: Unicode NFKC, zero-width
    ///         characters removed), so that look-alike spellings cannot make a second key.
    error ReceivablesInvoiceNumberCharacterRefused(string invoiceNumber, uint256 position, bytes1 character);
    error ReceivablesInvoiceAlreadyIssued(bytes32 invoiceKey, uint256 rootId);
    error ReceivablesOrderNotOpenAccount(uint256 orderId);
    error ReceivablesOrderNotDelivered(uint256 orderId, uint8 status, bool inspectionRequired);
    error ReceivablesOrderMismatch(uint256 orderId, address buyer, address supplier, address token);
    error ReceivablesOrderAmountExceeded(uint256 orderId, uint256 faceValue, uint256 available);
    error ReceivablesUnknownPiece(uint256 pieceId);
    error ReceivablesNotRoot(uint256 pieceId, uint256 rootId);
    error ReceivablesNotHolder(uint256 pieceId, address caller);
    error ReceivablesPieceSplit(uint256 pieceId, uint32 childCount);
    error ReceivablesPieceHasClaims(uint256 pieceId, uint256 claimed);
    error ReceivablesInvalidSplitCount(uint256 count, uint256 minCount, uint256 maxCount);
    error ReceivablesZeroSplitAmount(uint256 pieceId, uint256 index);
    error ReceivablesSplitSumMismatch(uint256 pieceId, uint256 sum, uint256 amount);
    error ReceivablesRecipientNotMember(address recipient);
    error ReceivablesNotBank(address bank);
    error ReceivablesSelfFinance(address bank);
    error ReceivablesOfferExpired(uint64 deadline, uint256 nowTimestamp);
    error ReceivablesOfferReplayed(address bank, uint256 nonce);
    error ReceivablesAlreadyFinanced(uint256 pieceId);
    error ReceivablesInvalidPrice(uint256 pieceId, uint256 price, uint256 amount);
    error ReceivablesMatured(uint256 rootId, uint64 maturity, uint256 nowTimestamp);
    error ReceivablesRootDefaulted(uint256 rootId, uint64 defaultedAt);
    error ReceivablesRootRepaid(uint256 rootId);
    error ReceivablesRepaymentExceedsOutstanding(uint256 rootId, uint256 amount, uint256 outstanding);
    error ReceivablesNothingToClaim(uint256 pieceId);
    error ReceivablesGraceNotOver(uint256 rootId, uint256 defaultableAfter, uint256 nowTimestamp);
    error ReceivablesInvalidGracePeriod(uint64 gracePeriod, uint64 maxGracePeriod);

    // -- events --------------------------------------------------------------------------

    /// @notice Root `rootId` (also its token id) was issued to `creditor`; `invoiceKey` is
    ///         keccak256(abi.encode(debtor, creditor, normalised invoice number)).
    event ReceivableIssued(
        uint256 indexed rootId,
        address indexed debtor,
        address indexed creditor,
        address token,
        uint256 faceValue,
        uint64 maturity,
        bytes32 invoiceHash,
        bytes32 invoiceKey,
        string invoiceNumber,
        uint256 orderId,
        uint256 nonce,
        address submitter
    );
    /// @notice `holder` split `pieceId` into `childCount` children numbered from `firstChildId`.
    event PieceSplit(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed holder, uint256 firstChildId, uint32 childCount
    );
    /// @notice One child of a split: with PieceSplit and ReceivableIssued the whole tree.
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
    event ReceivableRepaid(
        uint256 indexed rootId,
        address indexed payer,
        uint256 amount,
        uint256 repaid,
        uint256 outstanding,
        bool afterDefault
    );
    /// @notice `holder` of leaf `pieceId` claimed `amount`; `claimed` is the leaf's total now.
    event PieceClaimed(
        uint256 indexed pieceId, uint256 indexed rootId, address indexed holder, uint256 amount, uint256 claimed
    );
    event ReceivableDefaulted(uint256 indexed rootId, address indexed debtor, uint256 outstanding, address by);
    event GracePeriodSet(uint64 gracePeriod, address admin);

    // -- receivables ---------------------------------------------------------------------

    /// @notice Issues a root to `terms.creditor` with the debtor's signature; debtor or
    ///         creditor submits. The invoice key is unique for ever.
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

    function setGracePeriod(uint64 seconds_) external;

    // -- views ---------------------------------------------------------------------------

    function rootOf(uint256 rootId) external view returns (Root memory);

    function pieceOf(uint256 pieceId) external view returns (Piece memory);

    function statusOf(uint256 rootId) external view returns (Status);

    /// @notice What the current holder of leaf `pieceId` could claim now.
    function claimable(uint256 pieceId) external view returns (uint256);

    function outstanding(uint256 rootId) external view returns (uint256);

    /// @notice The number of pieces ever created (the last token id).
    function pieceCount() external view returns (uint256);

    /// @notice The root issued for an invoice key (0 when none).
    function rootIdOfInvoice(bytes32 key) external view returns (uint256);

    /// @notice keccak256(abi.encode(debtor, creditor, bytes(normaliseInvoiceNumber(invoiceNumber)))):
    ///         the key `issue` refuses to use twice. Reverts as `normaliseInvoiceNumber` does.
    function invoiceKey(address debtor, address creditor, string calldata invoiceNumber)
        external
        pure
        returns (bytes32);

    /// @notice The canonical invoice number, byte by byte over at most 64 bytes:
    ///         - `A`-`Z`: lower-cased (`a`-`z`), kept;
    ///         - `a`-`z`: kept;
    ///         - `0`-`9`: a run of digits keeps its digits but its leading zeros (a run of
    ///           zeros keeps one `0`); any non-digit byte ends the run;
    ///         - separators: tab, LF, VT, FF, CR (0x09-0x0D), space, `#`, `-`, `.`, `/`, `:`,
    ///           `\`, `_`: end a digit run, then dropped;
    ///         - any other byte (every byte above 0x7F, the other control characters, other
    ///           punctuation): reverts `ReceivablesInvoiceNumberCharacterRefused`.
    ///         So `INV-2024-0001`, `inv_2024.1` and `inv 2024 1` are one invoice, `inv20241`.
    ///         Reverts `ReceivablesInvalidInvoiceNumber` when longer than 64 bytes or empty once
    ///         normalised.
    /// @dev Folding separators can make two numbers that really differ collide (`INV-1-2` and
    ///      `INV-12` are both `inv12`): the second is refused as already issued. That is the
    ///      safe direction: a debtor asked to re-number, never one invoice financed twice.
    function normaliseInvoiceNumber(string calldata invoiceNumber) external pure returns (string memory);

    /// @notice Face value already issued against `orderId`.
    function issuedAgainstOrder(uint256 orderId) external view returns (uint256);

    function nonceUsed(address debtor, uint256 nonce) external view returns (bool);

    function offerNonceUsed(address bank, uint256 nonce) external view returns (bool);

    function gracePeriod() external view returns (uint64);

    function membership() external view returns (address);

    function settlementToken() external view returns (address);

    function tradeEscrow() external view returns (address);

    function issueDigest(IssueTerms calldata terms) external view returns (bytes32);

    function financeOfferDigest(FinanceOffer calldata offer) external view returns (bytes32);

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
