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

    /// @notice Reverts with a diagnostic error if no result of a job with these terms could ever be accepted
    /// (for ZK: an input commitment the circuit cannot open, or a redundancy the mode does not support). The
    /// escrow calls it at request time, so such a job is refused before any node locks collateral on it.
    /// @dev Called only if `checksRequests()` was true when governance set this verifier.
    function checkRequest(ModelId modelId, uint32 version, uint8 redundancy, bytes32 inputHash) external view;

    /// @notice Whether `checkRequest` can refuse anything. The escrow reads it once, when the verifier is set, and
    /// skips the call at every request otherwise.
    function checksRequests() external view returns (bool);

    /// @notice Whether `node`, which claimed a job of `modelId`@`version` at `claimedAt` and did not deliver by
    /// `deadline`, is excused: this verifier's own state changed between the claim and that deadline in a way the
    /// node could not foresee or cause (for TEE: an enclave of the node, or a measurement it ran, revoked by governance). The
    /// escrow releases an excused node's collateral without a slash; the requester is refunded in full either way.
    /// @dev Warning: nothing the node itself can do may make this true, or a node could escape every slash; a change
    /// after the deadline never excuses (the node had already failed).
    function excuses(address node, ModelId modelId, uint32 version, uint64 claimedAt, uint64 deadline)
        external
        view
        returns (bool);
}
