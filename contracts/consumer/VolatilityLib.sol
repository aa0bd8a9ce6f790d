// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title VolatilityLib
/// @notice The arithmetic of `VolatilityRiskVault`: reading a regressor's output, in the encoding of each mode, as
/// micro-units (10^-6) of its target, and the exposure a volatility forecast allows.
library VolatilityLib {
    /// @dev A TEE or vanilla node's output (`encodeClassification`): one byte of argmax, then each output as a
    /// big-endian int32 in units of 10^-4. A regressor has one output: 5 bytes.
    uint256 internal constant TEE_OUTPUT_LENGTH = 5;
    /// @dev A ZK output: `uint48(value + 2^47)`, the value in fixed point with the circuit's scale.
    uint256 internal constant ZK_OUTPUT_LENGTH = 6;
    int256 internal constant ZK_VALUE_OFFSET = 2 ** 47;
    uint256 internal constant BPS = 10_000;

    /// @notice The value of a TEE (or vanilla) regressor output in micro-units, and whether the output is well formed.
    function fromTeeOutput(bytes calldata output) internal pure returns (int256 micro, bool ok) {
        if (output.length != TEE_OUTPUT_LENGTH || output[0] != 0) return (0, false);
        int32 tenThousandths = int32(uint32(bytes4(output[1:5])));
        return (int256(tenThousandths) * 100, true);
    }

    /// @notice The value of a ZK regressor output in micro-units (rounded toward zero), for a circuit with
    /// `scaleBits` fractional bits, and whether the output is well formed.
    function fromZkOutput(bytes calldata output, uint8 scaleBits) internal pure returns (int256 micro, bool ok) {
        if (output.length != ZK_OUTPUT_LENGTH) return (0, false);
        int256 fixedPoint = int256(uint256(uint48(bytes6(output[0:6])))) - ZK_VALUE_OFFSET;
        return ((fixedPoint * 1e6) / int256(2 ** uint256(scaleBits)), true);
    }

    /// @notice How far `next` moved from `previous`, in basis points of `previous` (which is positive).
    function changeBps(uint256 previous, uint256 next) internal pure returns (uint256) {
        uint256 diff = next > previous ? next - previous : previous - next;
        return (diff * BPS) / previous;
    }

    /// @notice The exposure that keeps a position of `capital` at `targetVolatility` when the market moves
    /// `forecast` (both micro-percent per day), at most `maxLeverageBps` of `capital`: `capital * target / forecast`.
    function exposure(uint256 capital, uint256 targetVolatility, uint256 forecast, uint256 maxLeverageBps)
        internal
        pure
        returns (uint256)
    {
        uint256 cap = (capital * maxLeverageBps) / BPS;
        uint256 scaled = (capital * targetVolatility) / forecast;
        return scaled < cap ? scaled : cap;
    }
}
