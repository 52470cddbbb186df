// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Roles} from "./Roles.sol";

/// @title SettlementToken
/// @notice Devnet tokenized deposits (6 decimals, EIP-2612 permit), minted by banks.
contract SettlementToken is ERC20, ERC20Permit, ISettlementToken {
    IMembership private immutable _membership;

    constructor(IMembership membership_, string memory name_, string memory symbol_)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _membership = membership_;
    }

    /// @inheritdoc ISettlementToken
    function mint(address to, uint256 amount) external {
        if (!_membership.hasRole(msg.sender, Roles.BANK)) revert SettlementTokenUnauthorizedMinter(msg.sender);
        if (to == address(0) || amount == 0) revert SettlementTokenInvalidMint(to, amount);
        _mint(to, amount);
        emit DepositsMinted(msg.sender, to, amount);
    }

    /// @inheritdoc ISettlementToken
    function redeem(uint256 amount) external {
        _burn(msg.sender, amount);
        emit DepositsRedeemed(msg.sender, amount);
    }

    /// @inheritdoc ISettlementToken
    function membership() external view returns (address) {
        return address(_membership);
    }

    /// @notice Token units are millionths, like the fiat deposits they stand for.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc ERC20Permit
    function nonces(address owner) public view override(ERC20Permit, IERC20Permit) returns (uint256) {
        return super.nonces(owner);
    }
}
