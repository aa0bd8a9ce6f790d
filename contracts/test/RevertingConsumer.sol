// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {JobId} from "../types/Ids.sol";

/// @title RevertingConsumer
/// @notice Test-only consumer whose callback always reverts.
contract RevertingConsumer is IInferenceConsumer {
    /// @notice Raised by every callback.
    error RevertingConsumerRefused(JobId jobId);

    /// @notice Reverts with `RevertingConsumerRefused(jobId)`.
    function onInferenceResult(JobId jobId, bool, bytes32, bytes calldata) external pure {
        revert RevertingConsumerRefused(jobId);
    }
}
