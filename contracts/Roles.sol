// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Roles
/// @notice The role flags of `IMembership`, shared by every contract that checks them.
library Roles {
    uint32 internal constant ADMIN = 1 << 0;
    uint32 internal constant CORE = 1 << 1;
    uint32 internal constant SUPPLIER = 1 << 2;
    uint32 internal constant BANK = 1 << 3;
    uint32 internal constant ORACLE = 1 << 4;
    uint32 internal constant ARBITER = 1 << 5;
    uint32 internal constant AUDITOR = 1 << 6;
    uint32 internal constant ALL = (1 << 7) - 1;
}
