// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceVerifier} from "../../interfaces/IInferenceVerifier.sol";
import {IModelRegistry} from "../../interfaces/IModelRegistry.sol";
import {Mode, ModesLib} from "../../types/Ids.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {IZkInferenceVerifier} from "./IZkInferenceVerifier.sol";

/// @title ZkInferenceVerifier
/// @notice Routes a ZK claim to the Groth16 verifier bound to its model version. See `IZkInferenceVerifier`.
contract ZkInferenceVerifier is IZkInferenceVerifier {
    /// @notice The BN254 scalar field order: public signals must be below it.
    uint256 public constant FIELD_SIZE =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev abi.encode(uint256[2], uint256[2][2], uint256[2]) is 8 words.
    uint256 internal constant PROOF_LENGTH = 8 * 32;

    /// @notice The registry whose ZK bindings name each version's circuit verifier.
    IModelRegistry public immutable registry;

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
        uint256[3] memory signals = [_toField(claim.inputHash), _toField(claim.outputHash), _context(msg.sender, claim)];
        address verifier = registry.bindingOf(claim.modelId, claim.version, ModesLib.ZK).verifier;
        if (verifier == address(0)) revert ZkInferenceVerifierNoVerifier();
        (uint256[2] memory a, uint256[2][2] memory b, uint256[2] memory c) =
            abi.decode(proof, (uint256[2], uint256[2][2], uint256[2]));
        if (!IGroth16Verifier(verifier).verifyProof(a, b, c, signals)) revert ZkInferenceVerifierInvalidProof(claim.jobId);
    }

    /// @inheritdoc IZkInferenceVerifier
    function contextOf(address escrow, InferenceClaim calldata claim) external view returns (uint256) {
        return _context(escrow, claim);
    }

    function _context(address escrow, InferenceClaim calldata claim) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, escrow, claim.jobId, claim.node))) % FIELD_SIZE;
    }

    /// @dev Rejects rather than reduces: `h` and `h + FIELD_SIZE` must not both verify.
    function _toField(bytes32 h) internal pure returns (uint256) {
        if (uint256(h) >= FIELD_SIZE) revert ZkInferenceVerifierHashNotInField(h);
        return uint256(h);
    }
}
