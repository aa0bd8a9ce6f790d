// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Groth16Verifier} from "./Groth16Verifier.sol";
import {IGroth16VerifierFactory} from "./IGroth16VerifierFactory.sol";

/// @title Groth16VerifierFactory
/// @notice Deploys `Groth16Verifier`s and vouches for their keys. See `IGroth16VerifierFactory`.
contract Groth16VerifierFactory is IGroth16VerifierFactory {
    mapping(address => bytes32) internal _vkHashes;
    mapping(bytes32 => address) internal _verifiers;

    /// @inheritdoc IGroth16VerifierFactory
    function deploy(uint256[18] calldata key) external returns (address verifier) {
        bytes32 vkHash = keccak256(abi.encode(key));
        verifier = _verifiers[vkHash];
        if (verifier != address(0)) return verifier;

        verifier = address(new Groth16Verifier{salt: vkHash}(key));
        _vkHashes[verifier] = vkHash;
        _verifiers[vkHash] = verifier;

        emit VerifierDeployed(verifier, vkHash);
    }

    /// @inheritdoc IGroth16VerifierFactory
    function vkHashOf(address verifier) external view returns (bytes32) {
        return _vkHashes[verifier];
    }

    /// @inheritdoc IGroth16VerifierFactory
    function verifierOf(bytes32 vkHash) external view returns (address) {
        return _verifiers[vkHash];
    }
}
