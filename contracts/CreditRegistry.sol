// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ICreditRegistry} from "./interfaces/ICreditRegistry.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {Roles} from "./Roles.sol";

/// @title CreditRegistry
/// @notice Bank-signed credit limits, read by TradeEscrow for assured pre-payment.
contract CreditRegistry is ICreditRegistry, EIP712 {
    bytes32 private constant _LIMIT_TYPEHASH = keccak256(
        "CreditLimit(address bank,address party,uint256 limit,uint16 score,uint8 grade,bytes32 modelHash,uint64 validUntil,uint256 nonce)"
    );

    IMembership private immutable _membership;
    address private immutable _currency;
    mapping(address bank => mapping(address party => LimitRecord)) private _records;
    mapping(address bank => uint256) private _nonces;

    constructor(IMembership membership_, address currency_) EIP712("CreditRegistry", "1") {
        _membership = membership_;
        _currency = currency_;
    }

    /// @inheritdoc ICreditRegistry
    function publish(CreditLimit calldata grant, bytes calldata signature) external {
        if (!_membership.hasRole(grant.bank, Roles.BANK)) revert CreditRegistryNotBank(grant.bank);
        if (!_membership.isActive(grant.party)) revert CreditRegistryNotMember(grant.party);
        if (grant.validUntil <= block.timestamp) revert CreditRegistryExpired(grant.validUntil, block.timestamp);
        uint256 expected = _nonces[grant.bank];
        if (grant.nonce != expected) revert CreditRegistryInvalidNonce(grant.bank, grant.nonce, expected);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _LIMIT_TYPEHASH,
                    grant.bank,
                    grant.party,
                    grant.limit,
                    grant.score,
                    grant.grade,
                    grant.modelHash,
                    grant.validUntil,
                    grant.nonce
                )
            )
        );
        _requireBankSignature(grant.bank, digest, signature);
        _nonces[grant.bank] = expected + 1;
        _records[grant.bank][grant.party] = LimitRecord({
            limit: grant.limit,
            score: grant.score,
            grade: grant.grade,
            modelHash: grant.modelHash,
            validUntil: grant.validUntil,
            publishedAt: uint64(block.timestamp)
        });
        emit LimitPublished(
            grant.bank,
            grant.party,
            grant.limit,
            grant.score,
            grant.grade,
            grant.modelHash,
            grant.validUntil,
            grant.nonce,
            msg.sender
        );
    }

    /// @inheritdoc ICreditRegistry
    function revoke(address party) external {
        if (!_membership.hasRole(msg.sender, Roles.BANK)) revert CreditRegistryNotBank(msg.sender);
        delete _records[msg.sender][party];
        emit LimitRevoked(msg.sender, party);
    }

    /// @inheritdoc ICreditRegistry
    function limitOf(address bank, address party) external view returns (uint256) {
        LimitRecord storage record = _records[bank][party];
        if (record.validUntil <= block.timestamp || !_membership.hasRole(bank, Roles.BANK)) return 0;
        return record.limit;
    }

    /// @inheritdoc ICreditRegistry
    function recordOf(address bank, address party) external view returns (LimitRecord memory) {
        return _records[bank][party];
    }

    /// @inheritdoc ICreditRegistry
    function nonces(address bank) external view returns (uint256) {
        return _nonces[bank];
    }

    /// @inheritdoc ICreditRegistry
    function currency() external view returns (address) {
        return _currency;
    }

    /// @inheritdoc ICreditRegistry
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev A bank with code (a multisig) signs by ERC-1271: its `isValidSignature` decides, and a
    ///      refusal names no recovered signer. A bank without code signs with ECDSA (low s only).
    function _requireBankSignature(address bank, bytes32 digest, bytes calldata signature) private view {
        if (bank.code.length != 0) {
            if (!SignatureChecker.isValidERC1271SignatureNow(bank, digest, signature)) {
                revert CreditRegistryInvalidSigner(bank, address(0));
            }
            return;
        }
        (address signer, ECDSA.RecoverError failure,) = ECDSA.tryRecover(digest, signature);
        if (failure != ECDSA.RecoverError.NoError) revert CreditRegistryInvalidSignature();
        if (signer != bank) revert CreditRegistryInvalidSigner(bank, signer);
    }
}
