// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IStakeLocker} from "../interfaces/IStakeLocker.sol";

/// @title MockStakeLocker
/// @notice Test-only stake locker: locks arbitrary amounts and forwards slashes, so NodeStaking's locking and
/// slashing arithmetic can be tested without a job.
contract MockStakeLocker is IStakeLocker {
    /// @notice The staking contract this locker slashes through.
    INodeStaking public immutable staking;
    /// @notice Stake locked per operator, set freely by tests.
    mapping(address => uint256) public lockedStake;

    constructor(INodeStaking staking_) {
        staking = staking_;
    }

    /// @notice Sets `operator`'s locked stake.
    function setLocked(address operator, uint256 amount) external {
        lockedStake[operator] = amount;
    }

    /// @notice Forwards a slash to the staking contract.
    function slash(address operator, uint256 amount) external returns (uint256) {
        return staking.slash(operator, amount);
    }
}
