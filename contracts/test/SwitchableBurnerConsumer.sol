// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";
import {SelfRequester} from "./SelfRequester.sol";

/// @title SwitchableBurnerConsumer
/// @notice Test-only consumer whose callback is cheap until anyone arms it, then burns every unit of gas it is
/// given: cheap while a node estimates the gas of its transaction, greedy once the transaction lands.
contract SwitchableBurnerConsumer is IInferenceConsumer, SelfRequester {
    /// @notice Whether callbacks burn all their gas.
    bool public armed;
    /// @notice Callbacks that returned (cheap ones only: a burning callback runs out of gas and records nothing).
    uint256 public calls;

    constructor(IJobEscrow escrow_) SelfRequester(escrow_) {}

    /// @notice Makes every later callback burn all of its gas.
    function arm() external {
        armed = true;
    }

    /// @notice Returns at once, or loops until the call runs out of gas once armed.
    function onInferenceResult(JobId, bool, bytes32, bytes calldata) external {
        if (!armed) {
            ++calls;
            return;
        }
        uint256 i;
        while (true) ++i;
    }
}
