// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IDcapVerifier} from "../interfaces/IDcapVerifier.sol";
import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {Mode, ModelId, ModesLib} from "../types/Ids.sol";

/// @title TeeVerifier
/// @notice Accepts results signed by registered, unexpired, unrevoked enclave keys whose measurement the job's
/// version binds. See `ITeeVerifier`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController: it alone sets parameters and revokes.
contract TeeVerifier is ITeeVerifier, AccessControl, EIP712 {
    /// @notice Bounds of `maxEnclaveAge`.
    uint64 public constant MIN_ENCLAVE_AGE = 1 hours;
    /// @notice Upper bound of `maxEnclaveAge`.
    uint64 public constant MAX_ENCLAVE_AGE = 30 days;
    /// @notice How many blocks back a quote's anchor block may be: `blockhash` knows the last 256.
    uint256 public constant QUOTE_WINDOW = 256;
    // Compile-time constants: the long type strings cost no gas.
    // solhint-disable gas-small-strings
    /// @notice The EIP-712 type an enclave signs.
    bytes32 public constant RESULT_TYPEHASH = keccak256(
        "InferenceResult(address escrow,uint64 jobId,uint64 modelId,uint32 version,bytes32 inputHash,bytes32 outputHash,address node)"
    );
    /// @notice The type a quote's report data commits to (see `ITeeVerifier.EnclaveBinding`).
    bytes32 public constant ENCLAVE_BINDING_TYPEHASH = keccak256(
        "EnclaveBinding(address signer,bytes32 hpkePublicKey,address operator,uint256 chainId,address verifier,uint256 anchorBlock,bytes32 anchorBlockHash)"
    );
    // solhint-enable gas-small-strings
    uint64 internal constant DEFAULT_ENCLAVE_AGE = 7 days;
    /// @dev An OHTTP key configuration (`ohttpKeyConfig`) around the 32-byte key: key identifier 1, KEM 0x0020; then 8
    /// bytes of symmetric algorithms, HKDF-SHA256 with AES-128-GCM and with ChaCha20-Poly1305.
    bytes3 internal constant OHTTP_CONFIG_HEAD = 0x010020;
    bytes10 internal constant OHTTP_CONFIG_TAIL = 0x00080001000100010003;

    /// @notice The registry whose TEE bindings list the accepted measurements.
    IModelRegistry public immutable registry;

    /// @dev One slot, all `verify` reads of a key. A measurement is stored once and numbered (from 1), so that its
    /// revocation is read in the same slot as its value (`_liveMeasurements`), not in one more.
    struct EnclaveRecord {
        address operator;
        uint40 expiresAt;
        bool revoked;
        uint48 measurementId;
    }

    /// @dev A measurement's number, and when it was revoked.
    struct MeasurementRecord {
        uint48 id;
        uint64 revokedAt;
    }

    Parameters internal _parameters;
    mapping(address signer => EnclaveRecord) internal _enclaves;
    mapping(address signer => bytes32) internal _hpkeKeys;
    /// @dev When enclaves of each operator were revoked, in increasing order.
    mapping(address operator => uint64[]) internal _disruptions;

    uint48 internal _measurementCount;
    /// @dev When a measurement was last revoked: `excuses` skips the per-measurement reads for claims made after.
    uint64 internal _lastMeasurementRevocation;
    mapping(bytes32 measurement => MeasurementRecord) internal _measurementRecords;
    /// @dev Each number's measurement while unrevoked, zero once revoked: what `verify` reads.
    mapping(uint48 id => bytes32 measurement) internal _liveMeasurements;
    /// @dev Each revoked number's measurement (written at revocation, so that a registration does not pay for it).
    mapping(uint48 id => bytes32 measurement) internal _revokedMeasurements;
    /// @dev The latest expiry of any registration of each operator with each measurement (`excuses`).
    mapping(address operator => mapping(bytes32 measurement => uint64)) internal _measurementExpiries;

    constructor(IModelRegistry registry_, address admin) EIP712("InferenceTeeVerifier", "1") {
        registry = registry_;
        _parameters.maxEnclaveAge = DEFAULT_ENCLAVE_AGE;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IInferenceVerifier
    function mode() external pure returns (Mode) {
        return ModesLib.TEE;
    }

    /// @inheritdoc IInferenceVerifier
    function verify(InferenceClaim calldata claim, bytes calldata proof) external view {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(resultDigest(claim, msg.sender), proof);
        if (error != ECDSA.RecoverError.NoError) revert TeeVerifierInvalidSignature();
        EnclaveRecord memory enclave = _enclaves[signer];
        if (enclave.operator == address(0)) revert TeeVerifierUnknownEnclave(signer);
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);
        if (block.timestamp >= enclave.expiresAt) revert TeeVerifierEnclaveExpired(signer, enclave.expiresAt);
        if (enclave.operator != claim.node) revert TeeVerifierOperatorMismatch(signer, enclave.operator, claim.node);
        bytes32 measurement = _liveMeasurements[enclave.measurementId];
        if (measurement == 0) revert TeeVerifierMeasurementRevoked(_revokedMeasurements[enclave.measurementId]);
        if (!registry.isBound(claim.modelId, claim.version, ModesLib.TEE, measurement)) {
            revert TeeVerifierMeasurementNotAccepted(claim.modelId, claim.version, measurement);
        }
    }

    /* REGISTRATION */

    /// @inheritdoc ITeeVerifier
    function registerEnclaveWithQuote(
        bytes calldata quote,
        bytes32 pckCertificate,
        address signer,
        bytes32 hpkePublicKey,
        uint256 anchorBlock
    ) external returns (bytes32 measurement) {
        Parameters memory p = _parameters;
        if (address(p.dcapVerifier) == address(0)) revert TeeVerifierAttestationUnavailable();
        if (!p.staking.isEligible(msg.sender, Mode.unwrap(ModesLib.TEE), 0)) {
            revert TeeVerifierOperatorIneligible(msg.sender);
        }
        if (signer == address(0) || hpkePublicKey == 0) revert TeeVerifierInvalidKeys(signer, hpkePublicKey);
        EnclaveRecord storage enclave = _enclaves[signer];
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);
        address operator = enclave.operator;
        if (operator != address(0) && operator != msg.sender) {
            revert TeeVerifierOperatorMismatch(signer, operator, msg.sender);
        }
        bytes32 expected = _bindingHash(signer, hpkePublicKey, msg.sender, anchorBlock);

        IDcapVerifier.VerifiedQuote memory v = p.dcapVerifier.verifyQuote(quote, pckCertificate);
        if (keccak256(v.reportData) != keccak256(abi.encodePacked(expected, bytes32(0)))) {
            revert TeeVerifierReportDataMismatch(expected, v.reportData);
        }
        measurement = v.measurementHash;
        uint64 expiresAt = uint64(block.timestamp) + p.maxEnclaveAge;

        _register(signer, msg.sender, measurement, expiresAt);
        _attest(signer, pckCertificate, v.teeType, hpkePublicKey, anchorBlock);
    }

    /// @dev Records `signer`'s HPKE key and emits `EnclaveAttested` (out of `registerEnclaveWithQuote`, whose stack is
    /// full).
    function _attest(
        address signer,
        bytes32 pckCertificate,
        IDcapVerifier.TeeType teeType,
        bytes32 hpkePublicKey,
        uint256 anchorBlock
    ) internal {
        _hpkeKeys[signer] = hpkePublicKey;

        emit EnclaveAttested(
            signer, msg.sender, pckCertificate, teeType, hpkePublicKey, anchorBlock, _ohttpKeyConfigHash(hpkePublicKey)
        );
    }

    /// @dev Records the key (its revocation already checked) with a numbered, unrevoked measurement.
    function _register(address signer, address operator, bytes32 measurement, uint64 expiresAt) internal {
        uint48 id = _measurementIdOf(measurement);
        mapping(bytes32 => uint64) storage expiries = _measurementExpiries[operator];

        _enclaves[signer] =
            EnclaveRecord({operator: operator, expiresAt: uint40(expiresAt), revoked: false, measurementId: id});
        if (expiries[measurement] < expiresAt) expiries[measurement] = expiresAt;

        emit EnclaveRegistered(signer, operator, measurement, expiresAt);
    }

    /// @dev The number of `measurement`, numbering it if it is new; reverts if it was revoked.
    function _measurementIdOf(bytes32 measurement) internal returns (uint48 id) {
        MeasurementRecord storage record = _measurementRecords[measurement];
        if (record.revokedAt != 0) revert TeeVerifierMeasurementRevoked(measurement);
        id = record.id;
        if (id != 0) return id;
        id = ++_measurementCount;
        record.id = id;
        _liveMeasurements[id] = measurement;
    }

    /* REVOCATION */

    /// @inheritdoc ITeeVerifier
    function revokeEnclave(address signer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        EnclaveRecord storage enclave = _enclaves[signer];
        if (enclave.operator == address(0)) revert TeeVerifierUnknownEnclave(signer);
        // A second revocation would record a second disruption and stretch the operator's excuses.
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);

        enclave.revoked = true;
        _disrupt(enclave.operator);

        emit EnclaveRevoked(signer);
    }

    /// @inheritdoc ITeeVerifier
    function revokeMeasurement(bytes32 measurement) external onlyRole(DEFAULT_ADMIN_ROLE) {
        MeasurementRecord storage record = _measurementRecords[measurement];
        if (record.revokedAt != 0) revert TeeVerifierMeasurementRevoked(measurement);

        record.revokedAt = uint64(block.timestamp);
        _lastMeasurementRevocation = uint64(block.timestamp);
        // A measurement no enclave registered yet has no number and nothing to unlist.
        uint48 id = record.id;
        if (id != 0) (_liveMeasurements[id], _revokedMeasurements[id]) = (0, measurement);

        emit MeasurementRevoked(measurement);
    }

    function _disrupt(address operator) internal {
        uint64[] storage times = _disruptions[operator];
        // Several disruptions in one block are one: the excuse only asks whether one fell in a window.
        if (times.length == 0 || times[times.length - 1] != uint64(block.timestamp)) {
            times.push(uint64(block.timestamp));
        }

        emit OperatorDisrupted(operator, uint64(block.timestamp));
    }

    /* GOVERNANCE */

    /// @inheritdoc ITeeVerifier
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint64 age = parameters_.maxEnclaveAge;
        if (age < MIN_ENCLAVE_AGE || age > MAX_ENCLAVE_AGE) {
            revert TeeVerifierParameterOutOfBounds("maxEnclaveAge", age, MIN_ENCLAVE_AGE, MAX_ENCLAVE_AGE);
        }
        if (address(parameters_.dcapVerifier).code.length == 0) {
            revert TeeVerifierInvalidContract("dcapVerifier", address(parameters_.dcapVerifier));
        }
        if (address(parameters_.staking).code.length == 0) {
            revert TeeVerifierInvalidContract("staking", address(parameters_.staking));
        }

        _parameters = parameters_;

        emit ParametersUpdated(parameters_);
    }

    /* EXCUSES */

    /// @inheritdoc IInferenceVerifier
    /// @dev True when, between `claimedAt` and `deadline` (both included), an enclave of `node` was revoked, or a
    /// measurement the version binds was revoked while `node` had an enclave registered with it. Only governance can
    /// cause either (a quote cannot move a key between operators); an enclave's own expiry is known in advance and excuses nothing, nor does a revocation after the node had already failed.
    function excuses(address node, ModelId modelId, uint32 version, uint64 claimedAt, uint64 deadline)
        external
        view
        returns (bool)
    {
        return _disruptedWithin(node, claimedAt, deadline)
            || _measurementRevokedWithin(node, modelId, version, claimedAt, deadline);
    }

    function _disruptedWithin(address node, uint64 claimedAt, uint64 deadline) internal view returns (bool) {
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

    /// @dev Reads at most `ModelRegistry.MAX_BINDINGS` measurements. A version without a TEE binding (never the
    /// version of a TEE job) excuses nothing rather than reverting, so that `expire` cannot be blocked.
    function _measurementRevokedWithin(address node, ModelId modelId, uint32 version, uint64 claimedAt, uint64 deadline)
        internal
        view
        returns (bool)
    {
        uint64 last = _lastMeasurementRevocation;
        if (last == 0 || last < claimedAt) return false;
        bytes32[] memory bound;
        try registry.bindingOf(modelId, version, ModesLib.TEE) returns (IModelRegistry.ModeBinding memory binding) {
            bound = binding.bindings;
        } catch {
            return false;
        }
        mapping(bytes32 => uint64) storage expiries = _measurementExpiries[node];
        for (uint256 i; i < bound.length; ++i) {
            uint64 revokedAt = _measurementRecords[bound[i]].revokedAt;
            if (revokedAt != 0 && revokedAt >= claimedAt && revokedAt <= deadline && expiries[bound[i]] > revokedAt) {
                return true;
            }
        }
        return false;
    }

    /* REQUESTS */

    /// @inheritdoc IInferenceVerifier
    function checksRequests() external pure returns (bool) {
        return false;
    }

    // An enclave signature is checked at submission; there is nothing to refuse at request time.
    // solhint-disable no-empty-blocks
    /// @inheritdoc IInferenceVerifier
    function checkRequest(ModelId, uint32, uint8, bytes32) external pure {}

    // solhint-enable no-empty-blocks

    /* VIEWS */

    /// @inheritdoc ITeeVerifier
    function disruptedAt(address operator) external view returns (uint64) {
        uint64[] storage times = _disruptions[operator];
        return times.length == 0 ? 0 : times[times.length - 1];
    }

    /// @inheritdoc ITeeVerifier
    function measurementRevokedAt(bytes32 measurement) external view returns (uint64) {
        return _measurementRecords[measurement].revokedAt;
    }

    /// @inheritdoc ITeeVerifier
    function enclaveOf(address signer) external view returns (Enclave memory) {
        EnclaveRecord memory enclave = _enclaves[signer];
        bytes32 measurement = _liveMeasurements[enclave.measurementId];
        return Enclave({
            operator: enclave.operator,
            expiresAt: enclave.expiresAt,
            revoked: enclave.revoked,
            measurement: measurement != 0 ? measurement : _revokedMeasurements[enclave.measurementId],
            hpkePublicKey: _hpkeKeys[signer]
        });
    }

    /// @inheritdoc ITeeVerifier
    function ohttpKeyConfig(address signer) external view returns (bytes memory) {
        return _ohttpKeyConfig(_knownHpkeKey(signer));
    }

    /// @inheritdoc ITeeVerifier
    function ohttpKeyConfigHash(address signer) external view returns (bytes32) {
        return _ohttpKeyConfigHash(_knownHpkeKey(signer));
    }

    function _knownHpkeKey(address signer) internal view returns (bytes32) {
        if (_enclaves[signer].operator == address(0)) revert TeeVerifierUnknownEnclave(signer);
        return _hpkeKeys[signer];
    }

    function _ohttpKeyConfig(bytes32 hpkePublicKey) internal pure returns (bytes memory) {
        return abi.encodePacked(OHTTP_CONFIG_HEAD, hpkePublicKey, OHTTP_CONFIG_TAIL);
    }

    function _ohttpKeyConfigHash(bytes32 hpkePublicKey) internal pure returns (bytes32) {
        return sha256(_ohttpKeyConfig(hpkePublicKey));
    }

    /// @inheritdoc ITeeVerifier
    function parameters() external view returns (Parameters memory) {
        return _parameters;
    }

    /// @inheritdoc ITeeVerifier
    function enclaveReportData(address signer, bytes32 hpkePublicKey, address operator, uint256 anchorBlock)
        external
        view
        returns (bytes memory)
    {
        return abi.encodePacked(_bindingHash(signer, hpkePublicKey, operator, anchorBlock), bytes32(0));
    }

    /// @dev The hash a quote's report data starts with (`ITeeVerifier.EnclaveBinding`); reverts for an anchor block
    /// outside the window, whose hash the chain no longer (or does not yet) knows.
    function _bindingHash(address signer, bytes32 hpkePublicKey, address operator, uint256 anchorBlock)
        internal
        view
        returns (bytes32)
    {
        if (anchorBlock >= block.number || block.number - anchorBlock > QUOTE_WINDOW) {
            revert TeeVerifierStaleQuote(anchorBlock, block.number);
        }
        return keccak256(
            abi.encode(
                ENCLAVE_BINDING_TYPEHASH,
                signer,
                hpkePublicKey,
                operator,
                block.chainid,
                address(this),
                anchorBlock,
                blockhash(anchorBlock)
            )
        );
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
