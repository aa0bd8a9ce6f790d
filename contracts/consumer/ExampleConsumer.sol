// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {InferenceConsumerBase} from "./InferenceConsumerBase.sol";
import {JobId} from "../types/Ids.sol";

/// @title ExampleConsumer
/// @notice Stores the latest verified outcome of each job it is told about, for example a risk score that a
/// lending market reads.
contract ExampleConsumer is InferenceConsumerBase {
    /// @notice An outcome as delivered.
    struct Outcome {
        bool delivered;
        bool settled;
        bytes32 outputHash;
        bytes output;
    }

    /// @notice Emitted when an outcome arrives.
    event OutcomeReceived(JobId indexed jobId, bool settled, bytes32 outputHash);

    mapping(JobId => Outcome) internal _outcomes;

    constructor(address escrow_) InferenceConsumerBase(escrow_) {}

    /// @notice The outcome delivered for `jobId` (all zero if none yet).
    function outcomeOf(JobId jobId) external view returns (Outcome memory) {
        return _outcomes[jobId];
    }

    function _onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) internal override {
        _outcomes[jobId] = Outcome({delivered: true, settled: settled, outputHash: outputHash, output: output});

        emit OutcomeReceived(jobId, settled, outputHash);
    }
}
