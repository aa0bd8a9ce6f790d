// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IStakeLocker
/// @notice A protocol contract that locks part of an operator's stake as collateral for open work.
/// @dev NodeStaking asks every registered locker how much of an operator's stake it holds locked, and never
/// lets an operator unstake below the sum.
interface IStakeLocker {
    /// @notice The amount of `operator`'s stake this contract currently holds locked.
    function lockedStake(address operator) external view returns (uint256);
}
