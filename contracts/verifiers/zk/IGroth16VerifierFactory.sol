// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IGroth16VerifierFactory
/// @notice The only way to make a `Groth16Verifier` that the ModelRegistry accepts in a ZK binding. It deploys the
/// one audited verifier contract with a given verifying key (CREATE2, salt = the key's hash) and remembers which
/// key each of its verifiers holds, so the registry can check on-chain that a version's verifier is an immutable
/// `Groth16Verifier` whose key hashes to the version's bound `vkHash` — not an always-true or switchable contract.
/// @dev `vkHash = keccak256(abi.encode(uint256[18] key))`, the value `keccak256(abi.encode(verifier.verifyingKey()))`
/// gives, in the word order of `Groth16Verifier`'s constructor (`verifyingKeyArgs` in `src/zkml/solidity.ts`).
/// @dev Warning: a verifier proves that a proof is valid for its key, not that the key belongs to the circuit of
/// the version's model: clients rebuild the circuit from the version's ONNX file and check the key against the
/// published setup (`vin verify` and the operator node do).
interface IGroth16VerifierFactory {
    /// @notice Emitted when a verifier with the key hashing to `vkHash` is deployed at `verifier`.
    event VerifierDeployed(address indexed verifier, bytes32 indexed vkHash);

    /// @notice Deploys the verifier of `key`, or returns the existing one: one verifier per key.
    function deploy(uint256[18] calldata key) external returns (address verifier);

    /// @notice The key hash of a verifier this factory deployed; zero for any other address.
    function vkHashOf(address verifier) external view returns (bytes32);

    /// @notice The verifier deployed for `vkHash` (zero if none yet).
    function verifierOf(bytes32 vkHash) external view returns (address);
}
