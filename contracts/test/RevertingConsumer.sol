// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";
import {SelfRequester} from "./SelfRequester.sol";

/// @title RevertingConsumer
/// @notice Test-only consumer whose callback always reverts. It requests its own jobs (`SelfRequester`).
contract RevertingConsumer is IInferenceConsumer, SelfRequester {
    /// @notice Raised by every callback.
    error RevertingConsumerRefused(JobId jobId);

    constructor(IJobEscrow escrow_) SelfRequester(escrow_) {}

    /// @notice Reverts with `RevertingConsumerRefused(jobId)`.
    function onInferenceResult(JobId jobId, bool, bytes32, bytes calldata) external pure {
        revert RevertingConsumerRefused(jobId);
    }
}
