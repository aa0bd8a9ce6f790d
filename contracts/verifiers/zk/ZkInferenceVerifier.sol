// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceVerifier} from "../../interfaces/IInferenceVerifier.sol";
import {IBatchInferenceVerifier} from "../../interfaces/IBatchInferenceVerifier.sol";
import {IModelRegistry} from "../../interfaces/IModelRegistry.sol";
import {ModelId, Mode, ModesLib} from "../../types/Ids.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {IGroth16SlotVerifier} from "./IGroth16SlotVerifier.sol";
import {Groth16SlotVerifier} from "./Groth16SlotVerifier.sol";
import {IZkInferenceVerifier} from "./IZkInferenceVerifier.sol";

/// @title ZkInferenceVerifier
/// @notice Routes ZK claims to the Groth16 verifier bound to their model version. See `IZkInferenceVerifier`.
contract ZkInferenceVerifier is IZkInferenceVerifier {
    /// @notice Bits of a ZK job's input commitment, all of which the public signal carries.
    uint256 public constant INPUT_BITS = 200;
    /// @notice Bits of the packed output.
    uint256 public constant OUTPUT_BITS = 48;
    /// @dev abi.encode(uint256, uint256[2], uint256[2][2], uint256[2]) is 9 words.
    uint256 internal constant PROOF_LENGTH = 9 * 32;
    /// @notice The first word of a batch proof settled by one N-slot proof (an RLC batch's first word is 0x40).
    uint256 public constant SLOT_PROOF = 1;

    /// @notice The registry whose ZK bindings name each version's circuit verifier.
    IModelRegistry public immutable registry;

    /// @dev The N-slot verifier of each (model, version, N), set once by the model's owner.
    mapping(ModelId => mapping(uint32 => mapping(uint256 => IGroth16SlotVerifier))) internal _slotVerifiers;

    constructor(IModelRegistry registry_) {
        registry = registry_;
    }

    /// @inheritdoc IInferenceVerifier
    function mode() external pure returns (Mode) {
        return ModesLib.ZK;
    }

    /// @inheritdoc IInferenceVerifier
    function verify(InferenceClaim calldata claim, bytes calldata proof) external view {
        if (proof.length != PROOF_LENGTH) revert ZkInferenceVerifierMalformedProof(proof.length);
        (uint256 packed, IGroth16Verifier.Proof memory p) = abi.decode(proof, (uint256, IGroth16Verifier.Proof));
        uint256 signal = _signal(claim, packed);
        if (!_verifierOf(claim).verifyProof(p.a, p.b, p.c, [signal])) {
            revert ZkInferenceVerifierInvalidProof(claim.jobId);
        }
    }

    /// @inheritdoc IBatchInferenceVerifier
    function verifyBatch(InferenceClaim[] calldata claims, bytes calldata proof) external view {
        if (proof.length >= 32 && uint256(bytes32(proof[:32])) == SLOT_PROOF) return _verifySlots(claims, proof);
        (uint256[] memory packed, IGroth16Verifier.Proof[] memory proofs) =
            abi.decode(proof, (uint256[], IGroth16Verifier.Proof[]));
        uint256 n = claims.length;
        if (n == 0 || packed.length != n || proofs.length != n) {
            revert ZkInferenceVerifierBatchLengthMismatch(n, packed.length, proofs.length);
        }
        if (!_verifierOf(claims[0]).verifyBatch(proofs, _signals(claims, packed))) {
            revert ZkInferenceVerifierInvalidBatch(n);
        }
    }

    /// @inheritdoc IZkInferenceVerifier
    function setSlotVerifier(ModelId modelId, uint32 version, uint256[] calldata key)
        external
        returns (address verifier)
    {
        if (registry.modelOf(modelId).owner != msg.sender) {
            revert ZkInferenceVerifierUnauthorizedAccount(modelId, msg.sender);
        }
        if (registry.bindingOf(modelId, version, ModesLib.ZK).verifier == address(0)) {
            revert ZkInferenceVerifierNoVerifier();
        }
        IGroth16SlotVerifier slotVerifier = new Groth16SlotVerifier(key);
        uint256 slots = slotVerifier.slots();
        if (address(_slotVerifiers[modelId][version][slots]) != address(0)) {
            revert ZkInferenceVerifierSlotVerifierAlreadySet(modelId, version, slots);
        }
        _slotVerifiers[modelId][version][slots] = slotVerifier;
        verifier = address(slotVerifier);

        emit SlotVerifierSet(modelId, version, slots, verifier, keccak256(abi.encode(key)));
    }

    /// @inheritdoc IZkInferenceVerifier
    function slotVerifierOf(ModelId modelId, uint32 version, uint256 slots) external view returns (address) {
        return address(_slotVerifiers[modelId][version][slots]);
    }

    /// @inheritdoc IInferenceVerifier
    function checksRequests() external pure returns (bool) {
        return true;
    }

    /// @inheritdoc IInferenceVerifier
    function checkRequest(ModelId, uint32, uint8 redundancy, bytes32 inputHash) external pure {
        if (redundancy != 1) revert ZkInferenceVerifierRedundancyUnsupported(redundancy);
        _checkCommitment(inputHash);
    }

    /// @inheritdoc IInferenceVerifier
    /// @dev A version's verifier is fixed when the version is published: nothing changes after a claim.
    function excuses(address, ModelId, uint32, uint64, uint64) external pure returns (bool) {
        return false;
    }

    /// @inheritdoc IZkInferenceVerifier
    function claimSignal(bytes32 inputHash, uint256 packedOutput) external pure returns (uint256) {
        return _pack(inputHash, packedOutput);
    }

    /// @dev One N-slot proof: job i is slot i, and the slot verifier repeats claim 0 in the slots past the jobs.
    function _verifySlots(InferenceClaim[] calldata claims, bytes calldata proof) internal view {
        (, uint256 slots, uint256[] memory packed, IGroth16Verifier.Proof memory p) =
            abi.decode(proof, (uint256, uint256, uint256[], IGroth16Verifier.Proof));
        uint256 n = claims.length;
        if (n == 0 || packed.length != n || n > slots) {
            revert ZkInferenceVerifierSlotCountMismatch(n, packed.length, slots);
        }
        InferenceClaim calldata first = claims[0];
        IGroth16SlotVerifier verifier = _slotVerifiers[first.modelId][first.version][slots];
        if (address(verifier) == address(0)) {
            revert ZkInferenceVerifierNoSlotVerifier(first.modelId, first.version, slots);
        }
        if (!verifier.verifyProof(p, _signals(claims, packed))) revert ZkInferenceVerifierInvalidBatch(n);
    }

    /// @dev The public signals of a batch's claims, all of one model version.
    function _signals(InferenceClaim[] calldata claims, uint256[] memory packed)
        internal
        pure
        returns (uint256[] memory signals)
    {
        uint256 n = claims.length;
        signals = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            InferenceClaim calldata claim = claims[i];
            if (
                i != 0
                    && (ModelId.unwrap(claim.modelId) != ModelId.unwrap(claims[0].modelId)
                        || claim.version != claims[0].version)
            ) {
                revert ZkInferenceVerifierMixedBatch(i);
            }
            signals[i] = _signal(claim, packed[i]);
        }
    }

    function _verifierOf(InferenceClaim calldata claim) internal view returns (IGroth16Verifier verifier) {
        verifier = IGroth16Verifier(registry.bindingOf(claim.modelId, claim.version, ModesLib.ZK).verifier);
        if (address(verifier) == address(0)) revert ZkInferenceVerifierNoVerifier();
    }

    /// @dev The output bytes must be the packed output, so the consumer reads what the circuit proved.
    function _signal(InferenceClaim calldata claim, uint256 packed) internal pure returns (uint256) {
        uint256 signal = _pack(claim.inputHash, packed);
        if (keccak256(abi.encodePacked(uint48(packed))) != claim.outputHash) {
            revert ZkInferenceVerifierOutputMismatch(claim.jobId, claim.outputHash, packed);
        }
        return signal;
    }

    function _pack(bytes32 inputHash, uint256 packed) internal pure returns (uint256) {
        _checkCommitment(inputHash);
        if (packed >> OUTPUT_BITS != 0) revert ZkInferenceVerifierOutputOutOfRange(packed);
        return (uint256(inputHash) << OUTPUT_BITS) | packed;
    }

    function _checkCommitment(bytes32 inputHash) internal pure {
        if (uint256(inputHash) >> INPUT_BITS != 0) {
            revert ZkInferenceVerifierCommitmentOutOfRange(inputHash, INPUT_BITS);
        }
    }
}
