// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16Verifier
/// @notice A Groth16 (BN254) verifier of one circuit with a single public signal (see docs/zk-setup.md): the
/// model circuits of this repository expose exactly one, `claim`, so verification costs the pairing floor plus
/// one scalar multiplication.
interface IGroth16Verifier {
    /// @notice A Groth16 proof in the snarkjs Solidity calldata layout (G2 coordinates imaginary part first).
    struct Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice `proofs` and `pubSignals` differ in length, or the batch is empty.
    error Groth16VerifierLengthMismatch(uint256 proofs, uint256 pubSignals);

    /// @notice Whether the proof (`pA`, `pB`, `pC`) is valid for the public signal. False for a signal that is
    /// not below the scalar field order or for points that are not on the curve.
    /// @dev The argument layout of a snarkjs-generated verifier, so tools that speak to those speak to this one.
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[1] calldata pubSignals
    ) external view returns (bool);

    /// @notice Whether every proof is valid for its public signal, checked with `n + 3` pairings instead of `4n`.
    /// @dev Random linear combination: with 128-bit scalars derived from keccak256 of every proof and signal (after
    /// they are fixed), a batch holding an invalid proof passes with probability about 2^-128.
    function verifyBatch(Proof[] calldata proofs, uint256[] calldata pubSignals) external view returns (bool);

    /// @notice The verifying key: alpha (G1), beta, gamma, delta (G2, EIP-197 order), IC0 and IC1 (G1).
    function verifyingKey() external view returns (uint256[18] memory);
}
