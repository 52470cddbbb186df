// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MultisigWallet (tests only)
/// @notice A Safe-like 2-of-3 wallet, for the tests of contract-wallet parties (ERC-1271): never
///         deployed by `scf deploy` and not under `contracts/`. Like a Safe with Safe's
///         CompatibilityFallbackHandler, it signs a hash by having two distinct owners sign the
///         wallet's own EIP-712 message `SafeMessage(bytes message)`, where `message` is the hash
///         ABI-encoded, in the wallet's own domain `EIP712Domain(uint256 chainId,address
///         verifyingContract)`: two owners' signatures for one wallet are worth nothing for another.
///         It sends its own transactions (`execTransaction`) on two owners' signatures of
///         `SafeTx(address to,uint256 value,bytes data,uint256 nonce)`, each nonce once.
/// @dev Signatures are 65-byte r‖s‖v ECDSA signatures (v 27 or 28, low s), concatenated in
///      strictly ascending order of their owners' addresses, as Safe wants them: that order is
///      what makes a duplicated owner fail. Owners are keys (no contract owners, no approved
///      hashes, no eth_sign-style v). A refusal reverts, as Safe's handler does.
contract MultisigWallet {
    bytes4 private constant _MAGIC_VALUE = 0x1626ba7e; // bytes4(keccak256("isValidSignature(bytes32,bytes)"))
    bytes32 private constant _DOMAIN_TYPEHASH = keccak256("EIP712Domain(uint256 chainId,address verifyingContract)");
    bytes32 private constant _SAFE_MESSAGE_TYPEHASH = keccak256("SafeMessage(bytes message)");
    bytes32 private constant _SAFE_TX_TYPEHASH = keccak256("SafeTx(address to,uint256 value,bytes data,uint256 nonce)");
    uint256 private constant _HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant _THRESHOLD = 2;

    address[3] private _owners;
    uint256 private _nonce;

    /// @notice Fewer signatures than the threshold, or a length that is not a whole number of them.
    /// @param length the signatures' length in bytes
    /// @param needed the threshold, in signatures
    error MultisigWalletTooFewSignatures(uint256 length, uint256 needed);
    /// @notice The signature at `index` is malformed (v not 27/28, high s, no point).
    /// @param index its position among the concatenated signatures
    error MultisigWalletMalformedSignature(uint256 index);
    /// @notice The signature at `index` recovers to `signer`, who is not an owner.
    /// @param index its position among the concatenated signatures
    /// @param signer who signed it
    error MultisigWalletNotOwner(uint256 index, address signer);
    /// @notice The signature at `index` is by `signer`, not above the previous owner's address: owners
    ///         sign once each, in ascending order of address.
    /// @param index its position among the concatenated signatures
    /// @param signer who signed it
    error MultisigWalletOwnersNotAscending(uint256 index, address signer);
    /// @notice Three distinct owners, none zero, are needed.
    error MultisigWalletInvalidOwners();

    /// @notice The wallet called `to` with `value` and `data` under nonce `nonce`.
    /// @param nonce the transaction's nonce
    /// @param to the callee
    /// @param value wei sent along
    /// @param data the calldata
    event TransactionExecuted(uint256 indexed nonce, address indexed to, uint256 value, bytes data);

    constructor(address[3] memory owners_) {
        for (uint256 i = 0; i < 3; i++) {
            if (owners_[i] == address(0)) revert MultisigWalletInvalidOwners();
            for (uint256 j = 0; j < i; j++) {
                if (owners_[j] == owners_[i]) revert MultisigWalletInvalidOwners();
            }
        }
        _owners = owners_;
    }

    receive() external payable {}

    /// @notice ERC-1271: `0x1626ba7e` when two distinct owners signed `hash` as this wallet's
    ///         `SafeMessage`; reverts otherwise (see the errors).
    function isValidSignature(bytes32 hash, bytes calldata signatures) external view returns (bytes4) {
        _checkSignatures(messageHash(hash), signatures);
        return _MAGIC_VALUE;
    }

    /// @notice Calls `to` with `value` and `data` as this wallet, on two owners' signatures of the
    ///         `SafeTx` at the current nonce; a failed call reverts with the callee's revert data.
    function execTransaction(address to, uint256 value, bytes calldata data, bytes calldata signatures)
        external
        returns (bytes memory result)
    {
        uint256 nonce_ = _nonce;
        _checkSignatures(transactionHash(to, value, data, nonce_), signatures);
        _nonce = nonce_ + 1;
        emit TransactionExecuted(nonce_, to, value, data);
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    /// @notice The digest the owners sign for `hash`: the EIP-712 `SafeMessage` over `abi.encode(hash)`.
    function messageHash(bytes32 hash) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(_SAFE_MESSAGE_TYPEHASH, keccak256(abi.encode(hash))));
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    /// @notice The digest the owners sign to have the wallet call `to`.
    function transactionHash(address to, uint256 value, bytes calldata data, uint256 nonce_)
        public
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(_SAFE_TX_TYPEHASH, to, value, keccak256(data), nonce_));
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    /// @notice The wallet's EIP-712 domain separator (chain id and this address only, as Safe's).
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, block.chainid, address(this)));
    }

    /// @notice The three owners.
    function owners() external view returns (address[3] memory) {
        return _owners;
    }

    /// @notice The nonce the next `execTransaction` must be signed for.
    function nonce() external view returns (uint256) {
        return _nonce;
    }

    function _checkSignatures(bytes32 digest, bytes calldata signatures) private view {
        if (signatures.length < 65 * _THRESHOLD || signatures.length % 65 != 0) {
            revert MultisigWalletTooFewSignatures(signatures.length, _THRESHOLD);
        }
        address previous = address(0);
        for (uint256 i = 0; i < _THRESHOLD; i++) {
            bytes32 r = bytes32(signatures[i * 65:i * 65 + 32]);
            bytes32 s = bytes32(signatures[i * 65 + 32:i * 65 + 64]);
            uint8 v = uint8(signatures[i * 65 + 64]);
            if ((v != 27 && v != 28) || uint256(s) > _HALF_N) revert MultisigWalletMalformedSignature(i);
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) revert MultisigWalletMalformedSignature(i);
            if (signer <= previous) revert MultisigWalletOwnersNotAscending(i, signer);
            if (!_isOwner(signer)) revert MultisigWalletNotOwner(i, signer);
            previous = signer;
        }
    }

    function _isOwner(address who) private view returns (bool) {
        return who == _owners[0] || who == _owners[1] || who == _owners[2];
    }
}
