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

    /// @notice The part of a job's `protocolFee_` charged when only `paidNodes` of its `redundancy` node fees are
    /// paid: the fee is charged on the model price plus the paid node fees, pro rata and rounded down, so the
    /// protocol never keeps a fee on money that goes back to the requester. Never more than `protocolFee_`.
    function protocolShare(uint96 protocolFee_, uint96 modelFee, uint96 feePerNode, uint8 paidNodes, uint8 redundancy)
        internal
        pure
        returns (uint256)
    {
        if (paidNodes == redundancy) return protocolFee_;
        uint256 base = uint256(modelFee) + nodeFees(feePerNode, redundancy);
        if (base == 0) return 0;
        return uint256(protocolFee_) * (uint256(modelFee) + nodeFees(feePerNode, paidNodes)) / base;
    }

    /// @notice Splits `amount` into `bps` of it (rounded down) and the remainder.
    function split(uint256 amount, uint16 bps) internal pure returns (uint256 share, uint256 rest) {
        share = amount * bps / BPS;
        rest = amount - share;
    }
}
