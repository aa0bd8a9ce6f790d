// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBatchInferenceVerifier} from "../../interfaces/IBatchInferenceVerifier.sol";
import {JobId} from "../../types/Ids.sol";

/// @title IZkInferenceVerifier
/// @notice Accepts a claim when a Groth16 proof shows that the claim's output is the model version's output on the
/// input committed by the claim's `inputHash`. The version's ZK binding names the circuit's `Groth16Verifier`
/// (`verifier`) and its verifying-key hash (`bindings[0]`); the circuit's weights are constants, so that key
/// identifies the model.
///
/// The circuit has one public signal, `claimSignal(inputHash, packedOutput)`
/// `= (uint256(inputHash) mod 2^200) * 2^48 + packedOutput`, where `inputHash` is the requester's salted Poseidon
/// commitment to the quantized input and `packedOutput` the classifier's class index or the regressor's fixed-point
/// value offset by 2^47 (docs/zk-setup.md). One signal puts verification at the pairing floor.
///
/// The output travels in the clear: a ZK job's output bytes are `abi.encodePacked(uint48(packedOutput))` (6 bytes,
/// so the escrow stores it inline) and `proof = abi.encode(uint256 packedOutput, IGroth16Verifier.Proof proof)`;
/// the adapter checks the output bytes' hash against the packed value it feeds the circuit. A batch proof is
/// `abi.encode(uint256[] packedOutputs, IGroth16Verifier.Proof[] proofs)`, one entry per claim, all of one model
/// version.
/// @dev Warning: the model owner registers the verifier contract; clients should check that its `verifyingKey()`
/// hashes to the bound `bindings[0]` (`vin verify` does). A proof is not bound to a job or node: replaying it for
/// another job with the same input commitment (same input and salt) reproduces a correct result, which is harmless;
/// copying from the mempool is prevented by the escrow (k = 1 jobs accept their assigned node only).
/// @dev Warning: a claim is bound to 200 bits of the input commitment; matching them with another input costs about
/// 2^200 Poseidon evaluations.
interface IZkInferenceVerifier is IBatchInferenceVerifier {
    /// @notice `inputHash` is not below the SNARK scalar field order, so it is no Poseidon commitment.
    error ZkInferenceVerifierHashNotInField(bytes32 inputHash);
    /// @notice The proof bytes do not have the length of `abi.encode(uint256, IGroth16Verifier.Proof)`.
    error ZkInferenceVerifierMalformedProof(uint256 length);
    /// @notice The packed output does not fit in 48 bits.
    error ZkInferenceVerifierOutputOutOfRange(uint256 packedOutput);
    /// @notice The claim's output hash is not the hash of the packed output the proof is for.
    error ZkInferenceVerifierOutputMismatch(JobId jobId, bytes32 outputHash, uint256 packedOutput);
    /// @notice The version's ZK binding has no verifier contract.
    error ZkInferenceVerifierNoVerifier();
    /// @notice The circuit's verifier rejected the proof for `jobId`.
    error ZkInferenceVerifierInvalidProof(JobId jobId);
    /// @notice The circuit's verifier rejected a batch of `size` proofs.
    error ZkInferenceVerifierInvalidBatch(uint256 size);
    /// @notice A batch's claims, packed outputs and proofs differ in number, or the batch is empty.
    error ZkInferenceVerifierBatchLengthMismatch(uint256 claims, uint256 packedOutputs, uint256 proofs);
    /// @notice Claim `index` of a batch is for another model version than claim 0.
    error ZkInferenceVerifierMixedBatch(uint256 index);

    /// @notice The circuit's public signal for a claim on `inputHash` with output `packedOutput`.
    function claimSignal(bytes32 inputHash, uint256 packedOutput) external pure returns (uint256);
}
