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

    /// @notice `bank` is not an active BANK member.
    error CreditRegistryNotBank(address bank);
    /// @notice `party` is not an active member.
    error CreditRegistryNotMember(address party);
    /// @notice The signature recovers to `signer`, not to the grant's `bank`.
    error CreditRegistryInvalidSigner(address bank, address signer);
    /// @notice The signature is malformed or malleable (high s).
    error CreditRegistryInvalidSignature();
    /// @notice The grant is already expired at publication.
    error CreditRegistryExpired(uint64 validUntil, uint256 nowTimestamp);
    /// @notice `nonce` is not the bank's next nonce `expected`.
    error CreditRegistryInvalidNonce(address bank, uint256 nonce, uint256 expected);

    /// @notice `bank` granted `party` a limit of `limit` currency units.
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
    event LimitRevoked(address indexed bank, address indexed party);

    /// @notice Publishes a limit signed by its bank; anyone may submit it.
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
