// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {JobId} from "../types/Ids.sol";

/// @title GasBurnerConsumer
/// @notice Test-only consumer that burns every unit of gas it is given, to show that a greedy consumer loses only
/// its own callback.
contract GasBurnerConsumer is IInferenceConsumer {
    /// @notice Loops until the call runs out of gas.
    function onInferenceResult(JobId, bool, bytes32, bytes calldata) external pure {
        uint256 i;
        while (true) ++i;
    }
}
