// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Governance is OpenZeppelin's TimelockController, used unchanged: every governed parameter of the protocol
// changes only through it. Importing it here makes Hardhat build its artifact and TypeChain bindings.
// solhint-disable-next-line no-unused-import
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
