// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IGroth16Verifier} from "../verifiers/zk/IGroth16Verifier.sol";

/// @title AlwaysTrueGroth16Verifier
/// @notice Test-only rogue verifier: it claims any key it was given (`verifyingKey`) and accepts every proof, the
/// contract a model owner would bind to have its nodes settle ZK jobs without proving anything. The registry must
/// refuse it in a ZK binding whatever key it claims.
contract AlwaysTrueGroth16Verifier is IGroth16Verifier {
    uint256[18] internal _claimedKey;

    constructor(uint256[18] memory claimedKey) {
        _claimedKey = claimedKey;
    }

    /// @notice Accepts any proof.
    function verifyProof(uint256[2] calldata, uint256[2][2] calldata, uint256[2] calldata, uint256[1] calldata)
        external
        pure
        returns (bool)
    {
        return true;
    }

    /// @notice Accepts any batch.
    function verifyBatch(Proof[] calldata, uint256[] calldata) external pure returns (bool) {
        return true;
    }

    /// @notice The key it claims to hold.
    function verifyingKey() external view returns (uint256[18] memory) {
        return _claimedKey;
    }
}
