// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only ERC-20 whose `transfer` and `transferFrom` first call a target chosen beforehand (the escrow
/// or the staking contract) and record how that call ended: a stand-in for ERC-777 hooks or a hostile token.
contract ReentrantToken is ERC20 {
    /// @notice The contract the next transfer calls into.
    address public reentryTarget;
    /// @notice The calldata of that call.
    bytes public reentry;
    /// @notice Whether the next transfer re-enters (one shot).
    bool public armed;
    /// @notice Whether a re-entry was attempted, whether it succeeded, and its return or revert data.
    bool public attempted;
    /// @notice Whether the last re-entry succeeded.
    bool public reentrySucceeded;
    /// @notice The last re-entry's return or revert data.
    bytes public reentryResult;

    constructor() ERC20("Reentrant Token", "REENTER") {}

    /// @notice Mints `amount` to `to` (test faucet).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms one re-entry: the next transfer calls `target` with `data`.
    function arm(address target, bytes calldata data) external {
        (reentryTarget, reentry, armed) = (target, data, true);
    }

    /// @notice Re-enters if armed, then transfers.
    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transfer(to, value);
    }

    /// @notice Re-enters if armed, then transfers.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transferFrom(from, to, value);
    }

    function _reenter() internal {
        if (!armed) return;
        armed = false;
        attempted = true;
        // solhint-disable-next-line avoid-low-level-calls
        (reentrySucceeded, reentryResult) = reentryTarget.call(reentry);
    }
}
