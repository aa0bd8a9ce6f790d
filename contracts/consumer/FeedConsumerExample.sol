// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {ISubscriptionFeed} from "../interfaces/ISubscriptionFeed.sol";
import {ISubscriptionManager} from "../interfaces/ISubscriptionManager.sol";
import {JobId, Mode, ModesLib} from "../types/Ids.sol";

/// @title FeedConsumerExample
/// @notice Reads a subscription's feed as a lending market reads a price feed (`latestRoundData`, then staleness),
/// and accepts an answer only if the feed is its manager's, the subscription's mode is one it counts as verified,
/// and the round's job settled in the escrow: for example a volatility forecast that sets a market's risk limits.
contract FeedConsumerExample {
    /// @notice `feed` is not the feed its manager records for its subscription.
    error FeedConsumerUnknownFeed(address feed);
    /// @notice The round's answer was computed in `mode`, which this consumer does not count as verified, or its job
    /// `jobId` is not settled in the escrow.
    error FeedConsumerUnverifiedRound(uint80 roundId, Mode mode, JobId jobId);
    /// @notice Round `roundId` was answered at `updatedAt`, more than `maxAge` seconds ago.
    error FeedConsumerStaleRound(uint80 roundId, uint256 updatedAt, uint256 maxAge);
    /// @notice Round `roundId` is incomplete (no `updatedAt`, or answered in an earlier round).
    error FeedConsumerIncompleteRound(uint80 roundId);

    /// @notice Emitted when `refresh` accepts round `roundId`'s answer.
    event AnswerAccepted(uint80 indexed roundId, int256 answer, uint256 updatedAt);

    /// @notice The feed read.
    ISubscriptionFeed public immutable feed;
    /// @notice The manager whose feeds this consumer trusts.
    ISubscriptionManager public immutable manager;
    /// @notice Oldest answer accepted, in seconds.
    uint256 public immutable maxAge;
    /// @notice The modes (`1 << mode`) whose answers count as verified.
    uint32 public immutable verifiedModes;

    /// @notice The last answer accepted by `refresh`.
    int256 public answer;
    /// @notice The round of `answer`.
    uint80 public roundId;

    constructor(ISubscriptionFeed feed_, ISubscriptionManager manager_, uint256 maxAge_, uint32 verifiedModes_) {
        feed = feed_;
        manager = manager_;
        maxAge = maxAge_;
        verifiedModes = verifiedModes_;
    }

    /// @notice Reads and checks the latest answer, and records it.
    function refresh() external returns (int256 latest, uint80 round) {
        uint256 updatedAt;
        (latest, round, updatedAt) = read();

        answer = latest;
        roundId = round;

        emit AnswerAccepted(round, latest, updatedAt);
    }

    /// @notice The latest answer, if fresh and verified.
    function read() public view returns (int256 latest, uint80 round, uint256 updatedAt) {
        uint80 answeredInRound;
        (round, latest,, updatedAt, answeredInRound) = feed.latestRoundData();
        if (updatedAt == 0 || answeredInRound < round) revert FeedConsumerIncompleteRound(round);
        if (block.timestamp - updatedAt > maxAge) revert FeedConsumerStaleRound(round, updatedAt, maxAge);
        ISubscriptionManager.Subscription memory s = manager.subscriptionOf(feed.subscriptionId());
        if (s.feed != address(feed)) revert FeedConsumerUnknownFeed(address(feed));
        JobId jobId = feed.jobOf(round);
        IJobEscrow escrow = manager.escrow();
        if (!ModesLib.has(verifiedModes, s.mode) || escrow.stateOf(jobId).status != IJobEscrow.JobStatus.Settled) {
            revert FeedConsumerUnverifiedRound(round, s.mode, jobId);
        }
    }
}
