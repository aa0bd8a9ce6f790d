// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title IInferenceVerifier
/// @notice A pluggable check that an inference result is genuine. The JobEscrow routes every submission to the
/// verifier registered for the job's mode (captured in the job's terms at request time, so a later change of
/// verifier never affects an open job).
/// @dev A verifier is a pure function of its arguments and its own state: `verify` is `view`, so it cannot
/// change state, take funds or re-enter the escrow. The escrow is `msg.sender`; a verifier that signs or hashes
/// over the caller binds its answer to that escrow.
interface IInferenceVerifier {
    /// @notice What a node claims: that `outputHash` is the output of model `modelId`@`version` on the input
    /// committed as `inputHash`, computed for job `jobId` by `node`.
    // A calldata struct: ABI encoding takes a word per field whatever the order.
    // solhint-disable-next-line gas-struct-packing
    struct InferenceClaim {
        JobId jobId;
        ModelId modelId;
        uint32 version;
        bytes32 inputHash;
        bytes32 outputHash;
        address node;
    }

    /// @notice The mode this verifier implements.
    function mode() external view returns (Mode);

    /// @notice Returns normally if `proof` establishes `claim`, and reverts with a diagnostic error otherwise.
    /// @dev Replay protection comes from the escrow: a job settles once, and a claim names its job id and node.
    function verify(InferenceClaim calldata claim, bytes calldata proof) external view;
}
