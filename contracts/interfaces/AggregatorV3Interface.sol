// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Chainlink's name, kept so that integrators' code compiles unchanged.
/* solhint-disable interface-starts-with-i */

/// @title AggregatorV3Interface
/// @notice The read interface of a Chainlink data feed, as Chainlink documents it ("Using Data Feeds", the
/// `AggregatorV3Interface` API reference): what DeFi protocols already call to read a price. Written from the
/// documented ABI (function names, argument and return types, their order), so that any contract reading a Chainlink
/// feed reads a feed of this network the same way.
/// @dev A round is identified by `roundId`. `answer` carries `decimals()` decimals. `startedAt` is when the round
/// started, `updatedAt` when its answer was written (zero for a round without an answer), `answeredInRound` the round
/// in which the answer was computed (Chainlink's feeds return `roundId`; it is kept for compatibility).
/// @dev Warning: a reader must check `updatedAt` against the staleness it tolerates; a feed never guarantees freshness.
interface AggregatorV3Interface {
    /// @notice The number of decimals of `answer`.
    function decimals() external view returns (uint8);

    /// @notice A human-readable description of what the feed publishes (for example "ETH / USD").
    function description() external view returns (string memory);

    /// @notice The version of the feed's implementation.
    function version() external view returns (uint256);

    /// @notice The data of round `roundId`; reverts when the round has no data.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The data of the latest round with an answer; reverts when there is none.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
