// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {TeeVerifierHarness} from "../utils/TeeVerifierHarness.sol";
import {Vm} from "../utils/Vm.sol";

/// @title EnclaveHandler
/// @notice The TEE side of the world: a pool of enclave keys run by the TEE operators, who register them (as with a
/// verified quote, through the harness) and try to take each other's, which must fail; and governance (the timelock,
/// holding `DEFAULT_ADMIN_ROLE`) revoking them at random times; outsiders that try to revoke must fail. Ghosts
/// record, independently of the verifier, who holds each key and every time each operator was disrupted: a
/// disruption between a node's claim and the deadline it missed excuses it.
contract EnclaveHandler {
    /// @notice A key's holder, expiry and revocation, as registrations and revocations left them.
    struct Key {
        address operator;
        uint64 expiresAt;
        bool revoked;
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant KEYS = 6;

    TeeVerifierHarness public immutable tee;
    bytes32 public immutable measurement;
    /// @notice The verifier's admin: revocations are governance's.
    address public immutable governor;

    uint256[] internal _keys;
    address[] public operators;
    mapping(address signer => Key) internal _ghost;
    /// @notice Every time governance revoked a key of each operator, in order.
    mapping(address operator => uint64[]) internal _disruptions;

    /// @notice Registrations (renewals included) and revocations that went through.
    uint256 public registrations;
    uint256 public disruptions;
    /// @notice Registrations refused because the key is another operator's (a key never moves).
    uint256 public takeoversRefused;
    /// @notice Calls that must fail and went through: a revocation by an account without the role or of an unknown
    /// key, a registration of a revoked key or of another operator's key.
    uint256 public forbiddenAccepted;
    uint256 public wrongError;
    bytes public lastWrongError;

    constructor(
        TeeVerifierHarness tee_,
        bytes32 measurement_,
        address[] memory operators_,
        uint256 firstKey,
        address governor_
    ) {
        (tee, measurement, operators, governor) = (tee_, measurement_, operators_, governor_);
        for (uint256 i; i < KEYS; ++i) {
            _keys.push(firstKey + i);
        }
    }

    /* ACTIONS */

    /// @notice A TEE operator registers a key (or renews its own) for the verifier's `maxEnclaveAge`; a key that is
    /// another operator's, or revoked, is refused.
    function attest(uint256 keySeed, uint256 operatorSeed) external {
        address signer = vm.addr(_keys[keySeed % KEYS]);
        address operator = operators[operatorSeed % operators.length];
        Key storage key = _ghost[signer];
        bool taken = key.operator != address(0) && key.operator != operator;
        uint64 age = tee.parameters().maxEnclaveAge; // as by quote; read before the prank, which the next call takes
        vm.prank(operator);
        try tee.registerVerified(signer, keccak256(abi.encode("hpke", signer)), measurement, age) returns (
            uint64 expiresAt
        ) {
            if (key.revoked || taken) ++forbiddenAccepted;
            (key.operator, key.expiresAt) = (operator, expiresAt);
            ++registrations;
        } catch (bytes memory err) {
            _expect(
                err,
                key.revoked
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer)
                    : taken
                        ? abi.encodeWithSelector(
                            ITeeVerifier.TeeVerifierOperatorMismatch.selector, signer, key.operator, operator
                        )
                        : bytes("")
            );
            if (taken && !key.revoked) ++takeoversRefused;
        }
    }

    /// @notice Governance revokes a key for good (disrupting its operator), or an outsider tries to and fails.
    function revoke(uint256 keySeed, uint256 callerSeed) external {
        address signer = vm.addr(_keys[_registeredFirst(keySeed)]);
        Key storage key = _ghost[signer];
        bool outsider = callerSeed % 4 == 0;
        address caller = outsider ? address(uint160(uint256(keccak256(abi.encode("outsider", callerSeed))))) : governor;
        vm.prank(caller);
        try tee.revokeEnclave(signer) {
            if (outsider || key.operator == address(0) || key.revoked) ++forbiddenAccepted;
            key.revoked = true;
            _disrupt(key.operator);
        } catch (bytes memory err) {
            bytes memory expected = outsider
                ? abi.encodeWithSelector(
                    IAccessControl.AccessControlUnauthorizedAccount.selector, caller, tee.DEFAULT_ADMIN_ROLE()
                )
                : key.operator == address(0)
                    ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierUnknownEnclave.selector, signer)
                    : abi.encodeWithSelector(ITeeVerifier.TeeVerifierEnclaveRevoked.selector, signer);
            _expect(err, expected);
        }
    }

    /// @notice Governance revokes a live key of `operator` while it holds a claimed job. Called by the protocol
    /// handler, so disruptions hit nodes in mid-job.
    function disrupt(address operator) external {
        (bool found, uint256 privateKey) = liveKeyOf(operator);
        if (!found) return;
        address signer = vm.addr(privateKey);
        vm.prank(governor);
        tee.revokeEnclave(signer);
        _ghost[signer].revoked = true;
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

    /// @notice Whether governance disrupted `node` between its claim and the deadline it missed (both included):
    /// its claimed TEE job is excused. A disruption after the deadline excuses nothing.
    function excused(address node, uint64 claimedAt, uint64 deadline) external view returns (bool) {
        uint64[] storage times = _disruptions[node];
        for (uint256 i; i < times.length; ++i) {
            if (times[i] >= claimedAt && times[i] <= deadline) return true;
        }
        return false;
    }

    /// @notice When governance last disrupted `operator` (zero if never).
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

    /// @dev `expected` empty: the call had to go through, so any error is wrong.
    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) {
            ++wrongError;
            lastWrongError = err;
        }
    }
}
