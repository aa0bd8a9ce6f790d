// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {JobId} from "../types/Ids.sol";

/// @title InferenceConsumerBase
/// @notice Base for contracts that receive inference outcomes by callback: it accepts calls from the escrow
/// only and hands the outcome to `_onInferenceResult`.
abstract contract InferenceConsumerBase is IInferenceConsumer {
    /// @notice `caller` is not the escrow.
    error InferenceConsumerUnauthorizedCaller(address caller);

    /// @notice The escrow allowed to deliver outcomes.
    address public immutable escrow;

    constructor(address escrow_) {
        escrow = escrow_;
    }

    /// @inheritdoc IInferenceConsumer
    function onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) external {
        if (msg.sender != escrow) revert InferenceConsumerUnauthorizedCaller(msg.sender);
        _onInferenceResult(jobId, settled, outputHash, output);
    }

    /// @dev Handles an outcome. Keep it within the gas limit the request set; a revert here only loses the callback.
    function _onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) internal virtual;
}
