// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IInferenceVerifier} from "../../../contracts/interfaces/IInferenceVerifier.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {IGroth16VerifierFactory} from "../../../contracts/verifiers/zk/IGroth16VerifierFactory.sol";
import {JobId, ModelId, ModesLib} from "../../../contracts/types/Ids.sol";
import {TeeVerifierHarness} from "../utils/TeeVerifierHarness.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @title TeeExcusesHandler
/// @notice Drives a TeeVerifier (its test harness) as its governance and as three operators: operators register
/// keys (as by quote, for lifetimes a `maxEnclaveAge` may have) with four measurements (version 1 binds two,
/// version 2 one, the fourth none) and try to take each other's, governance revokes keys and measurements, time
/// passes, and every `verify` is checked against a model. Its ghost keeps the whole history, so that the suite can judge
/// `excuses` (which decides between a slash and a release) by scanning it, independently of the contract's indexes.
contract TeeExcusesHandler is Test {
    uint256 internal constant KEYS = 6;
    uint256 internal constant OPERATORS = 3;
    uint256 internal constant MEASUREMENTS = 4;

    struct Key {
        address operator;
        uint64 expiresAt;
        bool revoked;
        uint8 measurement;
    }

    struct Registration {
        address operator;
        uint8 measurement;
        uint64 expiresAt;
    }

    TeeVerifierHarness public immutable tee;
    ModelId public immutable model;

    bytes32[MEASUREMENTS] public measurements;
    mapping(address signer => Key) internal _keys;
    mapping(address operator => uint64[]) internal _disruptions;
    uint64[MEASUREMENTS] public revokedAt;
    Registration[] internal _registrations;
    /// @notice Times at which something happened: the windows the suite checks `excuses` around.
    uint64[] public times;

    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public verified;
    uint256 public refused;

    constructor() {
        ModelRegistry registry = new ModelRegistry(IGroth16VerifierFactory(address(0)));
        tee = new TeeVerifierHarness(registry, address(this));
        for (uint256 i; i < MEASUREMENTS; ++i) {
            measurements[i] = keccak256(abi.encode("measurement", i));
        }
        bytes32[] memory first = new bytes32[](2);
        (first[0], first[1]) = (measurements[0], measurements[1]);
        bytes32[] memory second = new bytes32[](1);
        second[0] = measurements[2];
        model = registry.createModelAndPublish(1, _version(first));
        registry.publishVersion(model, _version(second));
    }

    /* ACTIONS */

    /// @notice An operator registers (or renews) a key; refused for a revoked key, another operator's key (a key
    /// never moves) or a revoked measurement.
    function register(uint256 keySeed, uint256 operatorSeed, uint256 measurementSeed, uint256 ageSeed) external {
        address signer = _signer(keySeed);
        address operator = actor("tee operator", operatorSeed % OPERATORS);
        uint8 m = uint8(measurementSeed % MEASUREMENTS);
        uint64 age = uint64(clamp(ageSeed, tee.MIN_ENCLAVE_AGE(), tee.MAX_ENCLAVE_AGE()));
        Key storage key = _keys[signer];
        bool taken = key.operator != address(0) && key.operator != operator;
        vm.prank(operator);
        try tee.registerVerified(signer, keccak256(abi.encode("hpke", signer)), measurements[m], age) returns (
            uint64 expiresAt
        ) {
            if (key.revoked || taken || revokedAt[m] != 0) _wrong("registration accepted");
            if (expiresAt != block.timestamp + age) _wrong("registration expiry");
            (key.operator, key.expiresAt, key.measurement) = (operator, expiresAt, m);
            _registrations.push(Registration({operator: operator, measurement: m, expiresAt: expiresAt}));
        } catch (bytes memory err) {
            _expect(
                err,
                key.revoked
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer)
                    : taken
                        ? abi.encodeWithSelector(
                            ITeeVerifier.TeeVerifierOperatorMismatch.selector, signer, key.operator, operator
                        )
                        : revokedAt[m] != 0
                            ? abi.encodeWithSelector(
                                ITeeVerifier.TeeVerifierMeasurementRevoked.selector, measurements[m]
                            )
                            : bytes("")
            );
        }
        times.push(uint64(block.timestamp));
    }

    /// @notice Governance revokes a key (once).
    function revokeEnclave(uint256 keySeed) external {
        address signer = _signer(keySeed);
        Key storage key = _keys[signer];
        try tee.revokeEnclave(signer) {
            if (key.operator == address(0) || key.revoked) _wrong("revocation accepted");
            key.revoked = true;
            _disruptions[key.operator].push(uint64(block.timestamp));
        } catch (bytes memory err) {
            _expect(
                err,
                key.operator == address(0)
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierUnknownEnclave.selector, signer)
                    : abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer)
            );
        }
        times.push(uint64(block.timestamp));
    }

    /// @notice Governance revokes a measurement (once), whether or not any key has it.
    function revokeMeasurement(uint256 measurementSeed) external {
        uint8 m = uint8(measurementSeed % MEASUREMENTS);
        try tee.revokeMeasurement(measurements[m]) {
            if (revokedAt[m] != 0) _wrong("measurement revoked twice");
            revokedAt[m] = uint64(block.timestamp);
        } catch (bytes memory err) {
            _expect(
                err,
                revokedAt[m] != 0
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierMeasurementRevoked.selector, measurements[m])
                    : bytes("")
            );
        }
        times.push(uint64(block.timestamp));
    }

    function warp(uint256 seed) external {
        vm.warp(block.timestamp + clamp(seed, 1, 3 days));
    }

    /// @notice Time passes to a key's expiry exactly (when ahead), so that a revocation can fall on it: registrations
    /// last an hour at least, which random warps seldom end on.
    function warpToExpiry(uint256 keySeed) external {
        uint64 expiresAt = _keys[_signer(keySeed)].expiresAt;
        if (expiresAt > block.timestamp) vm.warp(expiresAt);
    }

    /// @notice A key signs a result of a job of `version` for an operator: `verify` must accept or refuse exactly as
    /// the model says (this handler stands for the escrow).
    function submit(uint256 keySeed, uint256 operatorSeed, uint256 versionSeed) external {
        uint256 privateKey = _privateKey(keySeed);
        address node = actor("tee operator", operatorSeed % OPERATORS);
        uint32 version = uint32(1 + versionSeed % 2);
        IInferenceVerifier.InferenceClaim memory claim = IInferenceVerifier.InferenceClaim({
            jobId: JobId.wrap(uint64(keySeed % 1000)),
            modelId: model,
            version: version,
            inputHash: keccak256("input"),
            outputHash: keccak256("output"),
            node: node
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(privateKey, tee.resultDigest(claim, address(this)));
        bytes memory expected = _refusal(vm.addr(privateKey), node, version);
        try tee.verify(claim, abi.encodePacked(r, s, v)) {
            if (expected.length != 0) _wrong("result accepted");
            ++verified;
        } catch (bytes memory err) {
            if (expected.length == 0) _wrong("result refused");
            else _expect(err, expected);
            ++refused;
        }
    }

    /* MODEL */

    /// @notice What `excuses` must answer, from the whole history: a key of `node` revoked within the window, or a measurement `version` binds revoked within it while a registration of `node` with it was live.
    function modelExcuses(address node, uint32 version, uint64 claimedAt, uint64 deadline)
        external
        view
        returns (bool)
    {
        uint64[] storage disrupted = _disruptions[node];
        for (uint256 i; i < disrupted.length; ++i) {
            if (disrupted[i] >= claimedAt && disrupted[i] <= deadline) return true;
        }
        for (uint256 i; i < _registrations.length; ++i) {
            Registration storage reg = _registrations[i];
            uint64 at = revokedAt[reg.measurement];
            if (
                reg.operator == node && _binds(version, reg.measurement) && at != 0 && at >= claimedAt && at <= deadline
                    && reg.expiresAt > at
            ) {
                return true;
            }
        }
        return false;
    }

    function timesLength() external view returns (uint256) {
        return times.length;
    }

    function _refusal(address signer, address node, uint32 version) internal view returns (bytes memory) {
        Key storage key = _keys[signer];
        if (key.operator == address(0)) {
            return abi.encodeWithSelector(ITeeVerifier.TeeVerifierUnknownEnclave.selector, signer);
        }
        if (key.revoked) return abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer);
        if (block.timestamp >= key.expiresAt) {
            return abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveExpired.selector, signer, key.expiresAt);
        }
        if (key.operator != node) {
            return abi.encodeWithSelector(ITeeVerifier.TeeVerifierOperatorMismatch.selector, signer, key.operator, node);
        }
        bytes32 m = measurements[key.measurement];
        if (revokedAt[key.measurement] != 0) {
            return abi.encodeWithSelector(ITeeVerifier.TeeVerifierMeasurementRevoked.selector, m);
        }
        if (!_binds(version, key.measurement)) {
            return abi.encodeWithSelector(ITeeVerifier.TeeVerifierMeasurementNotAccepted.selector, model, version, m);
        }
        return "";
    }

    /// @dev Version 1 binds measurements 0 and 1, version 2 measurement 2; version 3 does not exist.
    function _binds(uint32 version, uint8 m) internal pure returns (bool) {
        return version == 1 ? m < 2 : version == 2 && m == 2;
    }

    function _privateKey(uint256 seed) internal pure returns (uint256) {
        return 0x7EE0000 + seed % KEYS;
    }

    function _signer(uint256 seed) internal pure returns (address) {
        return vm.addr(_privateKey(seed));
    }

    function _version(bytes32[] memory bound) internal pure returns (IModelRegistry.VersionInput memory input) {
        input.cardHash = sha256("tee excuses model");
        input.cardCid = abi.encodePacked(hex"01551220", input.cardHash);
        input.files = new IModelRegistry.FileRef[](1);
        input.files[0] = IModelRegistry.FileRef({path: "model.onnx", cid: input.cardCid, sha256: input.cardHash});
        input.modes = new IModelRegistry.ModeBinding[](1);
        input.modes[0] = IModelRegistry.ModeBinding({mode: ModesLib.TEE, verifier: address(0), bindings: bound});
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) _wrong(string(err));
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title TeeExcusesInvariantTest
/// @notice `TeeVerifier.excuses` decides whether a node that did not deliver is slashed or released: it must answer
/// exactly what the history of revocations and registrations says, for every operator and version (and a version
/// that does not exist), in windows around the latest events (claims and deadlines at, just before and just after
/// each) and over all time; `verify` must refuse exactly as the model.
/// @dev Checked after every call, so every event is the latest once; older windows are covered by the all-time one.
contract TeeExcusesInvariantTest is Test {
    uint256 internal constant RECENT = 2;

    TeeExcusesHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new TeeExcusesHandler();
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = TeeExcusesHandler.register.selector;
        selectors[1] = TeeExcusesHandler.revokeEnclave.selector;
        selectors[2] = TeeExcusesHandler.revokeMeasurement.selector;
        selectors[3] = TeeExcusesHandler.warp.selector;
        selectors[4] = TeeExcusesHandler.warpToExpiry.selector;
        selectors[5] = TeeExcusesHandler.submit.selector;
        _target(address(handler), selectors);
    }

    function invariant_excusesMatchTheHistory() public view {
        TeeVerifierHarness tee = handler.tee();
        ModelId model = handler.model();
        uint256 n = handler.timesLength();
        for (uint256 i = n > RECENT ? n - RECENT : 0; i < n; ++i) {
            uint64 t = handler.times(i);
            uint64[2][5] memory windows =
                [[t - 1, t + 1], [t, t], [t + 1, t + 10], [t - 10, t - 1], [0, type(uint64).max]];
            for (uint256 o; o < 3; ++o) {
                address node = actor("tee operator", o);
                for (uint32 version = 1; version <= 3; ++version) {
                    for (uint256 w; w < windows.length; ++w) {
                        bool actual = tee.excuses(node, model, version, windows[w][0], windows[w][1]);
                        bool expected = handler.modelExcuses(node, version, windows[w][0], windows[w][1]);
                        _assertTrue(actual == expected, "excuses disagrees with the history");
                    }
                }
            }
        }
    }

    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }
}
