// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInputSource} from "../interfaces/IInputSource.sol";

/// @title FakeInputSource
/// @notice Test-only: an input source that answers whatever it was set to (values, their count and fraction bits),
/// to test how the subscription manager bounds what a source returns.
contract FakeInputSource is IInputSource {
    /// @notice What `fractionBits` answers.
    uint8 public bits = 16;
    /// @notice What `inputSize` answers.
    uint256 public size = 1;
    int256[] internal _values;

    /// @notice Sets the fraction bits, the declared input size and the values `read` returns.
    function set(uint8 bits_, uint256 size_, int256[] calldata values_) external {
        bits = bits_;
        size = size_;
        _values = values_;
    }

    /// @inheritdoc IInputSource
    function read(bytes calldata, uint64) external view returns (int256[] memory) {
        return _values;
    }

    /// @inheritdoc IInputSource
    function inputSize(bytes calldata) external view returns (uint256) {
        return size;
    }

    /// @inheritdoc IInputSource
    function fractionBits() external view returns (uint8) {
        return bits;
    }
}
