// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";

/// @title IGroth16SlotVerifier
/// @notice A Groth16 (BN254) verifier of one N-slot circuit: N copies of a model circuit in one proof, public signal
/// i being slot i's claim (`src/zkml/batch-circuit.ts`). One proof settles up to N jobs at the pairing floor plus one
/// scalar multiplication per job.
/// @dev Padding: a caller lists the signals of its k <= N jobs only; every slot from k on takes `signals[0]`, the
/// value an honest prover puts there (a copy of slot 0's input and salt). A padded slot therefore carries no claim
/// of its own, and it costs an addition instead of a multiplication (the padded slots' IC points are summed, then
/// multiplied once by `signals[0]`).
interface IGroth16SlotVerifier {
    /// @notice The key does not have `16 + 2N` words for a slot count N in [2, 64].
    error Groth16SlotVerifierInvalidKey(uint256 length);
    /// @notice `count` signals were given to a verifier of `slots` slots (1 to `slots` are accepted).
    error Groth16SlotVerifierSignalCount(uint256 count, uint256 slots);

    /// @notice The number of slots N (public signals) of the circuit.
    function slots() external view returns (uint256);

    /// @notice Whether `proof` is valid for the public signals `signals` followed by `signals[0]` in every remaining
    /// slot. False for a signal not below the scalar field order or points that are not on the curve.
    function verifyProof(IGroth16Verifier.Proof calldata proof, uint256[] calldata signals) external view returns (bool);

    /// @notice The verifying key as given to the constructor: alpha (G1), beta, gamma, delta (G2, EIP-197 order),
    /// then IC0..ICN (G1). `keccak256(abi.encode(verifyingKey()))` is the key hash `ZkInferenceVerifier` records.
    function verifyingKey() external view returns (uint256[] memory);
}
