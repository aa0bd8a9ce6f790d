// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title RebasingToken
/// @notice Test-only ERC-20 whose balances are shares scaled by a global index that anyone can change, as
/// stETH-like tokens do on rebase. Transfers move `amount * ONE / index` shares, rounded down.
contract RebasingToken is ERC20 {
    /// @notice The index at which one share is worth one token.
    uint256 public constant ONE = 1e18;
    /// @notice Tokens per share, scaled by `ONE`.
    uint256 public index = ONE;

    constructor() ERC20("Rebasing Token", "REBASE") {}

    /// @notice Mints `amount` tokens at the current index to `to` (test faucet).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Scales every balance by `newIndex / ONE`.
    function rebase(uint256 newIndex) external {
        index = newIndex;
    }

    /// @notice The account's shares at the current index.
    function balanceOf(address account) public view override returns (uint256) {
        return super.balanceOf(account) * index / ONE;
    }

    /// @notice All shares at the current index.
    function totalSupply() public view override returns (uint256) {
        return super.totalSupply() * index / ONE;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value * ONE / index);
    }
}
