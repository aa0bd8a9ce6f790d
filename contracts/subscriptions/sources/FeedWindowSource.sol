// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IInputSource} from "../../interfaces/IInputSource.sol";
import {FeedHistoryLib} from "./FeedHistoryLib.sol";

/// @title FeedWindowSource
/// @notice The last `count` answers of a price feed as of a round's due time, oldest first, in the feed's units
/// (`answer / 10^decimals`) with 16 bits after the binary point (rounded toward zero).
/// @dev `args = abi.encode(AggregatorV3Interface feed, uint16 count, uint32 maxAge)`: 1 to `MAX_COUNT` answers, the
/// last of them written at most `maxAge` seconds before the due time.
contract FeedWindowSource is IInputSource {
    /// @notice Most answers one read returns.
    uint16 public constant MAX_COUNT = 64;
    /// @notice Bits after the binary point of the values.
    uint8 public constant FRACTION_BITS = 16;

    /// @inheritdoc IInputSource
    function read(bytes calldata args, uint64 asOf) external view returns (int256[] memory values) {
        (AggregatorV3Interface feed, uint16 count, uint32 maxAge) = _decode(args);
        (uint80 last, int256 answer) = FeedHistoryLib.roundBefore(feed, asOf, maxAge);
        values = FeedHistoryLib.window(feed, last, answer, count);
        int256 unit = int256(10 ** feed.decimals());
        for (uint256 i; i < count; ++i) {
            values[i] = (values[i] << FRACTION_BITS) / unit;
        }
    }

    /// @inheritdoc IInputSource
    function inputSize(bytes calldata args) external pure returns (uint256) {
        (, uint16 count,) = _decode(args);
        return count;
    }

    /// @inheritdoc IInputSource
    function fractionBits() external pure returns (uint8) {
        return FRACTION_BITS;
    }

    function _decode(bytes calldata args)
        internal
        pure
        returns (AggregatorV3Interface feed, uint16 count, uint32 maxAge)
    {
        if (args.length != 96) revert InputSourceInvalidArgs(args);
        (feed, count, maxAge) = abi.decode(args, (AggregatorV3Interface, uint16, uint32));
        if (address(feed) == address(0) || count == 0 || count > MAX_COUNT || maxAge == 0) {
            revert InputSourceInvalidArgs(args);
        }
    }
}
