// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "./Vm.sol";

/// @title Test
/// @notice Our minimal base for forge tests: the cheatcode handle, bounded inputs, assertions that revert with a
/// message, and the target lists forge reads to drive an invariant suite through its handlers.
abstract contract Test {
    /// @notice A contract and the functions of it the invariant fuzzer may call (the ABI forge expects).
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;

    /* FORGE HOOKS */

    /// @notice Read by forge: the only contracts the invariant fuzzer calls.
    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    /// @notice Read by forge: the only functions the invariant fuzzer calls.
    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function _target(address target, bytes4[] memory selectors) internal {
        _targetContracts.push(target);
        _targetSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }

    /* LOGGING */

    /// @dev forge decodes calls to this address as `console.log` and prints them with `-vv`.
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function _log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok; // nothing to do on failure: logging is best effort
    }

    /* ASSERTIONS */

    function _assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat(what, ": ", _str(a), " != ", _str(b)));
    }

    function _assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat(what, ": ", _str(a), " > ", _str(b)));
    }

    function _assertTrue(bool ok, string memory what) internal pure {
        if (!ok) revert(what);
    }

    function _str(uint256 value) internal pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            ++digits;
        }
        bytes memory out = new bytes(digits);
        for (; value != 0; value /= 10) {
            out[--digits] = bytes1(uint8(48 + value % 10));
        }
        return string(out);
    }
}

/// @notice `x` if it lies in `[min, max]`, otherwise `x` wrapped into that range, so that handlers never discard
/// or revert a call and fixed test inputs keep their meaning.
function clamp(uint256 x, uint256 min, uint256 max) pure returns (uint256) {
    if (min >= max) return min;
    if (x >= min && x <= max) return x;
    uint256 span = max - min;
    // `span + 1` overflows only for the full uint256 range, where `x` already fits.
    if (span == type(uint256).max) return x;
    return min + x % (span + 1);
}

/// @notice The address of the `i`-th actor playing `role` (a requester, a node, ...), the same in every handler.
function actor(string memory role, uint256 i) pure returns (address) {
    return address(uint160(uint256(keccak256(abi.encode(role, i)))));
}
