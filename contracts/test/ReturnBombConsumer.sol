// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";
import {SelfRequester} from "./SelfRequester.sol";

/// @title ReturnBombConsumer
/// @notice Test-only consumer that returns (or reverts with) `size` bytes, to show that the escrow never copies a
/// callback's return data into its own memory. It requests its own jobs (`SelfRequester`).
contract ReturnBombConsumer is IInferenceConsumer, SelfRequester {
    /// @notice Bytes of return (or revert) data.
    uint256 public immutable size;
    /// @notice Whether the data comes with a revert.
    bool public immutable reverts;

    constructor(IJobEscrow escrow_, uint256 size_, bool reverts_) SelfRequester(escrow_) {
        size = size_;
        reverts = reverts_;
    }

    /// @notice Returns or reverts with `size` zero bytes; the consumer pays for that memory itself.
    function onInferenceResult(JobId, bool, bytes32, bytes calldata) external view {
        uint256 n = size;
        bool r = reverts;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            if r { revert(0, n) }
            return(0, n)
        }
    }
}
