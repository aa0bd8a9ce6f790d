// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceVerifier} from "./IInferenceVerifier.sol";

/// @title IBatchInferenceVerifier
/// @notice A verifier that can check many claims with one proof object, cheaper per claim than one `verify` each
/// (for ZK: a random linear combination of Groth16 proofs). The escrow's `submitBatch` uses it.
interface IBatchInferenceVerifier is IInferenceVerifier {
    /// @notice Returns normally if `proof` establishes every claim, and reverts with a diagnostic error otherwise.
    /// @dev All-or-nothing: one false claim rejects the batch.
    function verifyBatch(InferenceClaim[] calldata claims, bytes calldata proof) external view;
}
