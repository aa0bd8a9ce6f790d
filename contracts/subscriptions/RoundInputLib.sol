// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PoseidonT3Lib} from "./PoseidonT3Lib.sol";

/// @title RoundInputLib
/// @notice How a subscription round's input values (fixed point, `value / 2^fractionBits`) become a job's inline
/// input and commitment, and how a job's output becomes a feed's answer. The node reads the input as any job's:
/// - vanilla and TEE: UTF-8 JSON `[v0,v1,...]`, each value written exactly in decimal (a binary fraction of at most
///   `MAX_FRACTION_BITS` bits has a finite decimal expansion), committed by the escrow as `keccak256(input)`;
/// - ZK and dual: `{"x":[v0,v1,...],"salt":"0x0"}` (src/zkml/job.ts), committed as the circuit commits its input:
///   the low 200 bits of `Poseidon(salt, word)` with salt zero and the values quantized to the circuit's scale as the
///   node quantizes them (`Math.round(x * 2^scaleBits)`, ties toward +infinity) and packed into one field element
///   (`word = sum (q_j + 2^inputBits) << (j * (inputBits + 1))`, src/zkml/claim.ts `packInput`).
library RoundInputLib {
    /// @notice Most bits after the binary point a source may use.
    uint8 internal constant MAX_FRACTION_BITS = 32;
    /// @notice Bits of the packed input word of the circuit's commitment (src/zkml/claim.ts `PACK_BITS`).
    uint256 internal constant PACK_BITS = 253;
    /// @notice Bits of the Poseidon commitment a ZK job commits to (src/zkml/claim.ts `CLAIM_INPUT_BITS`).
    uint256 internal constant CLAIM_INPUT_BITS = 200;
    /// @notice The largest magnitude of a value written to JSON: a double holds every integer below it exactly, so
    /// the node reads back exactly the value the manager committed to.
    int256 internal constant MAX_JSON_VALUE = 2 ** 53 - 1;
    /// @notice Decimals of a `Value` answer: vanilla and TEE outputs carry values in units of 10^-4.
    uint8 internal constant VALUE_DECIMALS = 4;
    /// @dev A ZK output packs a value `v` as `v + 2^47` in 48 bits (src/zkml/claim.ts `VALUE_OFFSET`).
    int256 internal constant ZK_VALUE_OFFSET = 2 ** 47;
    /// @dev Longest text of one value: a sign, 16 integer digits (below 2^53), a point, 32 decimals and a comma.
    uint256 internal constant MAX_VALUE_CHARS = 51;

    /// @notice Input value `index`, `value`, exceeds `bound` in magnitude (`MAX_JSON_VALUE`, or the circuit's range).
    error RoundInputOutOfRange(uint256 index, int256 value, int256 bound);

    /* INPUTS */

    /// @notice `[v0,v1,...]`: the JSON input of vanilla and TEE jobs.
    function json(int256[] memory values, uint8 fractionBits) internal pure returns (bytes memory out) {
        out = new bytes(2 + values.length * MAX_VALUE_CHARS);
        uint256 at = _writeArray(out, 0, values, fractionBits);
        _truncate(out, at);
    }

    /// @notice `{"x":[v0,v1,...],"salt":"0x0"}`: the input of ZK and dual jobs (salt zero).
    function zkJson(int256[] memory values, uint8 fractionBits) internal pure returns (bytes memory out) {
        bytes memory head = bytes("{\"x\":");
        bytes memory tail = bytes(",\"salt\":\"0x0\"}");
        out = new bytes(head.length + 2 + values.length * MAX_VALUE_CHARS + tail.length);
        uint256 at = _copy(out, 0, head);
        at = _writeArray(out, at, values, fractionBits);
        at = _copy(out, at, tail);
        _truncate(out, at);
    }

    /// @notice The commitment of a ZK or dual job to `values`: the circuit's `VectorCommit(0, [word])` of the values
    /// quantized to `scaleBits` and packed at `inputBits + 1` bits each, cut to its low 200 bits.
    /// @dev The caller checked that the values fit one word (`fitsOneWord`).
    function zkCommitment(int256[] memory values, uint8 fractionBits, uint8 scaleBits, uint8 inputBits)
        internal
        pure
        returns (bytes32)
    {
        uint256 width = uint256(inputBits) + 1;
        int256 offset = int256(1) << inputBits;
        uint256 word;
        for (uint256 j; j < values.length; ++j) {
            int256 q = quantize(values[j], fractionBits, scaleBits);
            if (q < -offset || q >= offset) revert RoundInputOutOfRange(j, q, offset);
            // q + offset lies in [0, 2^(inputBits + 1)): the packed fields never overlap.
            word |= uint256(q + offset) << (j * width);
        }
        return bytes32(PoseidonT3Lib.hash(0, word) & ((uint256(1) << CLAIM_INPUT_BITS) - 1));
    }

    /// @notice Whether `count` inputs of `inputBits` fit the circuit's one-word commitment, and how many would.
    function fitsOneWord(uint256 count, uint8 inputBits) internal pure returns (bool, uint256 perWord) {
        perWord = PACK_BITS / (uint256(inputBits) + 1);
        return (count <= perWord, perWord);
    }

    /// @notice `value / 2^fractionBits` at `scaleBits`, rounded as `Math.round` rounds (half toward +infinity).
    function quantize(int256 value, uint8 fractionBits, uint8 scaleBits) internal pure returns (int256) {
        if (fractionBits <= scaleBits) return value << (scaleBits - fractionBits);
        uint8 shift = fractionBits - scaleBits;
        // An arithmetic shift rounds toward -infinity, so adding half first rounds half up.
        return (value + (int256(1) << (shift - 1))) >> shift;
    }

    /* OUTPUTS */

    /// @notice The answer a vanilla or TEE output carries: a regressor's value in units of 10^-4 (5 bytes: argmax,
    /// then a big-endian int32), or a classifier's argmax (its first byte). `ok` is false for another format.
    function answerOfPlain(bytes calldata output, bool label) internal pure returns (bool ok, int256 answer) {
        if (label) {
            if (output.length < 5 || (output.length - 1) % 4 != 0) return (false, 0);
            return (true, int256(uint256(uint8(output[0]))));
        }
        if (output.length != 5) return (false, 0);
        return (true, int256(int32(uint32(bytes4(output[1:5])))));
    }

    /// @notice The answer a ZK or dual output carries (6 bytes, `uint48`): a classifier's class index, or a
    /// regressor's fixed-point value at `scaleBits` in units of 10^-4, rounded half away from zero.
    function answerOfZk(bytes calldata output, bool label, uint8 scaleBits) internal pure returns (bool ok, int256) {
        if (output.length != 6) return (false, 0);
        int256 packed = int256(uint256(uint48(bytes6(output[0:6]))));
        if (label) return (true, packed);
        int256 scaled = (packed - ZK_VALUE_OFFSET) * int256(10 ** VALUE_DECIMALS);
        int256 half = int256(1) << scaleBits >> 1;
        int256 unit = int256(1) << scaleBits;
        return (true, scaled >= 0 ? (scaled + half) / unit : (scaled - half) / unit);
    }

    /* PRIVATE */

    // The writers below put characters into a buffer allocated for the longest text (`MAX_VALUE_CHARS` per value), so
    // they skip bounds checks: assembly, because Solidity's checked byte writes cost several times as much.

    function _writeArray(bytes memory out, uint256 at, int256[] memory values, uint8 fractionBits)
        private
        pure
        returns (uint256)
    {
        at = _put(out, at, "[");
        for (uint256 i; i < values.length; ++i) {
            if (i > 0) at = _put(out, at, ",");
            int256 v = values[i];
            if (v > MAX_JSON_VALUE || v < -MAX_JSON_VALUE) revert RoundInputOutOfRange(i, v, MAX_JSON_VALUE);
            at = _writeDecimal(out, at, v, fractionBits);
        }
        return _put(out, at, "]");
    }

    /// @dev Writes `v / 2^bits` exactly: `frac / 2^bits = frac * 5^bits / 10^bits`, so `bits` decimals hold it; trailing
    /// zeros are dropped, and a whole number has no point.
    function _writeDecimal(bytes memory out, uint256 at, int256 v, uint8 bits) private pure returns (uint256) {
        if (v < 0) at = _put(out, at, "-");
        // |v| <= MAX_JSON_VALUE: the negation cannot overflow.
        uint256 magnitude = uint256(v < 0 ? -v : v);
        at = _writeUint(out, at, magnitude >> bits, 0);
        uint256 frac = magnitude & ((uint256(1) << bits) - 1);
        if (frac == 0) return at;
        uint256 digits = frac * 5 ** bits;
        uint256 places = bits;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // `frac != 0`, so `digits` has a non-zero digit and the loop ends before `places` reaches zero.
            for {} iszero(mod(digits, 10)) {} {
                digits := div(digits, 10)
                places := sub(places, 1)
            }
        }
        at = _put(out, at, ".");
        return _writeUint(out, at, digits, places);
    }

    /// @dev Writes `x` in decimal with at least `minDigits` digits (leading zeros).
    function _writeUint(bytes memory out, uint256 at, uint256 x, uint256 minDigits) private pure returns (uint256 end) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let n := 1
            for { let y := div(x, 10) } y { y := div(y, 10) } { n := add(n, 1) }
            if lt(n, minDigits) { n := minDigits }
            end := add(at, n)
            let p := add(add(out, 0x20), end)
            for {} gt(n, 0) { n := sub(n, 1) } {
                p := sub(p, 1)
                mstore8(p, add(48, mod(x, 10)))
                x := div(x, 10)
            }
        }
    }

    /// @dev Writes the character `c` at `at`.
    function _put(bytes memory out, uint256 at, bytes1 c) private pure returns (uint256) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore8(add(add(out, 0x20), at), shr(248, c))
        }
        return at + 1;
    }

    function _copy(bytes memory out, uint256 at, bytes memory what) private pure returns (uint256) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mcopy(add(add(out, 0x20), at), add(what, 0x20), mload(what))
        }
        return at + what.length;
    }

    /// @dev Shortens `out` to `length` bytes (the buffer was allocated for the longest text).
    function _truncate(bytes memory out, uint256 length) private pure {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(out, length)
        }
    }
}
