// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title ISettlementToken
/// @notice The devnet stand-in for tokenized bank deposits: an ERC-20 with EIP-2612 permit,
///         6 decimals, issued only by banks registered in Membership. On a real network the
///         deployment points at an existing token instead.
interface ISettlementToken is IERC20, IERC20Permit {
    /// @notice `caller` is not an active bank member and may not mint.
    /// @param caller the account that tried
    error SettlementTokenUnauthorizedMinter(address caller);
    /// @notice Minting to the zero address or minting nothing.
    /// @param to the recipient given
    /// @param amount the amount given
    error SettlementTokenInvalidMint(address to, uint256 amount);

    /// @notice `bank` issued `amount` new deposit tokens to `to`.
    /// @param bank the issuing bank
    /// @param to the recipient
    /// @param amount tokens minted, in units of 10^-6
    event DepositsMinted(address indexed bank, address indexed to, uint256 amount);
    /// @notice `holder` redeemed (burned) `amount` deposit tokens.
    /// @param holder whose tokens were burned
    /// @param amount tokens burned, in units of 10^-6
    event DepositsRedeemed(address indexed holder, uint256 amount);

    /// @notice Issues `amount` tokens to `to`; only an active bank member may.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's tokens (redeeming the deposit off chain).
    function redeem(uint256 amount) external;

    /// @notice The Membership registry consulted for the bank role.
    function membership() external view returns (address);
}
