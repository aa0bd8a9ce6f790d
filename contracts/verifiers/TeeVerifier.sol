// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {Mode, ModelId, ModesLib} from "../types/Ids.sol";

/// @title TeeVerifier
/// @notice Accepts results signed by registered, unexpired, unrevoked enclave keys. See `ITeeVerifier`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController; `ATTESTOR_ROLE` registers
/// enclave keys after checking their attestation.
contract TeeVerifier is ITeeVerifier, AccessControl, EIP712 {
    /// @notice The role that registers enclave keys.
    bytes32 public constant ATTESTOR_ROLE = keccak256("ATTESTOR_ROLE");
    /// @notice The longest an enclave registration may last before it must be renewed.
    uint64 public constant MAX_ENCLAVE_TTL = 30 days;
    // A compile-time constant: the long type string costs no gas.
    // solhint-disable gas-small-strings
    /// @notice The EIP-712 type an enclave signs.
    bytes32 public constant RESULT_TYPEHASH = keccak256(
        "InferenceResult(address escrow,uint64 jobId,uint64 modelId,uint32 version,bytes32 inputHash,bytes32 outputHash,address node)"
    );
    // solhint-enable gas-small-strings

    /// @notice The registry whose TEE bindings list the accepted measurements.
    IModelRegistry public immutable registry;

    mapping(address => Enclave) internal _enclaves;
    /// @dev When enclaves of each operator were revoked or taken from it by the attestor, in increasing order.
    mapping(address => uint64[]) internal _disruptions;

    constructor(IModelRegistry registry_, address admin, address attestor) EIP712("InferenceTeeVerifier", "1") {
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ATTESTOR_ROLE, attestor);
    }

    /// @inheritdoc IInferenceVerifier
    function mode() external pure returns (Mode) {
        return ModesLib.TEE;
    }

    /// @inheritdoc IInferenceVerifier
    function verify(InferenceClaim calldata claim, bytes calldata proof) external view {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(resultDigest(claim, msg.sender), proof);
        if (error != ECDSA.RecoverError.NoError) revert TeeVerifierInvalidSignature();
        Enclave memory enclave = _enclaves[signer];
        if (enclave.operator == address(0)) revert TeeVerifierUnknownEnclave(signer);
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);
        if (block.timestamp >= enclave.expiresAt) revert TeeVerifierEnclaveExpired(signer, enclave.expiresAt);
        if (enclave.operator != claim.node) revert TeeVerifierOperatorMismatch(signer, enclave.operator, claim.node);
        if (!registry.isBound(claim.modelId, claim.version, ModesLib.TEE, enclave.measurement)) {
            revert TeeVerifierMeasurementNotAccepted(claim.modelId, claim.version, enclave.measurement);
        }
    }

    /// @inheritdoc ITeeVerifier
    function registerEnclave(address signer, address operator, bytes32 measurement, uint64 expiresAt)
        external
        onlyRole(ATTESTOR_ROLE)
    {
        uint64 maxExpiresAt = uint64(block.timestamp) + MAX_ENCLAVE_TTL;
        if (
            signer == address(0) || operator == address(0) || measurement == bytes32(0)
                || expiresAt <= block.timestamp || expiresAt > maxExpiresAt
        ) revert TeeVerifierInvalidEnclave(signer, operator, measurement, expiresAt, maxExpiresAt);
        Enclave storage enclave = _enclaves[signer];
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);
        address previous = enclave.operator;

        if (previous != address(0) && previous != operator) _disrupt(previous);
        _enclaves[signer] = Enclave({operator: operator, expiresAt: expiresAt, revoked: false, measurement: measurement});

        emit EnclaveRegistered(signer, operator, measurement, expiresAt);
    }

    /// @inheritdoc ITeeVerifier
    function revokeEnclave(address signer) external {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender) && !hasRole(ATTESTOR_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, ATTESTOR_ROLE);
        }
        Enclave storage enclave = _enclaves[signer];
        if (enclave.operator == address(0)) revert TeeVerifierUnknownEnclave(signer);
        // A second revocation would record a second disruption and stretch the operator's excuses.
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);

        enclave.revoked = true;
        _disrupt(enclave.operator);

        emit EnclaveRevoked(signer);
    }

    /// @inheritdoc IInferenceVerifier
    function checksRequests() external pure returns (bool) {
        return false;
    }

    // An enclave signature is checked at submission; there is nothing to refuse at request time.
    // solhint-disable no-empty-blocks
    /// @inheritdoc IInferenceVerifier
    function checkRequest(ModelId, uint32, uint8, bytes32) external pure {}
    // solhint-enable no-empty-blocks

    /// @inheritdoc IInferenceVerifier
    /// @dev True when the attestor revoked an enclave of `node`, or re-registered one to another operator, between
    /// `claimedAt` and `deadline` (both included). Only the attestor and governance can cause that; an enclave's own
    /// expiry is known in advance and excuses nothing, nor does a revocation after the node had already failed.
    function excuses(address node, ModelId, uint32, uint64 claimedAt, uint64 deadline) external view returns (bool) {
        uint64[] storage times = _disruptions[node];
        // The first disruption at or after the claim (times are in increasing order): a binary search.
        (uint256 low, uint256 high) = (0, times.length);
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (times[mid] < claimedAt) low = mid + 1;
            else high = mid;
        }
        return low < times.length && times[low] <= deadline;
    }

    /// @inheritdoc ITeeVerifier
    function disruptedAt(address operator) external view returns (uint64) {
        uint64[] storage times = _disruptions[operator];
        return times.length == 0 ? 0 : times[times.length - 1];
    }

    /// @inheritdoc ITeeVerifier
    function enclaveOf(address signer) external view returns (Enclave memory) {
        return _enclaves[signer];
    }

    function _disrupt(address operator) internal {
        uint64[] storage times = _disruptions[operator];
        // Several disruptions in one block are one: the excuse only asks whether one fell in a window.
        if (times.length == 0 || times[times.length - 1] != uint64(block.timestamp)) times.push(uint64(block.timestamp));

        emit OperatorDisrupted(operator, uint64(block.timestamp));
    }

    /// @inheritdoc ITeeVerifier
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
}
