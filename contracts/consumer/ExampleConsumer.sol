// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {InferenceConsumerBase} from "./InferenceConsumerBase.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";

/// @title ExampleConsumer
/// @notice Requests inferences for its owner, paid from tokens sent to it, and stores each verified outcome, for
/// example a risk score that a lending market reads.
contract ExampleConsumer is InferenceConsumerBase {
    using SafeERC20 for IERC20;

    /// @notice `caller` is not the owner.
    error ExampleConsumerUnauthorizedCaller(address caller);

    /// @notice An outcome as delivered.
    struct Outcome {
        bool delivered;
        bool settled;
        bytes32 outputHash;
        bytes output;
    }

    /// @notice Emitted when an outcome arrives.
    event OutcomeReceived(JobId indexed jobId, bool settled, bytes32 outputHash);

    /// @notice The account that may request jobs.
    address public immutable owner;

    mapping(JobId => Outcome) internal _outcomes;

    constructor(IJobEscrow escrow_, address owner_) InferenceConsumerBase(escrow_) {
        owner = owner_;
    }

    /// @notice Withdraws this contract's credits in the escrow (refunds, unpaid fees, slash shares) to `recipient`;
    /// only the owner.
    function claim(address recipient) external returns (uint256) {
        if (msg.sender != owner) revert ExampleConsumerUnauthorizedCaller(msg.sender);
        return _claimCredits(recipient);
    }

    /// @notice Sends `amount` of the payment tokens held by this contract (not yet spent on jobs) to `recipient`;
    /// only the owner.
    function withdrawTokens(address recipient, uint256 amount) external {
        if (msg.sender != owner) revert ExampleConsumerUnauthorizedCaller(msg.sender);
        IERC20(escrow.token()).safeTransfer(recipient, amount);
    }

    /// @notice Requests a job with this contract as requester and callback; only the owner.
    function request(IJobEscrow.RequestParams calldata params) external returns (JobId) {
        if (msg.sender != owner) revert ExampleConsumerUnauthorizedCaller(msg.sender);
        return _requestInference(params);
    }

    /// @notice The outcome delivered for `jobId` (all zero if none yet).
    function outcomeOf(JobId jobId) external view returns (Outcome memory) {
        return _outcomes[jobId];
    }

    function _onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output)
        internal
        override
    {
        _outcomes[jobId] = Outcome({delivered: true, settled: settled, outputHash: outputHash, output: output});

        emit OutcomeReceived(jobId, settled, outputHash);
    }
}
