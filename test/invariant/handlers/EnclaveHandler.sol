// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {TeeVerifier} from "../../../contracts/verifiers/TeeVerifier.sol";
import {Vm} from "../utils/Vm.sol";

/// @title EnclaveHandler
/// @notice The TEE side of the world: a pool of enclave keys run by the TEE operators, and the attestor (holding
/// the real `ATTESTOR_ROLE`) registering, moving and revoking them at random times; outsiders that try to revoke
/// must fail. Ghosts record, independently of the verifier, who holds each key and every time each operator was
/// disrupted: a disruption between a node's claim and the deadline it missed excuses it.
contract EnclaveHandler {
    /// @notice What the attestor last did with a key.
    struct Key {
        address operator;
        uint64 expiresAt;
        bool revoked;
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant KEYS = 6;
    uint64 internal constant TTL = 30 days;

    TeeVerifier public immutable tee;
    bytes32 public immutable measurement;
    address public immutable attestor;

    uint256[] internal _keys;
    address[] public operators;
    mapping(address signer => Key) internal _ghost;
    /// @notice Every time the attestor revoked or moved away a key of each operator, in order.
    mapping(address operator => uint64[]) internal _disruptions;

    /// @notice Registrations, moves to another operator, and revocations that went through.
    uint256 public registrations;
    uint256 public disruptions;
    /// @notice Calls that must fail and went through: a revocation by an account without the role or of an unknown
    /// key, a registration of a revoked key.
    uint256 public forbiddenAccepted;
    uint256 public wrongError;
    bytes public lastWrongError;

    constructor(TeeVerifier tee_, bytes32 measurement_, address[] memory operators_, uint256 firstKey) {
        (tee, measurement, operators) = (tee_, measurement_, operators_);
        attestor = address(uint160(uint256(keccak256("attestor"))));
        vm.label(attestor, "attestor");
        for (uint256 i; i < KEYS; ++i) {
            _keys.push(firstKey + i);
        }
    }

    /* ACTIONS */

    /// @notice The attestor registers a key to a TEE operator (renewing it, or moving it from another operator,
    /// which disrupts that one); a revoked key can never come back.
    function attest(uint256 keySeed, uint256 operatorSeed) external {
        address signer = vm.addr(_keys[keySeed % KEYS]);
        address operator = operators[operatorSeed % operators.length];
        Key storage key = _ghost[signer];
        uint64 expiresAt = uint64(block.timestamp) + TTL;
        vm.prank(attestor);
        try tee.registerEnclave(signer, operator, measurement, expiresAt) {
            if (key.revoked) ++forbiddenAccepted;
            if (key.operator != address(0) && key.operator != operator) _disrupt(key.operator);
            (key.operator, key.expiresAt) = (operator, expiresAt);
            ++registrations;
        } catch (bytes memory err) {
            _expect(
                err,
                key.revoked
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer)
                    : bytes("")
            );
        }
    }

    /// @notice The attestor revokes a key for good (disrupting its operator), or an outsider tries to and fails.
    function revoke(uint256 keySeed, uint256 callerSeed) external {
        address signer = vm.addr(_keys[_registeredFirst(keySeed)]);
        Key storage key = _ghost[signer];
        bool outsider = callerSeed % 4 == 0;
        address caller = outsider ? address(uint160(uint256(keccak256(abi.encode("outsider", callerSeed))))) : attestor;
        vm.prank(caller);
        try tee.revokeEnclave(signer) {
            if (outsider || key.operator == address(0)) ++forbiddenAccepted;
            key.revoked = true;
            _disrupt(key.operator);
        } catch (bytes memory err) {
            bytes memory expected = outsider
                ? abi.encodeWithSelector(
                    IAccessControl.AccessControlUnauthorizedAccount.selector, caller, tee.ATTESTOR_ROLE()
                )
                : key.operator == address(0)
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierUnknownEnclave.selector, signer)
                    : abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer);
            _expect(err, expected);
        }
    }

    /// @notice The attestor disrupts `operator` while it holds a claimed job: it revokes one of its live keys, or
    /// moves it to the other operator. Called by the protocol handler, so disruptions hit nodes in mid-job.
    function disrupt(address operator, uint256 seed) external {
        (bool found, uint256 privateKey) = liveKeyOf(operator);
        if (!found) return;
        address signer = vm.addr(privateKey);
        Key storage key = _ghost[signer];
        vm.startPrank(attestor);
        if (seed % 2 == 0) {
            tee.revokeEnclave(signer);
            key.revoked = true;
        } else {
            address other = operators[0] == operator ? operators[1] : operators[0];
            key.expiresAt = uint64(block.timestamp) + TTL;
            tee.registerEnclave(signer, other, measurement, key.expiresAt);
            key.operator = other;
        }
        vm.stopPrank();
        _disrupt(operator);
    }

    /* FOR THE PROTOCOL HANDLER */

    /// @notice A key that signs valid results for `node` now, if it holds one.
    function liveKeyOf(address node) public view returns (bool found, uint256 privateKey) {
        for (uint256 i; i < KEYS; ++i) {
            Key memory key = _ghost[vm.addr(_keys[i])];
            if (key.operator == node && !key.revoked && block.timestamp < key.expiresAt) return (true, _keys[i]);
        }
    }

    /// @notice Some key of the pool, live or not.
    function keyAt(uint256 seed) external view returns (uint256) {
        return _keys[seed % KEYS];
    }

    /// @notice The error the verifier must give for `node`'s result signed by `privateKey` (empty if it must pass).
    function refusal(uint256 privateKey, address node) external view returns (bytes memory) {
        address signer = vm.addr(privateKey);
        Key memory key = _ghost[signer];
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
        return "";
    }

    /// @notice Whether the attestor disrupted `node` between its claim and the deadline it missed (both included):
    /// its claimed TEE job is excused. A disruption after the deadline excuses nothing.
    function excused(address node, uint64 claimedAt, uint64 deadline) external view returns (bool) {
        uint64[] storage times = _disruptions[node];
        for (uint256 i; i < times.length; ++i) {
            if (times[i] >= claimedAt && times[i] <= deadline) return true;
        }
        return false;
    }

    /// @notice When the attestor last disrupted `operator` (zero if never).
    function disruptedAt(address operator) external view returns (uint64) {
        uint64[] storage times = _disruptions[operator];
        return times.length == 0 ? 0 : times[times.length - 1];
    }

    /// @dev Mostly a key some operator holds (unknown keys only one time in four), so revocations disrupt someone.
    function _registeredFirst(uint256 seed) internal view returns (uint256) {
        if (seed % 4 == 0) return (seed >> 2) % KEYS;
        for (uint256 i; i < KEYS; ++i) {
            uint256 j = ((seed >> 2) + i) % KEYS;
            if (_ghost[vm.addr(_keys[j])].operator != address(0)) return j;
        }
        return (seed >> 2) % KEYS;
    }

    function _disrupt(address operator) internal {
        _disruptions[operator].push(uint64(block.timestamp));
        ++disruptions;
    }

    /// @dev A registration must not fail for any other reason than a revoked key (an empty `expected`).
    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) {
            ++wrongError;
            lastWrongError = err;
        }
    }
}
