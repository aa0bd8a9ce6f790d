// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IDualInferenceVerifier} from "../interfaces/IDualInferenceVerifier.sol";
import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {Mode, ModelId, ModesLib} from "../types/Ids.sol";
import {IZkInferenceVerifier} from "./zk/IZkInferenceVerifier.sol";

/// @dev The registry getter both inner verifiers expose (not part of their interfaces).
interface IRegistryReader {
    function registry() external view returns (IModelRegistry);
}

/// @title DualInferenceVerifier
/// @notice Accepts a claim only with both a ZK proof and an attested enclave's signature. See
/// `IDualInferenceVerifier`.
contract DualInferenceVerifier is IDualInferenceVerifier, EIP712 {
    // A compile-time constant: the long type string costs no gas.
    // solhint-disable-next-line gas-small-strings
    bytes32 public constant RESULT_TYPEHASH = keccak256(
        "InferenceResult(address escrow,uint64 jobId,uint64 modelId,uint32 version,bytes32 inputHash,bytes32 outputHash,address node)"
    );

    /// @inheritdoc IDualInferenceVerifier
    IZkInferenceVerifier public immutable zkVerifier;
    /// @inheritdoc IDualInferenceVerifier
    ITeeVerifier public immutable teeVerifier;
    /// @inheritdoc IDualInferenceVerifier
    IModelRegistry public immutable registry;

    /// @dev The domain is the TEE verifier's name under this contract's address, so an enclave signs a dual result
    /// as it signs a TEE one, and neither signature serves the other mode.
    constructor(IZkInferenceVerifier zkVerifier_, ITeeVerifier teeVerifier_) EIP712("InferenceTeeVerifier", "1") {
        IModelRegistry registry_ = IRegistryReader(address(zkVerifier_)).registry();
        if (
            zkVerifier_.mode() != ModesLib.ZK || teeVerifier_.mode() != ModesLib.TEE
                || IRegistryReader(address(teeVerifier_)).registry() != registry_
        ) {
            revert DualInferenceVerifierInvalidVerifiers(
                address(zkVerifier_), address(teeVerifier_), address(registry_)
            );
        }
        (zkVerifier, teeVerifier, registry) = (zkVerifier_, teeVerifier_, registry_);
    }

    /// @inheritdoc IInferenceVerifier
    function mode() external pure returns (Mode) {
        return ModesLib.DUAL;
    }

    /// @inheritdoc IInferenceVerifier
    /// @dev The enclave first (one `ecrecover` and a few reads), then the pairing.
    function verify(InferenceClaim calldata claim, bytes calldata proof) external view {
        (bytes calldata zkProof, bytes calldata signature) = _split(proof);
        _checkEnclave(claim, signature);
        zkVerifier.verify(claim, zkProof);
    }

    /// @inheritdoc IInferenceVerifier
    function checksRequests() external pure returns (bool) {
        return true;
    }

    /// @inheritdoc IInferenceVerifier
    /// @dev The ZK rules: the proof must be possible.
    function checkRequest(ModelId modelId, uint32 version, uint8 redundancy, bytes32 inputHash) external view {
        zkVerifier.checkRequest(modelId, version, redundancy, inputHash);
    }

    /// @inheritdoc IInferenceVerifier
    /// @dev Either half may become impossible through no fault of the node (for TEE: a revocation).
    function excuses(address node, ModelId modelId, uint32 version, uint64 claimedAt, uint64 deadline)
        external
        view
        returns (bool)
    {
        return teeVerifier.excuses(node, modelId, version, claimedAt, deadline)
            || zkVerifier.excuses(node, modelId, version, claimedAt, deadline);
    }

    /// @inheritdoc IDualInferenceVerifier
    function resultDigest(InferenceClaim calldata claim, address escrow) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    RESULT_TYPEHASH,
                    escrow,
                    claim.jobId,
                    claim.modelId,
                    claim.version,
                    claim.inputHash,
                    claim.outputHash,
                    claim.node
                )
            )
        );
    }

    /// @dev `ITeeVerifier.verify`'s checks, against this contract's digest, through the TEE verifier's views.
    function _checkEnclave(InferenceClaim calldata claim, bytes calldata signature) internal view {
        (address signer, ECDSA.RecoverError error,) =
            ECDSA.tryRecoverCalldata(resultDigest(claim, msg.sender), signature);
        if (error != ECDSA.RecoverError.NoError) revert ITeeVerifier.TeeVerifierInvalidSignature();
        ITeeVerifier.Enclave memory enclave = teeVerifier.enclaveOf(signer);
        if (enclave.operator == address(0)) revert ITeeVerifier.TeeVerifierUnknownEnclave(signer);
        if (enclave.revoked) revert ITeeVerifier.TeeVerifierEnclaveRevoked(signer);
        if (block.timestamp >= enclave.expiresAt) {
            revert ITeeVerifier.TeeVerifierEnclaveExpired(signer, enclave.expiresAt);
        }
        if (enclave.operator != claim.node) {
            revert ITeeVerifier.TeeVerifierOperatorMismatch(signer, enclave.operator, claim.node);
        }
        if (teeVerifier.measurementRevokedAt(enclave.measurement) != 0) {
            revert ITeeVerifier.TeeVerifierMeasurementRevoked(enclave.measurement);
        }
        if (!registry.isBound(claim.modelId, claim.version, ModesLib.TEE, enclave.measurement)) {
            revert ITeeVerifier.TeeVerifierMeasurementNotAccepted(claim.modelId, claim.version, enclave.measurement);
        }
    }

    /// @dev The two `bytes` of `abi.encode(bytes, bytes)`, as slices of `proof`, every offset and length checked.
    function _split(bytes calldata proof) internal pure returns (bytes calldata zkProof, bytes calldata signature) {
        if (proof.length < 128) revert DualInferenceVerifierMalformedProof(proof.length);
        zkProof = _bytesAt(proof, uint256(bytes32(proof[0:32])));
        signature = _bytesAt(proof, uint256(bytes32(proof[32:64])));
    }

    function _bytesAt(bytes calldata proof, uint256 offset) internal pure returns (bytes calldata) {
        // `proof.length >= 128`: no underflow below.
        if (offset > proof.length - 32) revert DualInferenceVerifierMalformedProof(proof.length);
        uint256 start = offset + 32;
        uint256 length = uint256(bytes32(proof[offset:start]));
        if (length > proof.length - start) revert DualInferenceVerifierMalformedProof(proof.length);
        return proof[start:start + length];
    }
}
