// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceVerifier} from "./IInferenceVerifier.sol";
import {ModelId} from "../types/Ids.sol";

/// @title ITeeVerifier
/// @notice Verifies inference results signed (EIP-712) by an enclave key. An attestor registers each enclave key
/// with the operator that runs it, its measurement and an expiry; governance (or the attestor) can revoke it.
/// A result is accepted when its signer is a live enclave of the submitting node whose measurement the model
/// version accepts in its TEE binding.
/// @dev The signed struct names the escrow (`msg.sender` of `verify`), the job, the model version, the input and
/// output hashes and the node; with the EIP-712 domain (chain id, this contract) a signature cannot be replayed
/// across jobs, escrows, verifiers or chains.
/// @dev A revocation, or a re-registration of a key to another operator, can make a node's claimed job
/// impossible to deliver. Neither is the node's doing, so when it falls between the node's claim and its deadline
/// it excuses the node (`excuses`): the job is refunded at expiry and the node's collateral released without a
/// slash. A revocation after the deadline excuses nothing: the node had already failed. The attestor can therefore stop jobs but cannot
/// take anyone's stake.
/// @dev Warning: the attestor is trusted to register only keys whose enclave attestation it checked. Until
/// hardware attestation lands, development enclaves keep their key in an ordinary process: a development
/// deployment's TEE mode proves nothing about confidentiality or integrity.
interface ITeeVerifier is IInferenceVerifier {
    /// @notice A registered enclave key.
    struct Enclave {
        address operator;
        uint64 expiresAt;
        bool revoked;
        bytes32 measurement;
    }

    /// @notice Emitted when an enclave key is registered (or re-registered).
    event EnclaveRegistered(address indexed signer, address indexed operator, bytes32 indexed measurement, uint64 expiresAt);

    /// @notice Emitted when an enclave key is revoked.
    event EnclaveRevoked(address indexed signer);

    /// @notice Emitted when an enclave of `operator` is revoked or re-registered to another operator: jobs it
    /// claimed up to `at` and could not deliver are excused from slashing.
    event OperatorDisrupted(address indexed operator, uint64 at);

    /// @notice The proof is not a 65-byte signature, or it does not recover to a key.
    error TeeVerifierInvalidSignature();
    /// @notice `signer` is not a registered enclave key.
    error TeeVerifierUnknownEnclave(address signer);
    /// @notice `signer`'s registration expired at `expiresAt`.
    error TeeVerifierEnclaveExpired(address signer, uint64 expiresAt);
    /// @notice `signer` has been revoked.
    error TeeVerifierEnclaveRevoked(address signer);
    /// @notice `signer` is registered to `operator`, not to the submitting `node`.
    error TeeVerifierOperatorMismatch(address signer, address operator, address node);
    /// @notice The model version does not accept enclaves with `measurement`.
    error TeeVerifierMeasurementNotAccepted(ModelId modelId, uint32 version, bytes32 measurement);
    /// @notice A registration is malformed: zero signer, operator or measurement, or an expiry in the past or
    /// beyond `maxExpiresAt`.
    error TeeVerifierInvalidEnclave(address signer, address operator, bytes32 measurement, uint64 expiresAt, uint64 maxExpiresAt);

    /// @notice Registers `signer` as an enclave key run by `operator`, with `measurement`, until `expiresAt`.
    /// Only the attestor role.
    function registerEnclave(address signer, address operator, bytes32 measurement, uint64 expiresAt) external;

    /// @notice Revokes `signer` for good (once: revoking it again reverts with `TeeVerifierEnclaveRevoked`). Only
    /// governance or the attestor role.
    /// @dev Warning: a disruption is recorded per operator, not per key, and a revocation in the same second as a
    /// claim counts as after it: an operator with a second live key is excused on its jobs in flight all the same.
    /// Either way the job is refunded in full; what the operator escapes is a slash, never a payment.
    function revokeEnclave(address signer) external;

    /// @notice When an enclave of `operator` was last revoked or re-registered away from it (zero if never); every
    /// such time is kept, so an excuse is judged by whether one fell within the job's window.
    function disruptedAt(address operator) external view returns (uint64);

    /// @notice A registered enclave (all zero if unknown).
    function enclaveOf(address signer) external view returns (Enclave memory);

    /// @notice The EIP-712 digest an enclave signs for `claim` submitted through `escrow`.
    function resultDigest(InferenceClaim calldata claim, address escrow) external view returns (bytes32);
}
