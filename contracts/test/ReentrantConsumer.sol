// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";
import {SelfRequester} from "./SelfRequester.sol";

/// @title ReentrantConsumer
/// @notice Test-only consumer that, inside its callback, re-enters the escrow with a call chosen beforehand and
/// records how that call ended. The escrow's guard must refuse it with `ReentrancyGuardReentrantCall`. It requests
/// its own jobs (`SelfRequester`).
contract ReentrantConsumer is IInferenceConsumer, SelfRequester {
    /// @notice The escrow to re-enter.
    IJobEscrow public immutable escrow;
    /// @notice The calldata sent to the escrow from inside the callback.
    bytes public reentry;
    /// @notice Whether the callback ran.
    bool public called;
    /// @notice Whether the re-entry succeeded, and what it returned or reverted with.
    bool public reentrySucceeded;
    /// @notice The re-entry's return or revert data.
    bytes public reentryResult;

    constructor(IJobEscrow escrow_) SelfRequester(escrow_) {
        escrow = escrow_;
    }

    /// @notice Sets the call to make from inside the callback.
    function setReentry(bytes calldata data) external {
        reentry = data;
    }

    /// @notice Re-enters the escrow and records the outcome without reverting.
    function onInferenceResult(JobId, bool, bytes32, bytes calldata) external {
        called = true;
        // solhint-disable-next-line avoid-low-level-calls
        (reentrySucceeded, reentryResult) = address(escrow).call(reentry);
    }
}
