// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title FeesLib
/// @notice Price and split arithmetic of a job. Payouts round down; what rounding leaves goes to the party
/// named as taking the remainder, so no wei is created or lost.
library FeesLib {
    uint256 internal constant BPS = 10_000;

    /// @notice The protocol fee on `base` at `bps`, rounded down.
    function protocolFee(uint256 base, uint16 bps) internal pure returns (uint256) {
        return base * bps / BPS;
    }

    /// @notice The node fees of a job with `redundancy` slots.
    function nodeFees(uint96 feePerNode, uint8 redundancy) internal pure returns (uint256) {
        return uint256(feePerNode) * redundancy;
    }

    /// @notice Everything a job escrows: model price, all node fees and the protocol fee.
    function total(uint96 modelFee, uint96 feePerNode, uint8 redundancy, uint96 protocolFee_)
        internal
        pure
        returns (uint256)
    {
        return uint256(modelFee) + nodeFees(feePerNode, redundancy) + protocolFee_;
    }

    /// @notice Splits `amount` into `bps` of it (rounded down) and the remainder.
    function split(uint256 amount, uint16 bps) internal pure returns (uint256 share, uint256 rest) {
        share = amount * bps / BPS;
        rest = amount - share;
    }
}
