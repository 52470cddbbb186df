// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICreditRegistry
/// @notice Credit limits that banks grant to parties, signed by the bank (EIP-712) and
///         published by anyone. A limit counts only while its bank is an active BANK member
///         and until its `validUntil`; expired limits read as zero.
/// @dev Limits are denominated in `currency()`, the settlement token. Bank nonces are
///      sequential, so a newer grant can never be overwritten by an older signed one.
interface ICreditRegistry {
    /// @notice What a bank signs.
    /// @param limit the credit limit, in units of `currency()`
    /// @param score the bank model's score for the party
    /// @param grade the grade's code in the bank's model (see `LimitPublished`)
    /// @param modelHash hash identifying the scoring model version
    /// @param nonce the bank's next nonce (`nonces(bank)`)
    struct CreditLimit {
        address bank;
        address party;
        uint256 limit;
        uint16 score;
        uint8 grade;
        bytes32 modelHash;
        uint64 validUntil;
        uint256 nonce;
    }

    /// @notice What the registry keeps for a (bank, party) pair.
    struct LimitRecord {
        uint256 limit;
        uint16 score;
        uint8 grade;
        bytes32 modelHash;
        uint64 validUntil;
        uint64 publishedAt;
    }

    /// @notice `bank` is not an active BANK member, so it cannot grant (or revoke) limits.
    /// @param bank the grant's bank, or the caller of `revoke`
    error CreditRegistryNotBank(address bank);
    /// @notice `party` is not an active member; limits are granted to members only.
    /// @param party the grant's party
    error CreditRegistryNotMember(address party);
    /// @notice The signature recovers to `signer`, not to the grant's `bank`; or `bank` is a
    ///         contract (ERC-1271) whose `isValidSignature` refused the signature.
    /// @param bank the bank the grant names
    /// @param signer who did sign (zero when `bank` is a contract that refused the signature)
    error CreditRegistryInvalidSigner(address bank, address signer);
    /// @notice The signature is malformed or malleable (high s); submit the canonical signature.
    error CreditRegistryInvalidSignature();
    /// @notice The grant is already expired at publication; have the bank sign a later `validUntil`.
    /// @param validUntil the grant's expiry
    /// @param nowTimestamp the block time of the refusal
    error CreditRegistryExpired(uint64 validUntil, uint256 nowTimestamp);
    /// @notice `nonce` is not the bank's next nonce `expected`: grants publish in the order the
    ///         bank signed them, each once.
    /// @param bank the bank
    /// @param nonce the grant's nonce
    /// @param expected the nonce the bank must sign next (`nonces(bank)`)
    error CreditRegistryInvalidNonce(address bank, uint256 nonce, uint256 expected);

    /// @notice `bank` granted `party` a limit of `limit` currency units, replacing any earlier one.
    /// @param bank the granting bank, who signed it
    /// @param party who may draw on it
    /// @param limit the limit, in units of `currency()`
    /// @param score the bank model's score for the party
    /// @param grade the grade's code in the bank's model; a raw `uint8` on purpose: the model,
    ///        not the contract, defines its grades, so a new grade table needs no redeploy
    /// @param modelHash hash identifying the scoring model version
    /// @param validUntil the limit reads as zero from this timestamp on
    /// @param nonce the bank's nonce, now used
    /// @param submitter who submitted the signed grant (anyone may)
    event LimitPublished(
        address indexed bank,
        address indexed party,
        uint256 limit,
        uint16 score,
        uint8 grade,
        bytes32 modelHash,
        uint64 validUntil,
        uint256 nonce,
        address submitter
    );
    /// @notice `bank` withdrew the limit it had granted to `party`.
    /// @param bank the bank
    /// @param party the party whose limit is now zero
    event LimitRevoked(address indexed bank, address indexed party);

    /// @notice Publishes a limit signed by its bank; anyone may submit it.
    /// @dev A bank without code signs the EIP-712 `CreditLimit` with ECDSA (low s); a bank with
    ///      code (a multisig) signs by ERC-1271: `isValidSignature(digest, signature)` must
    ///      answer its magic value when the grant is published (a contract's answer can change).
    function publish(CreditLimit calldata grant, bytes calldata signature) external;

    /// @notice The caller (a bank) withdraws its limit for `party` at once.
    function revoke(address party) external;

    /// @notice The usable limit `bank` grants `party` now: zero when expired, revoked or the
    ///         bank is no longer an active bank.
    function limitOf(address bank, address party) external view returns (uint256);

    /// @notice The stored record, expired or not.
    function recordOf(address bank, address party) external view returns (LimitRecord memory);

    /// @notice The next nonce `bank` must sign.
    function nonces(address bank) external view returns (uint256);

    /// @notice The token limits are denominated in.
    function currency() external view returns (address);

    /// @notice EIP-712 domain separator of the registry.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
