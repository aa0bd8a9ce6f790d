// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PoseidonT3Lib} from "../subscriptions/PoseidonT3Lib.sol";
import {RoundInputLib} from "../subscriptions/RoundInputLib.sol";

/// @title RoundInputHarness
/// @notice Test-only: exposes `RoundInputLib`'s and `PoseidonT3Lib`'s internal functions.
contract RoundInputHarness {
    /// @notice `PoseidonT3Lib.hash`.
    function poseidon(uint256 a, uint256 b) external pure returns (uint256) {
        return PoseidonT3Lib.hash(a, b);
    }

    /// @notice `RoundInputLib.quantize`.
    function quantize(int256 value, uint8 fractionBits, uint8 scaleBits) external pure returns (int256) {
        return RoundInputLib.quantize(value, fractionBits, scaleBits);
    }

    /// @notice `RoundInputLib.answerOfPlain`.
    function answerOfPlain(bytes calldata output, bool label) external pure returns (bool, int256) {
        return RoundInputLib.answerOfPlain(output, label);
    }

    /// @notice `RoundInputLib.answerOfZk`.
    function answerOfZk(bytes calldata output, bool label, uint8 scaleBits) external pure returns (bool, int256) {
        return RoundInputLib.answerOfZk(output, label, scaleBits);
    }

    /// @notice The gas of one `PoseidonT3Lib.hash`.
    function poseidonGas(uint256 a, uint256 b) external view returns (uint256 used) {
        used = gasleft();
        PoseidonT3Lib.hash(a, b);
        used -= gasleft();
    }
}
