// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title P256Lib
/// @notice ECDSA P-256 verification through the precompile at 0x100 (RIP-7212 on L2s, EIP-7951 on L1).
/// @dev Input: hash ‖ r ‖ s ‖ x ‖ y (5 × 32 bytes); output: 32 bytes equal to 1 if valid, nothing otherwise.
/// On a chain without the precompile the call returns nothing and every signature is refused.
library P256Lib {
    /// @notice The precompile's address.
    address internal constant PRECOMPILE = address(0x100);

    /// @notice Whether (r, s) is a valid signature of `digest` by the key (x, y).
    function verify(bytes32 digest, uint256 r, uint256 s, bytes32 x, bytes32 y) internal view returns (bool) {
        (bool success, bytes memory output) = PRECOMPILE.staticcall(abi.encode(digest, r, s, x, y));
        return success && output.length == 32 && uint256(bytes32(output)) == 1;
    }
}
