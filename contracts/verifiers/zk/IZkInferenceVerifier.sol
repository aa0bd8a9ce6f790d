// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceVerifier} from "../../interfaces/IInferenceVerifier.sol";
import {JobId} from "../../types/Ids.sol";

/// @title IZkInferenceVerifier
/// @notice Verifies a Groth16 proof that the claim's output is the model version's output on the claim's input.
/// The version's ZK binding names the circuit's verifier contract (`verifier`) and its verifying-key hash
/// (`bindings[0]`). Public signals: `[uint256(inputHash), uint256(outputHash), context]` where
/// `context = uint256(keccak256(abi.encode(block.chainid, escrow, jobId, node))) % FIELD_SIZE`, so a proof
/// cannot be replayed for another job, node, escrow or chain. `proof` is
/// `abi.encode(uint256[2] a, uint256[2][2] b, uint256[2] c)`.
/// @dev Warning: the model owner registers the verifier contract; the verifier trusts it to be the snarkjs
/// verifier of the verifying key whose hash is bound (anyone can regenerate it from the published key and compare
/// the bytecode). The circuit's weights are constants, so that key identifies the model.
/// @dev Warning: `inputHash` and `outputHash` are salted Poseidon commitments, not keccak hashes of files; a
/// value `>= FIELD_SIZE` is rejected rather than reduced, so each claim has exactly one encoding.
interface IZkInferenceVerifier is IInferenceVerifier {
    /// @notice `hash` (an input or output hash of the claim) is not below the SNARK scalar field order.
    error ZkInferenceVerifierHashNotInField(bytes32 hash);
    /// @notice The proof is not `abi.encode(uint256[2], uint256[2][2], uint256[2])`.
    error ZkInferenceVerifierMalformedProof(uint256 length);
    /// @notice The version's ZK binding has no verifier contract.
    error ZkInferenceVerifierNoVerifier();
    /// @notice The circuit's verifier rejected the proof for `jobId`.
    error ZkInferenceVerifierInvalidProof(JobId jobId);

    /// @notice The public `context` signal of a claim verified for `escrow`.
    function contextOf(address escrow, InferenceClaim calldata claim) external view returns (uint256);
}
