// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestToken
/// @notice Development-only payment and staking token with ERC-2612 permit and an open faucet.
/// @dev Warning: anyone can mint. Never use it outside local and test networks.
contract TestToken is ERC20, ERC20Permit {
    constructor() ERC20("Inference Test Token", "INFT") ERC20Permit("Inference Test Token") {}

    /// @notice Mints `amount` to `to`. Open to everyone: this is a development faucet.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
