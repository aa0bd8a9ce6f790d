// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {ISubscriptionFeed} from "../interfaces/ISubscriptionFeed.sol";
import {ISubscriptionManager} from "../interfaces/ISubscriptionManager.sol";
import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title SubscriptionFeed
/// @notice The `AggregatorV3Interface` of one subscription: a view adapter over its manager's rounds. The manager
/// deploys one clone of this contract per subscription (`Clones.cloneWithImmutableArgs`) whose immutable arguments are
/// `abi.encodePacked(address manager, uint64 subscriptionId, uint8 decimals, bytes description)`; it stores nothing.
/// See `ISubscriptionFeed`.
contract SubscriptionFeed is ISubscriptionFeed {
    /// @notice The implementation's own address: its functions answer only through a clone.
    address private immutable _self = address(this);

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return uint8(_args()[28]);
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        bytes memory args = _args();
        bytes memory text = new bytes(args.length - 29);
        for (uint256 i; i < text.length; ++i) {
            text[i] = args[29 + i];
        }
        return string(text);
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (ISubscriptionManager manager_, uint256 id) = _subscription();
        return manager_.roundData(id, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (ISubscriptionManager manager_, uint256 id) = _subscription();
        return manager_.latestRoundData(id);
    }

    /// @inheritdoc ISubscriptionFeed
    function manager() external view returns (ISubscriptionManager manager_) {
        (manager_,) = _subscription();
    }

    /// @inheritdoc ISubscriptionFeed
    function subscriptionId() external view returns (uint256 id) {
        (, id) = _subscription();
    }

    /// @inheritdoc ISubscriptionFeed
    function terms() external view returns (ModelId modelId, uint32 version_, Mode mode, uint8 redundancy) {
        (ISubscriptionManager manager_, uint256 id) = _subscription();
        ISubscriptionManager.Subscription memory s = manager_.subscriptionOf(id);
        return (s.modelId, s.version, s.mode, s.redundancy);
    }

    /// @inheritdoc ISubscriptionFeed
    function jobOf(uint80 roundId) external view returns (JobId) {
        (ISubscriptionManager manager_, uint256 id) = _subscription();
        if (roundId == 0 || roundId > type(uint32).max) return JobId.wrap(0);
        return manager_.roundOf(id, uint32(roundId - 1)).jobId;
    }

    function _subscription() internal view returns (ISubscriptionManager manager_, uint256 id) {
        bytes memory args = _args();
        // The first 20 bytes are the manager, the next 8 the subscription id (big-endian).
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            manager_ := shr(96, mload(add(args, 0x20)))
            id := shr(192, mload(add(args, 0x34)))
        }
    }

    function _args() internal view returns (bytes memory) {
        if (address(this) == _self) revert SubscriptionFeedNotAClone();
        return Clones.fetchCloneArgs(address(this));
    }
}
