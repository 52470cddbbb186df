// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMembership} from "./interfaces/IMembership.sol";
import {Roles} from "./Roles.sol";

/// @title Membership
/// @notice Admin-managed registry of the ledger's parties and their roles.
/// @dev Admins are members holding Roles.ADMIN; the deployer is the first. The registry
///      refuses any change that would leave it without an active admin, because nobody
///      could then admit or suspend anyone again.
contract Membership is IMembership {
    mapping(address party => Member) private _members;
    uint256 private _memberCount;
    uint256 private _activeAdminCount;

    constructor(address admin, bytes32 adminKycHash) {
        _admit(admin, Roles.ADMIN, OracleKind.NONE, adminKycHash, admin);
    }

    modifier onlyAdmin() {
        if (!hasRole(msg.sender, Roles.ADMIN)) revert MembershipUnauthorizedAccount(msg.sender, Roles.ADMIN);
        _;
    }

    /// @inheritdoc IMembership
    function admit(address party, uint32 roles, OracleKind kind, bytes32 kycHash) external onlyAdmin {
        _admit(party, roles, kind, kycHash, msg.sender);
    }

    /// @inheritdoc IMembership
    function setRoles(address party, uint32 roles, OracleKind kind) external onlyAdmin {
        Member storage member = _existing(party);
        _checkRoles(party, roles, kind);
        uint32 previous = member.roles;
        bool wasCountedAdmin = member.status == Status.ACTIVE && previous & Roles.ADMIN != 0;
        bool isCountedAdmin = member.status == Status.ACTIVE && roles & Roles.ADMIN != 0;
        if (wasCountedAdmin && !isCountedAdmin) _dropAdmin(party);
        if (!wasCountedAdmin && isCountedAdmin) _activeAdminCount += 1;
        member.roles = roles;
        member.oracleKind = kind;
        emit MemberRolesChanged(party, previous, roles, kind, msg.sender);
    }

    /// @inheritdoc IMembership
    function updateKyc(address party, bytes32 kycHash) external onlyAdmin {
        Member storage member = _existing(party);
        bytes32 previous = member.kycHash;
        member.kycHash = kycHash;
        emit MemberKycUpdated(party, previous, kycHash, msg.sender);
    }

    /// @inheritdoc IMembership
    function suspend(address party, bytes32 reasonHash) external onlyAdmin {
        Member storage member = _existing(party);
        if (member.status == Status.SUSPENDED) revert MembershipAlreadySuspended(party);
        if (member.roles & Roles.ADMIN != 0) _dropAdmin(party);
        member.status = Status.SUSPENDED;
        emit MemberSuspended(party, reasonHash, msg.sender);
    }

    /// @inheritdoc IMembership
    function reinstate(address party) external onlyAdmin {
        Member storage member = _existing(party);
        if (member.status != Status.SUSPENDED) revert MembershipNotSuspended(party);
        member.status = Status.ACTIVE;
        if (member.roles & Roles.ADMIN != 0) _activeAdminCount += 1;
        emit MemberReinstated(party, msg.sender);
    }

    /// @inheritdoc IMembership
    function hasRole(address party, uint32 role) public view returns (bool) {
        Member storage member = _members[party];
        return member.status == Status.ACTIVE && role != 0 && member.roles & role == role;
    }

    /// @inheritdoc IMembership
    function isActive(address party) external view returns (bool) {
        return _members[party].status == Status.ACTIVE;
    }

    /// @inheritdoc IMembership
    function isOracle(address party, OracleKind kind) external view returns (bool) {
        return hasRole(party, Roles.ORACLE) && kind != OracleKind.NONE && _members[party].oracleKind == kind;
    }

    /// @inheritdoc IMembership
    function memberOf(address party) external view returns (Member memory) {
        return _members[party];
    }

    /// @inheritdoc IMembership
    function memberCount() external view returns (uint256) {
        return _memberCount;
    }

    /// @inheritdoc IMembership
    function activeAdminCount() external view returns (uint256) {
        return _activeAdminCount;
    }

    function _admit(address party, uint32 roles, OracleKind kind, bytes32 kycHash, address admin) private {
        if (party == address(0)) revert MembershipZeroAddress();
        if (_members[party].status != Status.NONE) revert MembershipAlreadyMember(party);
        _checkRoles(party, roles, kind);
        _members[party] = Member({
            roles: roles,
            oracleKind: kind,
            status: Status.ACTIVE,
            kycHash: kycHash,
            admittedAt: uint64(block.timestamp)
        });
        _memberCount += 1;
        if (roles & Roles.ADMIN != 0) _activeAdminCount += 1;
        emit MemberAdmitted(party, roles, kind, kycHash, admin);
    }

    function _existing(address party) private view returns (Member storage member) {
        member = _members[party];
        if (member.status == Status.NONE) revert MembershipNotMember(party);
    }

    function _dropAdmin(address party) private {
        if (_activeAdminCount == 1) revert MembershipLastAdmin(party);
        _activeAdminCount -= 1;
    }

    function _checkRoles(address party, uint32 roles, OracleKind kind) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert MembershipInvalidRoles(roles);
        if ((roles & Roles.ORACLE != 0) != (kind != OracleKind.NONE)) {
            revert MembershipOracleKindMismatch(party, roles, kind);
        }
    }
}
