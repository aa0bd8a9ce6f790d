// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IBatchInferenceVerifier} from "../interfaces/IBatchInferenceVerifier.sol";
import {Mode, ModelId, ModesLib} from "../types/Ids.sol";

/// @title VanillaVerifier
/// @notice The vanilla mode: no proof. Every well-formed result passes; trust comes from the nodes' stake and,
/// for redundant jobs, from agreement among independent nodes (commit-reveal and majority in the escrow).
/// @dev Warning: a vanilla job with redundancy 1 is backed by one node's stake only; nothing checks its output.
/// @dev Batches are accepted too, so a node can settle many k = 1 vanilla jobs in one transaction.
contract VanillaVerifier is IBatchInferenceVerifier {
    /// @inheritdoc IInferenceVerifier
    function mode() external pure returns (Mode) {
        return ModesLib.VANILLA;
    }

    // Empty on purpose: the vanilla mode has no proof to check.
    // solhint-disable no-empty-blocks
    /// @inheritdoc IInferenceVerifier
    function verify(InferenceClaim calldata, bytes calldata) external pure {}

    /// @inheritdoc IBatchInferenceVerifier
    function verifyBatch(InferenceClaim[] calldata, bytes calldata) external pure {}

    /// @inheritdoc IInferenceVerifier
    function checksRequests() external pure returns (bool) {
        return false;
    }

    /// @inheritdoc IInferenceVerifier
    function checkRequest(ModelId, uint32, uint8, bytes32) external pure {}

    // solhint-enable no-empty-blocks

    /// @inheritdoc IInferenceVerifier
    /// @dev Nothing in this mode changes after a claim: a node that did not deliver has no excuse.
    function excuses(address, ModelId, uint32, uint64, uint64) external pure returns (bool) {
        return false;
    }
}
