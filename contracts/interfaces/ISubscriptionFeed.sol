// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {ISubscriptionManager} from "./ISubscriptionManager.sol";
import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title ISubscriptionFeed
/// @notice The `AggregatorV3Interface` feed of one subscription of an `ISubscriptionManager`, with what the answers
/// rest on beside it: the model version and mode that computed them and, per round, the escrow job that settled it.
/// @dev Feed round `roundId` is the subscription's round `roundId - 1`; `startedAt` is the round's due time (its input
/// is the chain state as of then), `updatedAt` when its verified answer was written; `answeredInRound == roundId`.
/// Rounds missed or refunded have no data: `getRoundData` reverts for them, and `latestRoundData` returns the latest
/// round answered, which may be older than the latest round started.
/// @dev Warning: a feed answers for its manager only. A reader that trusts a manager checks that the feed is that
/// manager's (`manager().subscriptionOf(subscriptionId()).feed == address(feed)`), then the mode it accepts as
/// verified, then `updatedAt`.
interface ISubscriptionFeed is AggregatorV3Interface {
    /// @notice Called on the implementation rather than on a subscription's clone.
    error SubscriptionFeedNotAClone();

    /// @notice The manager whose subscription this feed publishes.
    function manager() external view returns (ISubscriptionManager);

    /// @notice The subscription's id in the manager.
    function subscriptionId() external view returns (uint256);

    /// @notice The model version and mode that compute every round, and the number of nodes per round.
    function terms() external view returns (ModelId modelId, uint32 version, Mode mode, uint8 redundancy);

    /// @notice The escrow job of feed round `roundId` (zero if the round never started): its settlement reference.
    function jobOf(uint80 roundId) external view returns (JobId);
}
