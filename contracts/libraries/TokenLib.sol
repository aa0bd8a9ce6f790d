// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title TokenLib
/// @notice How the escrow and the staking contract take tokens in: an optional ERC-2612 permit, then a transfer
/// whose arrival is measured, so a fee-on-transfer token cannot open a hole in their books.
library TokenLib {
    using SafeERC20 for IERC20;

    /// @notice Tries `owner`'s permit of `value` to the caller; a failure is ignored. A permit front-run by someone
    /// else leaves the allowance in place, so the transfer that follows decides.
    function tryPermit(IERC20 token, address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        internal
    {
        // solhint-disable-next-line no-empty-blocks
        try IERC20Permit(address(token)).permit(owner, address(this), value, deadline, v, r, s) {} catch {}
    }

    /// @notice Transfers `amount` from `from` to this contract and returns how much arrived (the caller reverts
    /// with its own error when that is not `amount`).
    function pull(IERC20 token, address from, uint256 amount) internal returns (uint256 received) {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        received = token.balanceOf(address(this)) - before;
    }
}
