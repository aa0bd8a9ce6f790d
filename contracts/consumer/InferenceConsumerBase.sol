// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";

/// @title InferenceConsumerBase
/// @notice Base for contracts that request inferences and receive their outcomes by callback. `_requestInference`
/// pays for a job from this contract's tokens with itself as the callback and remembers the job; the callback is
/// accepted only from the escrow and only for a job this contract requested and has not yet heard about, so an
/// outcome is never pushed into it by a job someone else requested.
abstract contract InferenceConsumerBase is IInferenceConsumer {
    using SafeERC20 for IERC20;

    /// @notice `caller` is not the escrow.
    error InferenceConsumerUnauthorizedCaller(address caller);
    /// @notice `jobId` was not requested by this contract, or its outcome was already delivered.
    error InferenceConsumerUnknownJob(JobId jobId);

    /// @notice The escrow allowed to deliver outcomes.
    IJobEscrow public immutable escrow;

    /// @dev Jobs requested by this contract whose outcome has not arrived yet.
    mapping(JobId => bool) internal _pending;

    constructor(IJobEscrow escrow_) {
        escrow = escrow_;
    }

    /// @inheritdoc IInferenceConsumer
    function onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) external {
        if (msg.sender != address(escrow)) revert InferenceConsumerUnauthorizedCaller(msg.sender);
        if (!_pending[jobId]) revert InferenceConsumerUnknownJob(jobId);

        delete _pending[jobId];

        _onInferenceResult(jobId, settled, outputHash, output);
    }

    /// @notice Whether `jobId` was requested by this contract and its outcome has not arrived yet.
    function isPending(JobId jobId) external view returns (bool) {
        return _pending[jobId];
    }

    /// @dev Requests a job paid from this contract's tokens (up to `params.maxTotal`), with this contract as its
    /// callback, and records it as pending. The escrow pulls exactly the job's price.
    function _requestInference(IJobEscrow.RequestParams memory params) internal returns (JobId jobId) {
        params.callback = address(this);
        IERC20(escrow.token()).forceApprove(address(escrow), params.maxTotal);
        jobId = escrow.request(params);
        _pending[jobId] = true;
    }

    /// @dev Withdraws this contract's credits in the escrow (refunds of jobs not served, unpaid node fees, shares of
    /// slashes) to `recipient`. A consumer is the requester of its jobs, so only it can claim them: expose this to its
    /// owner, or the credits stay in the escrow.
    function _claimCredits(address recipient) internal returns (uint256) {
        return escrow.claim(recipient);
    }

    /// @dev Handles an outcome. Keep it within the gas limit the request set; a revert here only loses the callback.
    function _onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) internal virtual;
}
