// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IMembership
/// @notice Registry of KYC'd parties of the ledger and the roles they hold. Every other
///         contract asks it who may do what; the indexer and auditors learn every change
///         from its events.
/// @dev Roles are bit flags so that one party can be, say, a core enterprise and a supplier
///      at once. A suspended member keeps its roles but `hasRole` answers false until it is
///      reinstated, so a suspension is reversible without losing what was granted.
interface IMembership {
    /// @notice Kind of an oracle member; only meaningful with the ORACLE role.
    enum OracleKind {
        NONE,
        CARRIER,
        INSPECTOR,
        CUSTOMS
    }

    /// @notice Lifecycle of a party in the registry.
    enum Status {
        NONE,
        ACTIVE,
        SUSPENDED
    }

    /// @notice What the registry knows of one party.
    /// @param roles bit set of ROLE_* flags
    /// @param oracleKind the oracle's kind when `roles` has ROLE_ORACLE, else NONE
    /// @param status ACTIVE or SUSPENDED (NONE for a stranger)
    /// @param kycHash hash of the off-chain KYC file; the file itself never goes on chain
    /// @param admittedAt block timestamp of admission
    struct Member {
        uint32 roles;
        OracleKind oracleKind;
        Status status;
        bytes32 kycHash;
        uint64 admittedAt;
    }

    /// @notice The caller lacks `role` (or is not an active member).
    /// @param account the caller
    /// @param role the role bits it needed
    error MembershipUnauthorizedAccount(address account, uint32 role);
    /// @notice The zero address cannot be a member.
    error MembershipZeroAddress();
    /// @notice `party` is already in the registry; change its roles with `setRoles`.
    /// @param party the party
    error MembershipAlreadyMember(address party);
    /// @notice `party` is not in the registry.
    /// @param party the party
    error MembershipNotMember(address party);
    /// @notice `roles` is empty or holds bits that name no role.
    /// @param roles the role bits given
    error MembershipInvalidRoles(uint32 roles);
    /// @notice ORACLE role and oracle kind must come together: both or neither.
    /// @param party the party
    /// @param roles the role bits given
    /// @param kind the oracle kind given
    error MembershipOracleKindMismatch(address party, uint32 roles, OracleKind kind);
    /// @notice The change would leave the registry without an active admin.
    /// @param admin the last active admin
    error MembershipLastAdmin(address admin);
    /// @notice `party` is already suspended.
    /// @param party the party
    error MembershipAlreadySuspended(address party);
    /// @notice `party` is not suspended, so there is nothing to reinstate.
    /// @param party the party
    error MembershipNotSuspended(address party);

    /// @notice `party` was admitted with `roles` by `admin`.
    /// @param party the new member
    /// @param roles its role bits
    /// @param oracleKind its oracle kind (NONE unless it has ROLE_ORACLE)
    /// @param kycHash hash of its off-chain KYC file
    /// @param admin who admitted it (the first admin names itself, at deployment)
    event MemberAdmitted(
        address indexed party, uint32 roles, OracleKind oracleKind, bytes32 kycHash, address indexed admin
    );
    /// @notice The roles of `party` changed from `previousRoles` to `roles`.
    /// @param party the member
    /// @param previousRoles its role bits before
    /// @param roles its role bits now
    /// @param oracleKind its oracle kind now
    /// @param admin who changed them
    event MemberRolesChanged(
        address indexed party, uint32 previousRoles, uint32 roles, OracleKind oracleKind, address indexed admin
    );
    /// @notice The KYC file of `party` was replaced.
    /// @param party the member
    /// @param previousKycHash the hash before
    /// @param kycHash the hash now
    /// @param admin who replaced it
    event MemberKycUpdated(address indexed party, bytes32 previousKycHash, bytes32 kycHash, address indexed admin);
    /// @notice `party` was suspended; `reasonHash` points at the off-chain reason.
    /// @param party the member, whose roles stop counting
    /// @param reasonHash hash of the off-chain reason
    /// @param admin who suspended it
    event MemberSuspended(address indexed party, bytes32 reasonHash, address indexed admin);
    /// @notice `party` was reinstated after a suspension.
    /// @param party the member, whose roles count again
    /// @param admin who reinstated it
    event MemberReinstated(address indexed party, address indexed admin);

    /// @notice Admits `party` with `roles`; `kind` must be set exactly when ROLE_ORACLE is.
    function admit(address party, uint32 roles, OracleKind kind, bytes32 kycHash) external;

    /// @notice Replaces the roles (and oracle kind) of an existing member.
    function setRoles(address party, uint32 roles, OracleKind kind) external;

    /// @notice Replaces the KYC file hash of an existing member.
    function updateKyc(address party, bytes32 kycHash) external;

    /// @notice Suspends an active member; its roles stop counting until reinstated.
    function suspend(address party, bytes32 reasonHash) external;

    /// @notice Reinstates a suspended member.
    function reinstate(address party) external;

    /// @notice True when `party` is an active member holding every bit of `role`.
    function hasRole(address party, uint32 role) external view returns (bool);

    /// @notice True when `party` is an active member.
    function isActive(address party) external view returns (bool);

    /// @notice True when `party` is an active oracle of `kind`.
    function isOracle(address party, OracleKind kind) external view returns (bool);

    /// @notice The registry's record of `party` (all zero for a stranger).
    function memberOf(address party) external view returns (Member memory);

    /// @notice Number of parties ever admitted.
    function memberCount() external view returns (uint256);

    /// @notice Number of active members holding ROLE_ADMIN.
    function activeAdminCount() external view returns (uint256);
}
