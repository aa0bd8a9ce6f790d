// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IInputSource} from "../../interfaces/IInputSource.sol";
import {FeedHistoryLib} from "./FeedHistoryLib.sol";

/// @title RealizedVolatilitySource
/// @notice The features of the bundled S&P 500 volatility model (src/models/volatility.ts) computed from a price
/// feed as of a round's due time: the last daily log return and the realised volatility of the last 5, 22 and 66
/// returns, all in percent, from the 67 answers ending with the last one written before the due time. A return is
/// `100 * ln(p_t / p_{t-1})`; a realised volatility the root mean square of returns (no mean removed). Values carry
/// 16 bits after the binary point.
/// @dev `args = abi.encode(AggregatorV3Interface feed, uint32 maxAge)`. One answer is taken per feed round: the
/// model's day is the feed's round, so the feed must publish one answer per trading day (as the devnet's does).
/// @dev The logarithm is computed with 18 decimals by the series `ln x = 2 atanh((x - 1) / (x + 1))`, which
/// converges for any positive ratio; a ratio outside [1/3, 3] between two consecutive answers is refused as an
/// invalid answer (a feed error, not a market day). The values differ from the float computation by less than
/// 2^-16, their resolution.
contract RealizedVolatilitySource is IInputSource {
    /// @notice Returns in the longest window.
    uint256 public constant LOOKBACK = 66;
    /// @notice Bits after the binary point of the values.
    uint8 public constant FRACTION_BITS = 16;
    /// @notice The number of features: last return, realised volatility over 5, 22 and 66 returns.
    uint256 public constant FEATURES = 4;

    int256 internal constant WAD = 1e18;

    /// @inheritdoc IInputSource
    function read(bytes calldata args, uint64 asOf) external view returns (int256[] memory values) {
        (AggregatorV3Interface feed, uint32 maxAge) = _decode(args);
        (uint80 last, int256 answer) = FeedHistoryLib.roundBefore(feed, asOf, maxAge);
        int256[] memory prices = FeedHistoryLib.window(feed, last, answer, LOOKBACK + 1);
        int256[] memory returns_ = new int256[](LOOKBACK);
        for (uint256 i; i < LOOKBACK; ++i) {
            returns_[i] = _percentLogReturn(feed, last - uint80(LOOKBACK - 1 - i), prices[i], prices[i + 1]);
        }
        values = new int256[](FEATURES);
        values[0] = _toFixed(returns_[LOOKBACK - 1]);
        values[1] = _toFixed(_realisedVolatility(returns_, 5));
        values[2] = _toFixed(_realisedVolatility(returns_, 22));
        values[3] = _toFixed(_realisedVolatility(returns_, LOOKBACK));
    }

    /// @inheritdoc IInputSource
    function inputSize(bytes calldata args) external pure returns (uint256) {
        _decode(args);
        return FEATURES;
    }

    /// @inheritdoc IInputSource
    function fractionBits() external pure returns (uint8) {
        return FRACTION_BITS;
    }

    /// @dev `100 * ln(current / previous)` with 18 decimals; `roundId` is `current`'s round, for the error.
    function _percentLogReturn(AggregatorV3Interface feed, uint80 roundId, int256 previous, int256 current)
        internal
        pure
        returns (int256)
    {
        if (previous <= 0) revert InputSourceInvalidAnswer(address(feed), roundId - 1, previous);
        if (current <= 0) revert InputSourceInvalidAnswer(address(feed), roundId, current);
        int256 z = ((current - previous) * WAD) / (current + previous);
        // |z| <= 1/2 is a ratio within [1/3, 3]: the series' terms shrink by at least 4 each step.
        if (z > WAD / 2 || z < -WAD / 2) revert InputSourceInvalidAnswer(address(feed), roundId, current);
        int256 sum;
        // |z| <= 1/2 (in 18 decimals): z^2 <= 1/4, every term and the sum stay below 1, no product exceeds 2^118.
        unchecked {
            int256 z2 = (z * z) / WAD;
            int256 term = z;
            for (int256 k = 1; term != 0; k += 2) {
                sum += term / k;
                term = (term * z2) / WAD;
            }
        }
        return 200 * sum;
    }

    /// @dev The root mean square of the last `n` returns (18 decimals in and out).
    function _realisedVolatility(int256[] memory returns_, uint256 n) internal pure returns (int256) {
        uint256 squares;
        // Each return is below 100 ln 3 < 110 (in 18 decimals): its square and the sum of 66 of them fit easily.
        unchecked {
            for (uint256 i = returns_.length - n; i < returns_.length; ++i) {
                uint256 r = uint256(returns_[i] < 0 ? -returns_[i] : returns_[i]);
                squares += (r * r) / uint256(WAD);
            }
        }
        return int256(Math.sqrt((squares / n) * uint256(WAD)));
    }

    /// @dev 18 decimals to 16 binary places, rounded toward zero.
    function _toFixed(int256 wad) internal pure returns (int256) {
        return (wad << FRACTION_BITS) / WAD;
    }

    function _decode(bytes calldata args) internal pure returns (AggregatorV3Interface feed, uint32 maxAge) {
        if (args.length != 64) revert InputSourceInvalidArgs(args);
        (feed, maxAge) = abi.decode(args, (AggregatorV3Interface, uint32));
        if (address(feed) == address(0) || maxAge == 0) revert InputSourceInvalidArgs(args);
    }
}
