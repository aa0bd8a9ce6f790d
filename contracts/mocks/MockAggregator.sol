// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A development price feed: its updater writes answers, each stamped with the block's time as a Chainlink
/// aggregator stamps them, with consecutive round ids from 1. The devnet feeds it the bundled S&P 500 closes.
/// @dev Warning: one account writes every answer. Never use it outside local and test networks.
contract MockAggregator is AggregatorV3Interface {
    /// @notice `caller` is not the updater.
    error MockAggregatorUnauthorizedCaller(address caller);
    /// @notice Round `roundId` has no data.
    error MockAggregatorNoData(uint80 roundId);

    /// @notice Emitted for every answer written, as Chainlink's `AnswerUpdated`.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    struct RoundData {
        int192 answer;
        uint64 updatedAt;
    }

    /// @notice The account that writes answers.
    address public immutable updater;
    /// @inheritdoc AggregatorV3Interface
    uint8 public immutable decimals;
    /// @inheritdoc AggregatorV3Interface
    string public description;
    /// @notice The latest round id (zero before the first answer).
    uint80 public latestRound;

    mapping(uint80 roundId => RoundData) internal _rounds;

    constructor(address updater_, uint8 decimals_, string memory description_) {
        updater = updater_;
        decimals = decimals_;
        description = description_;
    }

    /// @notice Writes `answers` as consecutive new rounds, all stamped with this block's time; only the updater.
    function updateAnswers(int192[] calldata answers) external {
        if (msg.sender != updater) revert MockAggregatorUnauthorizedCaller(msg.sender);
        uint80 round = latestRound;
        for (uint256 i; i < answers.length; ++i) {
            _rounds[++round] = RoundData({answer: answers[i], updatedAt: uint64(block.timestamp)});
            emit AnswerUpdated(answers[i], round, block.timestamp);
        }
        latestRound = round;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        RoundData memory r = _rounds[roundId];
        if (r.updatedAt == 0) revert MockAggregatorNoData(roundId);
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }
}
