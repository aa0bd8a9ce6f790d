// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16Verifier
/// @notice The entry point of a snarkjs-generated Groth16 verifier for a model circuit with three public
/// signals: `[inputCommitment, outputCommitment, context]` (see docs/zk-setup.md).
interface IGroth16Verifier {
    /// @notice Whether the proof (`pA`, `pB`, `pC`) is valid for the public signals.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[3] calldata pubSignals
    ) external view returns (bool);
}
