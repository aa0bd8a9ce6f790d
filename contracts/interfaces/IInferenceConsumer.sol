// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {JobId} from "../types/Ids.sol";

/// @title IInferenceConsumer
/// @notice A contract that asks the JobEscrow to deliver a job's outcome by callback.
/// @dev The escrow calls `onInferenceResult` once, after the job has settled or been refunded, with exactly the
/// gas limit the requester set and without reading return data. A callback that reverts or runs out of gas is
/// recorded in `CallbackDelivered(jobId, consumer, false)` and changes nothing else: the result stays readable
/// with `IJobEscrow.resultOf`.
/// @dev Warning: check that `msg.sender` is the escrow; anyone can call this function.
interface IInferenceConsumer {
    /// @notice Receives a job's outcome from the escrow.
    /// @param jobId The job.
    /// @param settled True if the job settled with `output`; false if it was refunded (then `output` is empty).
    /// @param outputHash `keccak256(output)`, or zero when refunded.
    /// @param output The accepted output.
    function onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) external;
}
