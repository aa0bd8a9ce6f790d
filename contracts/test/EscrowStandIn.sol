// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";

/// @title EscrowStandIn
/// @notice Test-only stand-in for the escrow of an `InferenceConsumerBase`: it numbers the requests it receives
/// without taking any funds, and calls a consumer's `onInferenceResult` with whatever job id it is told, so a test
/// can push an outcome the real escrow never would (a job the consumer did not request, or a second delivery).
contract EscrowStandIn {
    /// @notice The token consumers approve before requesting.
    address public immutable token;
    /// @notice Requests received so far (job ids are 1..jobCount).
    uint64 public jobCount;

    /// @notice Emitted for each request, with the callback the consumer asked for.
    event Requested(JobId indexed jobId, address indexed requester, address callback);

    constructor(address token_) {
        token = token_;
    }

    /// @notice Numbers the request; takes nothing.
    function request(IJobEscrow.RequestParams calldata params) external returns (JobId jobId) {
        jobId = JobId.wrap(++jobCount);
        emit Requested(jobId, msg.sender, params.callback);
    }

    /// @notice Delivers `output` for `jobId` to `consumer` as a settled outcome; reverts as the consumer reverts.
    function deliver(IInferenceConsumer consumer, JobId jobId, bytes calldata output) external {
        consumer.onInferenceResult(jobId, true, keccak256(output), output);
    }
}
