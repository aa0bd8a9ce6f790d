// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBatchInferenceVerifier} from "../../interfaces/IBatchInferenceVerifier.sol";
import {JobId, ModelId} from "../../types/Ids.sol";

/// @title IZkInferenceVerifier
/// @notice Accepts a claim when a Groth16 proof shows that the claim's output is the model version's output on the
/// input committed by the claim's `inputHash`. The version's ZK binding names the circuit's `Groth16Verifier`
/// (`verifier`) and its verifying-key hash (`bindings[0]`); the circuit's weights are constants, so that key
/// identifies the model.
///
/// The circuit has one public signal, `claimSignal(inputHash, packedOutput) = inputHash * 2^48 + packedOutput`,
/// where `inputHash` is the job's input commitment — the low 200 bits of the requester's salted Poseidon hash of the
/// quantized input, which the circuit decomposes strictly — and `packedOutput` the classifier's class index or the
/// regressor's fixed-point value offset by 2^47 (docs/zk-setup.md). The signal carries the whole on-chain
/// commitment and the output (200 + 48 bits, below the field order), so one signal binds both and verification
/// stays at the pairing floor. A request whose commitment has more than 200 bits, or with redundancy other than 1,
/// is refused by `checkRequest` at request time: no node can be made to claim a job that cannot be proven.
///
/// The output travels in the clear: a ZK job's output bytes are `abi.encodePacked(uint48(packedOutput))` (6 bytes,
/// so the escrow stores it inline) and `proof = abi.encode(uint256 packedOutput, IGroth16Verifier.Proof proof)`;
/// the adapter checks the output bytes' hash against the packed value it feeds the circuit. A batch proof is
/// `abi.encode(uint256[] packedOutputs, IGroth16Verifier.Proof[] proofs)`, one entry per claim, all of one model
/// version.
///
/// One proof for N jobs: a version's owner may bind, once per slot count N in [2, 64], the key of the version's
/// N-slot circuit (N copies of the model circuit, public signal i = claim of slot i; `src/zkml/batch-circuit.ts`)
/// with `setSlotVerifier`, which deploys its `Groth16SlotVerifier`. A batch proof
/// `abi.encode(uint256 SLOT_PROOF, uint256 N, uint256[] packedOutputs, IGroth16Verifier.Proof proof)` then settles
/// k <= N jobs with one proof: job i is slot i and every slot from k on must carry claim 0 (the prover pads with
/// a copy of job 0), so no slot can hold a claim the escrow does not settle and check.
/// @dev The version's verifier is a `Groth16Verifier` that the registry checked was deployed by its verifier factory
/// with the bound key. A proof is not bound to a job or node: replaying it for another job with the same input
/// commitment (same input and salt) reproduces a correct result, which is harmless; copying from the mempool is
/// prevented by the escrow (k = 1 jobs accept their assigned node only), and ZK jobs are k = 1 only, since a
/// proof already settles the answer and a copied proof could otherwise back another node's reveal.
/// @dev Warning: a commitment of 200 bits resists finding another input for a given commitment at about 2^200
/// Poseidon evaluations, and two inputs with one commitment (which only their own requester could use) at about
/// 2^100.
/// @dev Warning: a slot key is bound by the model's owner after publication (the registry fixes only the single-job
/// key), once per (version, N) and never changed. Like the single key, only its validity is checked on-chain: that
/// it is the key of the N-slot circuit of the version's model is checked off-chain (rebuild the N-slot circuit from
/// the ONNX file, compare the key hash of `SlotVerifierSet`); a requester who has not checked a version's slot keys
/// trusts its owner for them.
interface IZkInferenceVerifier is IBatchInferenceVerifier {
    /// @notice Emitted when the owner of `modelId` binds the `slots`-slot verifier of `version`, with its key hash
    /// `keccak256(abi.encode(uint256[] key))`.
    event SlotVerifierSet(
        ModelId indexed modelId, uint32 indexed version, uint256 indexed slots, address verifier, bytes32 keyHash
    );

    /// @notice `inputHash` has more than `bits` bits, so no circuit can open it.
    error ZkInferenceVerifierCommitmentOutOfRange(bytes32 inputHash, uint256 bits);
    /// @notice ZK jobs have redundancy 1: a proof settles the answer by itself.
    error ZkInferenceVerifierRedundancyUnsupported(uint8 redundancy);
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
    /// @notice Only the model's owner binds its slot verifiers.
    error ZkInferenceVerifierUnauthorizedAccount(ModelId modelId, address account);
    /// @notice The version already has a `slots`-slot verifier: a binding is never changed.
    error ZkInferenceVerifierSlotVerifierAlreadySet(ModelId modelId, uint32 version, uint256 slots);
    /// @notice The version has no `slots`-slot verifier.
    error ZkInferenceVerifierNoSlotVerifier(ModelId modelId, uint32 version, uint256 slots);
    /// @notice A slot proof's claims and packed outputs differ in number, the batch is empty, or it has more jobs
    /// than slots.
    error ZkInferenceVerifierSlotCountMismatch(uint256 claims, uint256 packedOutputs, uint256 slots);

    /// @notice The circuit's public signal for a claim on `inputHash` with output `packedOutput`.
    function claimSignal(bytes32 inputHash, uint256 packedOutput) external pure returns (uint256);

    /// @notice Binds the key of the `slots`-slot circuit of `modelId`@`version` (its slot count read from the key's
    /// length: `16 + 2 * slots` words, see `IGroth16SlotVerifier`), deploying its `Groth16SlotVerifier`.
    /// @dev Reverts with ZkInferenceVerifierUnauthorizedAccount unless the caller owns the model, with
    /// ModelRegistryModeNotSupported when the version does not serve ZK, with Groth16SlotVerifierInvalidKey for a key
    /// of another length, and with ZkInferenceVerifierSlotVerifierAlreadySet when that slot count is bound.
    function setSlotVerifier(ModelId modelId, uint32 version, uint256[] calldata key) external returns (address);

    /// @notice The `slots`-slot verifier of `modelId`@`version`, zero if none is bound.
    function slotVerifierOf(ModelId modelId, uint32 version, uint256 slots) external view returns (address);
}
