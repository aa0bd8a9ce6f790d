// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IInputSource} from "../../interfaces/IInputSource.sol";

/// @title FeedHistoryLib
/// @notice Reads the history of an `AggregatorV3Interface` feed as of a time: the last answer written strictly before
/// `asOf`, and the consecutive rounds that end with it. Once `block.timestamp >= asOf`, no answer written later can
/// have `updatedAt < asOf` (a feed stamps an answer with the time of the block that writes it), so the result no
/// longer depends on when it is read.
/// @dev Warning: rounds are taken as consecutive ids (`roundId - 1` is the round before), as an aggregator numbers
/// them. Behind a Chainlink proxy a phase change restarts the numbering: a window that would cross one cannot be
/// read (the round below the phase's first does not exist), and reading fails until the window lies in one phase.
library FeedHistoryLib {
    /// @notice Most rounds walked back from the latest to find the one before `asOf`.
    uint256 internal constant MAX_WALK = 32;

    /// @notice The last round of `feed` written strictly before `asOf`, and its answer; reverts when none lies within
    /// `MAX_WALK` rounds of the latest or when it is older than `maxAge` at `asOf`.
    function roundBefore(AggregatorV3Interface feed, uint64 asOf, uint32 maxAge)
        internal
        view
        returns (uint80 roundId, int256 answer)
    {
        uint256 updatedAt;
        (roundId, answer,, updatedAt,) = feed.latestRoundData();
        for (uint256 walked; updatedAt >= asOf || updatedAt == 0; ++walked) {
            if (walked == MAX_WALK || roundId <= 1) revert IInputSource.InputSourceNoRoundBefore(address(feed), asOf);
            (roundId, answer, updatedAt) = _round(feed, roundId - 1);
        }
        if (updatedAt + maxAge < asOf) revert IInputSource.InputSourceStale(address(feed), updatedAt, asOf, maxAge);
    }

    /// @notice The answers of the `n` rounds ending with round `last` (whose answer is `lastAnswer`), oldest first.
    function window(AggregatorV3Interface feed, uint80 last, int256 lastAnswer, uint256 n)
        internal
        view
        returns (int256[] memory answers)
    {
        if (last < n) revert IInputSource.InputSourceHistoryTooShort(address(feed), last, n);
        answers = new int256[](n);
        answers[n - 1] = lastAnswer;
        for (uint256 i = n - 1; i > 0; --i) {
            uint80 id = last - uint80(n - i);
            uint256 updatedAt;
            (, answers[i - 1], updatedAt) = _round(feed, id);
            if (updatedAt == 0) revert IInputSource.InputSourceHistoryTooShort(address(feed), last, n);
        }
    }

    function _round(AggregatorV3Interface feed, uint80 id)
        private
        view
        returns (uint80 roundId, int256 answer, uint256 updatedAt)
    {
        (roundId, answer,, updatedAt,) = feed.getRoundData(id);
    }
}
