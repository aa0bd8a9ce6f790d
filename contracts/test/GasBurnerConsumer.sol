// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";
import {SelfRequester} from "./SelfRequester.sol";

/// @title GasBurnerConsumer
/// @notice Test-only consumer that burns every unit of gas it is given, to show that a greedy consumer loses only
/// its own callback. It requests its own jobs (`SelfRequester`), as a callback must be its requester.
contract GasBurnerConsumer is IInferenceConsumer, SelfRequester {
    constructor(IJobEscrow escrow_) SelfRequester(escrow_) {}

    /// @notice Loops until the call runs out of gas.
    function onInferenceResult(JobId, bool, bytes32, bytes calldata) external pure {
        uint256 i;
        while (true) ++i;
    }
}
