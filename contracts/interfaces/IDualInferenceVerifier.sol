// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceVerifier} from "./IInferenceVerifier.sol";
import {ITeeVerifier} from "./ITeeVerifier.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {IZkInferenceVerifier} from "../verifiers/zk/IZkInferenceVerifier.sol";

/// @title IDualInferenceVerifier
/// @notice DUAL mode (3), for high-value jobs: a result is accepted only with BOTH a Groth16 proof that the ZK
/// verifier accepts and an EIP-712 signature from a live, attested enclave of the submitting node, both over the
/// same claim (job, model version, input commitment, output, node). Trust: a forged result needs a broken proof
/// system or a broken verifying key AND a compromised enclave (or a broken attestation chain) of the node; either
/// alone settles nothing. Physical attacks on TEEs (memory-bus interposers, BadRAM, firmware key extraction) then
/// no longer suffice, and a flawed circuit or key alone does not either.
///
/// The proof is `abi.encode(bytes zkProof, bytes teeSignature)`: `zkProof` is a ZK-mode proof
/// (`IZkInferenceVerifier`, so the output bytes are the 6-byte packed output) and `teeSignature` the enclave's
/// signature of `ITeeVerifier`'s `InferenceResult` struct (escrow = `msg.sender`) under this contract's EIP-712
/// domain ("InferenceTeeVerifier", "1", chain id, this contract): a TEE-mode signature can never serve a dual job,
/// nor the reverse. The enclave is checked through the TEE verifier's views exactly as `ITeeVerifier.verify` checks
/// it (registered to `claim.node`, unrevoked, unexpired, its measurement unrevoked and bound to TEE mode by the
/// version); a failure reverts with the TEE verifier's own error.
///
/// A version supports DUAL only if it also binds ZK and TEE (`IModelRegistry.ModelRegistryIncompleteDualMode`):
/// the ZK binding names the circuit's verifier and key, the TEE binding the accepted measurements. Requests follow
/// the ZK rules (redundancy 1, an input commitment of at most 200 bits); a node is excused when either inner
/// verifier excuses it (in practice: its enclave, or a measurement it ran, revoked between its claim and deadline).
/// Cost: a ZK submission plus one `ecrecover` and the enclave's reads (see the gas snapshot); not batchable.
/// @dev Warning: this contract trusts the ZK verifier, the TEE verifier and the registry it was deployed with; all
/// three are immutable here. An operator serving DUAL registers its enclave with the TEE verifier (as a TEE
/// operator) and needs the version's circuit (as a ZK operator).
interface IDualInferenceVerifier is IInferenceVerifier {
    /// @notice The proof is not `abi.encode(bytes, bytes)` within its `length` bytes.
    error DualInferenceVerifierMalformedProof(uint256 length);
    /// @notice The inner verifiers are not a ZK and a TEE verifier reading `registry`.
    error DualInferenceVerifierInvalidVerifiers(address zkVerifier, address teeVerifier, address registry);

    /// @notice The verifier that checks the ZK half.
    function zkVerifier() external view returns (IZkInferenceVerifier);

    /// @notice The verifier whose enclave registrations the TEE half is checked against.
    function teeVerifier() external view returns (ITeeVerifier);

    /// @notice The registry whose TEE bindings list each version's measurements.
    function registry() external view returns (IModelRegistry);

    /// @notice The EIP-712 digest an enclave signs for `claim` submitted through `escrow`.
    function resultDigest(InferenceClaim calldata claim, address escrow) external view returns (bytes32);
}
